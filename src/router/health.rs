//! `GET /health`: the experiment, the config version and each arm, for operators and probes.

use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::request::Response;
use super::respond::json_response;
use crate::config::Config;

/// The health answer of a config.
pub(crate) fn health(cfg: &Config) -> Response {
    let arms: Vec<_> = cfg
        .arms()
        .iter()
        .map(|a| {
            json!({
                "name": a.name(),
                "endpoint": a.endpoint(),
                "weight": a.weight(),
                "target_variant": a.target_variant(),
            })
        })
        .collect();
    let body = json!({
        "status": "ok",
        "experiment": cfg.experiment(),
        "config_version": cfg.version(),
        "arms": arms,
        "fallback": cfg.fallback().and_then(|f| cfg.arm(f)).map(|a| a.name()),
    });
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

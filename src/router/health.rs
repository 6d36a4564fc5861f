//! `GET /health`: the experiment, the version and split in force, each arm, and the schedule
//! step in force and the next one, for operators and probes.

use std::time::SystemTime;

use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::request::Response;
use super::respond::json_response;
use crate::config::{Config, Phase, Target};

fn target_of<'a>(target: Option<&'a Target>, key: &str) -> Option<&'a str> {
    target.filter(|t| t.key() == key).map(Target::name)
}

/// The health answer of a config at `now`.
pub(crate) fn health(cfg: &Config, now: SystemTime) -> Response {
    let (phase, next) = cfg.phases_around(now);
    let arms: Vec<_> = cfg
        .arms()
        .iter()
        .zip(phase.weights())
        .map(|(a, weight)| {
            json!({
                "name": a.name(),
                "endpoint": a.endpoint(),
                "weight": weight,
                "target_variant": a.target_variant(),
                "inference_component": target_of(a.target(), "inference_component"),
                "target_model": target_of(a.target(), "target_model"),
                "target_container_hostname": target_of(a.target(), "target_container_hostname"),
            })
        })
        .collect();
    let step = |p: &Phase| -> Value {
        match p.at_text() {
            Some(at) => json!({"version": p.version(), "at": at}),
            None => Value::Null,
        }
    };
    let body = json!({
        "status": "ok",
        "experiment": cfg.experiment(),
        "config_version": phase.version(),
        "arms": arms,
        "fallback": cfg.fallback().and_then(|f| cfg.arm(f)).map(|a| a.name()),
        "step": step(phase),
        "next_step": next.map_or(Value::Null, step),
    });
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

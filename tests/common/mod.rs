//! Shared helpers for the integration tests: a fake SageMaker behind the `Invoker` trait and
//! the fixture config from `events/env.json`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use canary_router::config::{Config, Target};
use canary_router::error::ErrorKind;
use canary_router::identity::CookieKeys;
use canary_router::record::MemorySink;
use canary_router::router::Router;
use canary_router::sagemaker::{Invocation, InvokeError, Invoker, ModelAnswer};
use serde_json::Value;

/// One call the fake endpoint received.
#[derive(Debug, Clone)]
pub struct Call {
    pub endpoint: String,
    pub target_variant: Option<String>,
    pub target: Option<Target>,
    pub body: Bytes,
    pub content_type: String,
    pub accept: Option<String>,
    pub inference_id: String,
    pub custom_attributes: String,
}

/// A canned answer: body and content type.
pub type Canned = (Bytes, Option<String>);

/// A fake SageMaker: answers a fixed probability vector, or the configured error per endpoint.
#[derive(Clone, Default)]
pub struct FakeSageMaker {
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub failures: Arc<Mutex<HashMap<String, ErrorKind>>>,
    pub answers: Arc<Mutex<HashMap<String, Canned>>>,
}

impl FakeSageMaker {
    pub fn fail(&self, endpoint: &str, kind: ErrorKind) {
        self.failures
            .lock()
            .unwrap()
            .insert(endpoint.to_owned(), kind);
    }

    pub fn answer(&self, endpoint: &str, body: &[u8], content_type: Option<&str>) {
        self.answers.lock().unwrap().insert(
            endpoint.to_owned(),
            (
                Bytes::copy_from_slice(body),
                content_type.map(str::to_owned),
            ),
        );
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Invoker for FakeSageMaker {
    async fn invoke(&self, call: Invocation<'_>) -> Result<ModelAnswer, InvokeError> {
        self.calls.lock().unwrap().push(Call {
            endpoint: call.endpoint.to_owned(),
            target_variant: call.target.and_then(|t| match t {
                Target::Variant(v) => Some(v.clone()),
                _ => None,
            }),
            target: call.target.cloned(),
            body: call.body.clone(),
            content_type: call.content_type.to_owned(),
            accept: call.accept.map(str::to_owned),
            inference_id: call.inference_id.to_owned(),
            custom_attributes: call.custom_attributes.to_owned(),
        });
        if let Some(kind) = self.failures.lock().unwrap().get(call.endpoint) {
            return Err(InvokeError {
                kind: *kind,
                code: Some("Injected".into()),
                message: format!("injected {kind}"),
            });
        }
        let custom = self.answers.lock().unwrap().get(call.endpoint).cloned();
        let (body, content_type) = custom.unwrap_or_else(|| {
            (
                Bytes::from_static(br#"{"label":"setosa","probabilities":[0.8,0.15,0.05]}"#),
                Some("application/json".to_owned()),
            )
        });
        Ok(ModelAnswer {
            body,
            content_type,
            invoked_variant: Some(format!("{}-AllTraffic", call.endpoint)),
        })
    }
}

/// The fixture environment of `events/env.json`.
pub fn fixture_env() -> HashMap<String, String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/events/env.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["CanaryRouterFunction"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

pub fn fixture_config() -> Config {
    Config::parse(&fixture_env()["CANARY_CONFIG"]).unwrap()
}

pub fn fixture_keys() -> CookieKeys {
    CookieKeys::from_base64(&fixture_env()["CANARY_COOKIE_KEY"], None).unwrap()
}

pub type TestRouter = Router<FakeSageMaker, MemorySink>;

pub fn router_with(config: Config, keys: CookieKeys) -> (TestRouter, FakeSageMaker, MemorySink) {
    let fake = FakeSageMaker::default();
    let sink = MemorySink::default();
    (
        Router::new(config, keys, fake.clone(), sink.clone()),
        fake,
        sink,
    )
}

pub fn fixture_router() -> (TestRouter, FakeSageMaker, MemorySink) {
    router_with(fixture_config(), fixture_keys())
}

/// Builds a config from JSON text, panicking with the config error.
pub fn config(json: Value) -> Config {
    Config::parse(&json.to_string()).unwrap_or_else(|e| panic!("{e}"))
}
pub mod process;

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
use canary_router::sagemaker::{Invocation, InvokeError, Invoker, ModelAnswer, ModelStream};
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

/// One step of a fake stream.
#[derive(Debug, Clone)]
pub enum Step {
    /// A payload part.
    Part(&'static [u8]),
    /// A wait before the next step.
    Wait(u64),
    /// A mid-stream error (ends the stream).
    Fail(ErrorKind),
}

/// A fake SageMaker: answers a fixed probability vector, or the configured error per endpoint;
/// streams the configured steps (by default three TGI-style tokens).
#[derive(Clone, Default)]
pub struct FakeSageMaker {
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub failures: Arc<Mutex<HashMap<String, ErrorKind>>>,
    pub answers: Arc<Mutex<HashMap<String, Canned>>>,
    pub streams: Arc<Mutex<HashMap<String, Vec<Step>>>>,
    /// Set when a stream's consumer went away before its end.
    pub cancelled: Arc<Mutex<Vec<String>>>,
    /// Milliseconds an endpoint waits before answering.
    pub delays: Arc<Mutex<HashMap<String, u64>>>,
}

/// The default stream: three TGI tokens, split across parts mid-line.
pub const TGI_PARTS: [&[u8]; 3] = [
    b"data: {\"token\": {\"text\": \"a\"}}\n\ndata: {\"tok",
    b"en\": {\"text\": \"b\"}}\n\n",
    b"data: {\"token\": {\"text\": \"c\"}, \"details\": {\"finish_reason\": \"length\", \"generated_tokens\": 3}}\n\n",
];

impl FakeSageMaker {
    pub fn fail(&self, endpoint: &str, kind: ErrorKind) {
        self.failures
            .lock()
            .unwrap()
            .insert(endpoint.to_owned(), kind);
    }

    /// Makes `endpoint` answer again after a [`FakeSageMaker::fail`].
    pub fn heal(&self, endpoint: &str) {
        self.failures.lock().unwrap().remove(endpoint);
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

    pub fn delay(&self, endpoint: &str, ms: u64) {
        self.delays.lock().unwrap().insert(endpoint.to_owned(), ms);
    }

    pub fn stream(&self, endpoint: &str, steps: Vec<Step>) {
        self.streams
            .lock()
            .unwrap()
            .insert(endpoint.to_owned(), steps);
    }

    fn record(&self, call: &Invocation<'_>) {
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
    }
}

impl Invoker for FakeSageMaker {
    async fn invoke_stream(&self, call: Invocation<'_>) -> Result<ModelStream, InvokeError> {
        self.record(&call);
        if let Some(kind) = self.failures.lock().unwrap().get(call.endpoint) {
            return Err(InvokeError {
                kind: *kind,
                code: Some("Injected".into()),
                message: format!("injected {kind}"),
            });
        }
        let steps = self
            .streams
            .lock()
            .unwrap()
            .get(call.endpoint)
            .cloned()
            .unwrap_or_else(|| TGI_PARTS.iter().map(|p| Step::Part(p)).collect());
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let cancelled = Arc::clone(&self.cancelled);
        let endpoint = call.endpoint.to_owned();
        tokio::spawn(async move {
            for step in steps {
                let item = match step {
                    Step::Part(p) => Ok(Bytes::from_static(p)),
                    Step::Wait(ms) => {
                        tokio::select! {
                            () = tokio::time::sleep(std::time::Duration::from_millis(ms)) => continue,
                            () = tx.closed() => {
                                cancelled.lock().unwrap().push(endpoint);
                                return;
                            }
                        }
                    }
                    Step::Fail(kind) => Err(InvokeError {
                        kind,
                        code: Some("ModelStreamError".into()),
                        message: format!("injected mid-stream {kind}"),
                    }),
                };
                if tx.send(item).await.is_err() {
                    cancelled.lock().unwrap().push(endpoint);
                    return;
                }
            }
        });
        Ok(ModelStream {
            content_type: Some("text/event-stream".into()),
            invoked_variant: Some(format!("{}-AllTraffic", call.endpoint)),
            parts: rx,
        })
    }

    async fn invoke(&self, call: Invocation<'_>) -> Result<ModelAnswer, InvokeError> {
        self.record(&call);
        let delay = self.delays.lock().unwrap().get(call.endpoint).copied();
        if let Some(ms) = delay {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
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
pub mod runtime_api;

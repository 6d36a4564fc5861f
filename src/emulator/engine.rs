//! The emulator's core: endpoints of weighted variants, the models behind them, seeded fault
//! injection, and InvokeEndpoint's validation, independent of HTTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use super::appconfig::AppConfigStore;
use super::container::{self, Container, HttpClient};
use super::iris::{self, LogReg};
use super::models::{self, Faults, ModelSpec, ModelsError, ModelsFile, is_valid_name};
use super::rng::SplitMix;
use super::streaming::{self, Source};
use super::targets::{self, Requested, TargetKind};
use super::tokens::TokenModel;
use super::wire::{self, ACCOUNT_ID, ErrorCode, MAX_PAYLOAD_BYTES, ServiceError};

/// The 150 Iris rows with the index of their true species in `IRIS_LABELS`, so that a demo
/// can send real samples and score the answers.
pub fn iris_samples() -> &'static [([f64; 4], usize)] {
    iris::samples()
}

/// One InvokeEndpoint call, as the HTTP layer (or an embedding test) hands it over.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The endpoint named in the path.
    pub endpoint: String,
    /// The request body.
    pub body: Bytes,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Accept`.
    pub accept: Option<String>,
    /// `X-Amzn-SageMaker-Target-Variant`.
    pub target_variant: Option<String>,
    /// `X-Amzn-SageMaker-Custom-Attributes`, passed to the model.
    pub custom_attributes: Option<String>,
    /// `X-Amzn-SageMaker-Inference-Id`.
    pub inference_id: Option<String>,
    /// `X-Amzn-SageMaker-Inference-Component`.
    pub inference_component: Option<String>,
    /// `X-Amzn-SageMaker-Target-Model` (multi-model endpoints).
    pub target_model: Option<String>,
    /// `X-Amzn-SageMaker-Target-Container-Hostname` (multi-container endpoints).
    pub target_container_hostname: Option<String>,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationOutput {
    /// The model's answer.
    pub body: Bytes,
    /// Its content type.
    pub content_type: String,
    /// The variant that answered (`x-Amzn-Invoked-Production-Variant`).
    pub invoked_variant: String,
    /// Custom attributes the model sent back.
    pub custom_attributes: Option<String>,
}

/// The emulator: endpoints with their trained models, random streams and counters. Built once;
/// shared by every connection.
pub struct Emulator {
    models: ModelsFile,
    endpoints: BTreeMap<String, Endpoint>,
    http: Option<HttpClient>,
    request_ids: SplitMix,
    appconfig: Option<AppConfigStore>,
    /// Per endpoint: permits for `tokens` streams held at `hold_after`.
    gates: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A response stream that has started: its headers, and its frames as they come.
pub struct StreamStart {
    /// The answer's content type (`X-Amzn-SageMaker-Content-Type`).
    pub content_type: String,
    /// The variant that answers.
    pub invoked_variant: String,
    /// Custom attributes the model sent back.
    pub custom_attributes: Option<String>,
    /// Event-stream frames, ready for the wire.
    pub frames: mpsc::Receiver<Bytes>,
}

struct Endpoint {
    variants: Vec<Variant>,
    /// Inference components, multi-model or multi-container models, by name.
    hosted: Option<(TargetKind, BTreeMap<String, Variant>)>,
    total_weight: f64,
    picker: SplitMix,
}

struct Variant {
    name: String,
    weight: f64,
    model: Model,
    faults: Faults,
    rng: SplitMix,
    invocations: AtomicU64,
}

enum Model {
    Iris(Arc<LogReg>),
    Echo,
    Tokens(TokenModel),
    Container(Container),
}

/// Who answers a request: the production variant it is reported as, and the model that runs
/// (the variant's own, or the hosted model the request names).
struct Chosen<'a> {
    variant: &'a str,
    runner: &'a Variant,
}

/// What the faults decided for one request.
enum Fate {
    Answer,
    Fail,
    Hang,
}

impl Emulator {
    /// Validates the models and trains every iris model (identical settings train once).
    pub fn new(models: ModelsFile) -> Result<Emulator, ModelsError> {
        models.validate()?;
        let mut trained: HashMap<(u64, u32), Arc<LogReg>> = HashMap::new();
        let mut needs_http = false;
        let mut endpoints = BTreeMap::new();
        for (name, spec) in &models.endpoints {
            let mut build = |key: String, model: &ModelSpec| -> Result<Model, ModelsError> {
                Ok(match model {
                    ModelSpec::IrisLogreg {
                        learning_rate,
                        epochs,
                    } => Model::Iris(Arc::clone(
                        trained
                            .entry((learning_rate.to_bits(), *epochs))
                            .or_insert_with(|| Arc::new(LogReg::train(*learning_rate, *epochs))),
                    )),
                    ModelSpec::Echo => Model::Echo,
                    ModelSpec::Tokens(t) => Model::Tokens(t.clone()),
                    ModelSpec::Container { url, timeout_ms } => {
                        needs_http = true;
                        let base = models::container_base(url)
                            .map_err(|reason| ModelsError::invalid(format!("{key}.url"), reason))?;
                        Model::Container(Container {
                            base,
                            timeout: Duration::from_millis(*timeout_ms),
                        })
                    }
                })
            };
            let mut variants = Vec::with_capacity(spec.variants.len());
            for (i, v) in spec.variants.iter().enumerate() {
                let model = build(format!("endpoints.{name}.variants[{i}].model"), &v.model)?;
                variants.push(Variant {
                    name: v.name.clone(),
                    weight: v.weight,
                    model,
                    faults: v.faults.clone(),
                    rng: SplitMix::new(models.seed, &format!("faults/{name}/{}", v.name)),
                    invocations: AtomicU64::new(0),
                });
            }
            let hosted = match &spec.hosted {
                None => None,
                Some(h) => {
                    let mut by_name = BTreeMap::new();
                    for (target, m) in &h.models {
                        let key = format!("endpoints.{name}.{}.{target}.model", h.kind.key());
                        by_name.insert(
                            target.clone(),
                            Variant {
                                name: target.clone(),
                                weight: 1.0,
                                model: build(key, &m.model)?,
                                faults: m.faults.clone(),
                                rng: SplitMix::new(models.seed, &format!("faults/{name}/{target}")),
                                invocations: AtomicU64::new(0),
                            },
                        );
                    }
                    Some((h.kind, by_name))
                }
            };
            endpoints.insert(
                name.clone(),
                Endpoint {
                    total_weight: variants.iter().map(|v| v.weight).sum(),
                    variants,
                    hosted,
                    picker: SplitMix::new(models.seed, &format!("variants/{name}")),
                },
            );
        }
        Ok(Emulator {
            request_ids: SplitMix::new(models.seed, "request-ids"),
            http: needs_http.then(container::client),
            endpoints,
            models,
            appconfig: None,
            gates: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Also answers as the AppConfig extension, with the documents under `store`'s directory.
    pub fn with_appconfig(mut self, store: AppConfigStore) -> Self {
        self.appconfig = Some(store);
        self
    }

    /// The AppConfig stand-in, when there is one.
    pub fn appconfig(&self) -> Option<&AppConfigStore> {
        self.appconfig.as_ref()
    }

    /// The models it was built from.
    pub fn models(&self) -> &ModelsFile {
        &self.models
    }

    /// How many invocations reached a variant (errors and hangs included), if it exists.
    pub fn invocation_count(&self, endpoint: &str, variant: &str) -> Option<u64> {
        self.variant(endpoint, variant)
            .map(|v| v.invocations.load(Ordering::Relaxed))
    }

    /// The training-set accuracy of an iris variant's model.
    pub fn accuracy(&self, endpoint: &str, variant: &str) -> Option<f64> {
        match &self.variant(endpoint, variant)?.model {
            Model::Iris(m) => Some(m.accuracy),
            _ => None,
        }
    }

    fn variant(&self, endpoint: &str, variant: &str) -> Option<&Variant> {
        self.endpoints
            .get(endpoint)?
            .variants
            .iter()
            .find(|v| v.name == variant)
    }

    /// Endpoints, variants, models, faults, accuracies and invocation counts, as JSON (what
    /// `GET /endpoints` answers).
    pub fn describe(&self) -> Value {
        let endpoints: Vec<Value> = self
            .endpoints
            .iter()
            .map(|(name, ep)| {
                let spec = &self.models.endpoints[name];
                let variants: Vec<Value> = ep
                    .variants
                    .iter()
                    .zip(&spec.variants)
                    .map(|(v, s)| {
                        let mut d = json!({
                            "name": v.name,
                            "weight": v.weight,
                            "model": s.model,
                            "faults": s.faults,
                            "invocations": v.invocations.load(Ordering::Relaxed),
                        });
                        if let Model::Iris(m) = &v.model {
                            d["accuracy"] = json!(m.accuracy);
                        }
                        d
                    })
                    .collect();
                json!({"name": name, "variants": variants})
            })
            .collect();
        json!({"seed": self.models.seed, "endpoints": endpoints})
    }

    /// A request ID in the service's format (a UUID), from the seeded stream.
    pub fn new_request_id(&self) -> String {
        let a = self.request_ids.next_u64();
        let b = self.request_ids.next_u64();
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// InvokeEndpoint. A variant whose faults say "hang" never completes: callers see the
    /// client give up.
    pub async fn invoke(&self, inv: &Invocation) -> Result<InvocationOutput, ServiceError> {
        let chosen = self.admit(inv).await?;
        self.answer(&chosen, inv).await
    }

    /// InvokeEndpointWithResponseStream: the same checks and faults before the stream, then
    /// the frames as the model produces them.
    pub async fn invoke_stream(&self, inv: &Invocation) -> Result<StreamStart, ServiceError> {
        let chosen = self.admit(inv).await?;
        let (source, content_type, custom_attributes) = match &chosen.runner.model {
            Model::Tokens(t) => (
                Source::Tokens {
                    model: t.clone(),
                    gate: self.gate(&inv.endpoint),
                },
                t.stream_content_type().to_owned(),
                inv.custom_attributes.clone(),
            ),
            Model::Container(c) => {
                let client = self.http_client()?;
                let streamed = c
                    .invoke_stream(
                        client,
                        &inv.endpoint,
                        inv.body.clone(),
                        inv.content_type.as_deref(),
                        inv.accept.as_deref(),
                        inv.custom_attributes.as_deref(),
                    )
                    .await?;
                (
                    Source::Container(streamed.body),
                    streamed
                        .content_type
                        .unwrap_or_else(|| "application/octet-stream".to_owned()),
                    streamed.custom_attributes,
                )
            }
            _ => {
                let out = self.answer(&chosen, inv).await?;
                (
                    Source::Whole(out.body),
                    out.content_type,
                    out.custom_attributes,
                )
            }
        };
        let (tx, frames) = mpsc::channel(16);
        tokio::spawn(streaming::pump(
            source,
            chosen.runner.faults.stream_fault,
            tx,
        ));
        Ok(StreamStart {
            content_type,
            invoked_variant: chosen.variant.to_owned(),
            custom_attributes,
            frames,
        })
    }

    /// The client for container models (built only when a container model exists).
    fn http_client(&self) -> Result<&HttpClient, ServiceError> {
        self.http
            .as_ref()
            .ok_or_else(|| ServiceError::new(ErrorCode::InternalFailure, "no HTTP client"))
    }

    /// Lets one `tokens` stream of `endpoint` held at its `hold_after` go on.
    pub fn open_gate(&self, endpoint: &str) {
        self.gate(endpoint).add_permits(1);
    }

    fn gate(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            gates
                .entry(endpoint.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(0))),
        )
    }

    /// The checks, the variant and its faults before any answer. A variant whose faults say
    /// "hang" never completes: callers see the client give up.
    async fn admit(&self, inv: &Invocation) -> Result<Chosen<'_>, ServiceError> {
        check_request(inv)?;
        let ep = self
            .endpoints
            .get(&inv.endpoint)
            .ok_or_else(|| ServiceError::no_such_endpoint(&inv.endpoint))?;
        let variant = match &inv.target_variant {
            Some(t) => ep.variants.iter().find(|v| &v.name == t).ok_or_else(|| {
                let names: Vec<&str> = ep.variants.iter().map(|v| v.name.as_str()).collect();
                ServiceError::validation(format!(
                    "Target variant {t} not found for endpoint {} of account {ACCOUNT_ID} (its variants: {}).",
                    inv.endpoint,
                    names.join(", ")
                ))
            })?,
            None => ep.pick(),
        };
        let names: Vec<&str> = ep
            .hosted
            .iter()
            .flat_map(|(_, m)| m.keys().map(String::as_str))
            .collect();
        let requested = Requested {
            inference_component: inv.inference_component.as_deref(),
            target_model: inv.target_model.as_deref(),
            target_container_hostname: inv.target_container_hostname.as_deref(),
        };
        let hosted = ep.hosted.as_ref().map(|(k, _)| (*k, &names[..]));
        let runner = match targets::choose(&inv.endpoint, hosted, requested)? {
            None => variant,
            Some(name) => ep
                .hosted
                .as_ref()
                .and_then(|(_, m)| m.get(name))
                .unwrap_or(variant),
        };
        runner.invocations.fetch_add(1, Ordering::Relaxed);
        if !runner.faults.is_none() {
            match runner.fate().await {
                Fate::Answer => {}
                Fate::Fail => return Err(runner.injected_error(&inv.endpoint)),
                Fate::Hang => {
                    std::future::pending::<()>().await;
                    return Err(ServiceError::new(ErrorCode::InternalFailure, "unreachable"));
                }
            }
        }
        Ok(Chosen {
            variant: &variant.name,
            runner,
        })
    }

    async fn answer(
        &self,
        chosen: &Chosen<'_>,
        inv: &Invocation,
    ) -> Result<InvocationOutput, ServiceError> {
        let invoked_variant = chosen.variant.to_owned();
        match &chosen.runner.model {
            Model::Echo => Ok(InvocationOutput {
                body: inv.body.clone(),
                content_type: inv
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                invoked_variant,
                custom_attributes: inv.custom_attributes.clone(),
            }),
            Model::Tokens(t) => {
                let (body, content_type) = t.whole();
                Ok(InvocationOutput {
                    body,
                    content_type: content_type.to_owned(),
                    invoked_variant,
                    custom_attributes: inv.custom_attributes.clone(),
                })
            }
            Model::Iris(model) => {
                match iris::invoke(
                    model,
                    &inv.body,
                    inv.content_type.as_deref(),
                    inv.accept.as_deref(),
                ) {
                    Ok((body, content_type)) => Ok(InvocationOutput {
                        body: Bytes::from(body),
                        content_type: content_type.to_owned(),
                        invoked_variant,
                        custom_attributes: inv.custom_attributes.clone(),
                    }),
                    Err(r) => Err(ServiceError::model_error(
                        &inv.endpoint,
                        r.status,
                        &r.message,
                    )),
                }
            }
            Model::Container(c) => {
                let client = self.http_client()?;
                let a = c
                    .invoke(
                        client,
                        &inv.endpoint,
                        inv.body.clone(),
                        inv.content_type.as_deref(),
                        inv.accept.as_deref(),
                        inv.custom_attributes.as_deref(),
                    )
                    .await?;
                Ok(InvocationOutput {
                    body: a.body,
                    content_type: a
                        .content_type
                        .unwrap_or_else(|| "application/octet-stream".to_owned()),
                    invoked_variant,
                    custom_attributes: a.custom_attributes,
                })
            }
        }
    }

    /// Pings every container model; the unhealthy ones as `(endpoint, variant, url)`.
    pub async fn unhealthy_containers(&self, timeout: Duration) -> Vec<(String, String, String)> {
        let mut bad = Vec::new();
        let Some(client) = &self.http else {
            return bad;
        };
        for (name, ep) in &self.endpoints {
            for v in &ep.variants {
                if let Model::Container(c) = &v.model
                    && !c.ping(client, timeout).await
                {
                    bad.push((name.clone(), v.name.clone(), c.base.clone()));
                }
            }
        }
        bad
    }
}

impl Endpoint {
    /// A variant at random by weight, as SageMaker splits traffic without a target variant.
    fn pick(&self) -> &Variant {
        if self.variants.len() == 1 {
            return &self.variants[0];
        }
        let r = self.picker.next_f64() * self.total_weight;
        let mut acc = 0.0;
        for v in &self.variants {
            acc += v.weight;
            if r < acc {
                return v;
            }
        }
        // Rounding at the top end: the last variant that has any weight.
        self.variants
            .iter()
            .rev()
            .find(|v| v.weight > 0.0)
            .unwrap_or(&self.variants[0])
    }
}

impl Variant {
    /// Draws this request's fate (always two draws, so streams stay aligned), then sleeps the
    /// injected latency unless the request is to hang.
    async fn fate(&self) -> Fate {
        let u = self.rng.next_f64();
        let j = self.rng.next_f64();
        let f = &self.faults;
        let fate = if u < f.hang_rate {
            Fate::Hang
        } else if u < f.hang_rate + f.error_rate {
            Fate::Fail
        } else {
            Fate::Answer
        };
        if !matches!(fate, Fate::Hang) {
            let ms = f.latency_ms + j * f.jitter_ms;
            if ms > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
            }
        }
        fate
    }

    fn injected_error(&self, endpoint: &str) -> ServiceError {
        let code = self.faults.error;
        if code == ErrorCode::ModelError {
            ServiceError::model_error(
                endpoint,
                self.faults.original_status_code,
                &format!("fault injected on variant {}", self.name),
            )
        } else {
            ServiceError::new(code, code.default_message(endpoint, &self.name))
        }
    }
}

/// The API model's constraints on InvokeEndpoint's parameters, checked as the service does
/// before it looks the endpoint up.
fn check_request(inv: &Invocation) -> Result<(), ServiceError> {
    const NAME_PATTERN: &str =
        "Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*";
    if inv.endpoint.len() > 63 {
        return Err(wire::constraint_violation(
            &inv.endpoint,
            "endpointName",
            "Member must have length less than or equal to 63",
        ));
    }
    if !is_valid_name(&inv.endpoint) {
        return Err(wire::constraint_violation(
            &inv.endpoint,
            "endpointName",
            NAME_PATTERN,
        ));
    }
    if let Some(t) = &inv.target_variant {
        if t.len() > 63 {
            return Err(wire::constraint_violation(
                t,
                "targetVariant",
                "Member must have length less than or equal to 63",
            ));
        }
        if !is_valid_name(t) {
            return Err(wire::constraint_violation(t, "targetVariant", NAME_PATTERN));
        }
    }
    if let Some(c) = &inv.custom_attributes
        && (c.len() > 1024 || !c.is_ascii())
    {
        return Err(wire::constraint_violation(
            "*** Sensitive Data Redacted ***",
            "customAttributes",
            "Member must have length less than or equal to 1024 and consist of US-ASCII characters",
        ));
    }
    if let Some(id) = &inv.inference_id {
        let ok = !id.is_empty()
            && id.len() <= 64
            && !id.starts_with(char::is_whitespace)
            && id.chars().all(|c| !c.is_control());
        if !ok {
            return Err(wire::constraint_violation(
                id,
                "inferenceId",
                "Member must have length between 1 and 64 and satisfy regular expression pattern: \\A\\S[\\p{Print}]*\\z",
            ));
        }
    }
    if inv.body.len() > MAX_PAYLOAD_BYTES {
        return Err(ServiceError::validation(format!(
            "Request payload of {} bytes is larger than the InvokeEndpoint limit of {MAX_PAYLOAD_BYTES} bytes.",
            inv.body.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::{demo_models, parse_models};

    fn emulator(text: &str) -> Emulator {
        Emulator::new(parse_models(text).unwrap()).unwrap()
    }

    fn call(endpoint: &str, body: &str) -> Invocation {
        Invocation {
            endpoint: endpoint.to_owned(),
            body: Bytes::from(body.to_owned()),
            content_type: Some("application/json".to_owned()),
            ..Invocation::default()
        }
    }

    #[tokio::test]
    async fn demo_iris_models_differ_in_accuracy() {
        let e = Emulator::new(demo_models()).unwrap();
        let a = e.accuracy("iris-a", "AllTraffic").unwrap();
        let b = e.accuracy("iris-b", "AllTraffic").unwrap();
        assert!(b - a > 0.1, "iris-a {a}, iris-b {b}");
        assert_eq!(e.accuracy("iris-ab", "VariantA"), Some(a));
        assert_eq!(e.accuracy("iris-ab", "VariantB"), Some(b));
        let out = e
            .invoke(&call("iris-b", r#"{"features": [5.1, 3.5, 1.4, 0.2]}"#))
            .await
            .unwrap();
        assert_eq!(out.invoked_variant, "AllTraffic");
        assert_eq!(out.content_type, "application/json");
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["label"], "setosa");
    }

    #[tokio::test]
    async fn echo_answers_body_type_and_attributes() {
        let e = Emulator::new(demo_models()).unwrap();
        let mut inv = call("echo", "a,b\n");
        inv.content_type = Some("text/csv".into());
        inv.custom_attributes = Some("trace=1".into());
        let out = e.invoke(&inv).await.unwrap();
        assert_eq!(out.body, Bytes::from("a,b\n"));
        assert_eq!(out.content_type, "text/csv");
        assert_eq!(out.custom_attributes.as_deref(), Some("trace=1"));
    }

    #[tokio::test]
    async fn unknown_endpoint_and_variant_are_validation_errors() {
        let e = Emulator::new(demo_models()).unwrap();
        let err = e.invoke(&call("nope", "{}")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert_eq!(
            err.message,
            "Endpoint nope of account 123456789012 not found."
        );
        let mut inv = call("iris-ab", "{}");
        inv.target_variant = Some("VariantC".into());
        let err = e.invoke(&inv).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(err.message.contains("VariantC"), "{}", err.message);
        for bad in ["bad_name", "", "-x"] {
            let err = e.invoke(&call(bad, "{}")).await.unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationError);
            assert!(
                err.message.starts_with("1 validation error detected"),
                "{}",
                err.message
            );
        }
        let mut inv = call("echo", "{}");
        inv.inference_id = Some(" x".into());
        assert_eq!(
            e.invoke(&inv).await.unwrap_err().code,
            ErrorCode::ValidationError
        );
        let mut inv = call("echo", "{}");
        inv.custom_attributes = Some("x".repeat(1025));
        assert_eq!(
            e.invoke(&inv).await.unwrap_err().code,
            ErrorCode::ValidationError
        );
    }

    #[tokio::test]
    async fn bad_iris_input_is_model_error_400() {
        let e = Emulator::new(demo_models()).unwrap();
        let err = e.invoke(&call("iris-a", "{not json")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::ModelError);
        let m = err.model.unwrap();
        assert_eq!(m.original_status_code, 400);
        assert!(
            m.original_message.starts_with("invalid JSON"),
            "{}",
            m.original_message
        );
    }

    #[tokio::test]
    async fn target_variant_is_honoured() {
        let e = Emulator::new(demo_models()).unwrap();
        for _ in 0..20 {
            let mut inv = call("iris-ab", r#"{"features": [5.1, 3.5, 1.4, 0.2]}"#);
            inv.target_variant = Some("VariantB".into());
            assert_eq!(e.invoke(&inv).await.unwrap().invoked_variant, "VariantB");
        }
        assert_eq!(e.invocation_count("iris-ab", "VariantB"), Some(20));
        assert_eq!(e.invocation_count("iris-ab", "VariantA"), Some(0));
    }

    #[tokio::test]
    async fn random_split_follows_weights_and_the_seed() {
        async fn split(seed: u64) -> Vec<String> {
            let mut m = demo_models();
            m.seed = seed;
            let e = Emulator::new(m).unwrap();
            let mut seen = Vec::new();
            for _ in 0..2000 {
                let out = e
                    .invoke(&call("iris-ab", r#"{"features": [5.1, 3.5, 1.4, 0.2]}"#))
                    .await
                    .unwrap();
                seen.push(out.invoked_variant);
            }
            seen
        }
        let a = split(1).await;
        assert_eq!(a, split(1).await, "same seed, same picks");
        assert_ne!(a, split(2).await);
        let b = a.iter().filter(|v| *v == "VariantB").count();
        assert!(
            (140..260).contains(&b),
            "VariantB got {b} of 2000 at weight 0.1"
        );
    }

    #[tokio::test]
    async fn zero_weight_variant_only_by_target() {
        let e = emulator(
            r#"{"endpoints": {"e": {"variants": [
                {"name": "a", "weight": 0, "model": {"type": "echo"}},
                {"name": "b", "weight": 1, "model": {"type": "echo"}},
                {"name": "c", "weight": 0, "model": {"type": "echo"}}]}}}"#,
        );
        for _ in 0..200 {
            assert_eq!(
                e.invoke(&call("e", "x")).await.unwrap().invoked_variant,
                "b"
            );
        }
        let mut inv = call("e", "x");
        inv.target_variant = Some("c".into());
        assert_eq!(e.invoke(&inv).await.unwrap().invoked_variant, "c");
    }

    #[tokio::test]
    async fn faults_are_deterministic_under_the_seed() {
        let text = r#"{"seed": 7, "endpoints": {"f": {"variants": [{"name": "v", "model": {"type": "echo"},
            "faults": {"error_rate": 0.3, "error": "ThrottlingException"}}]}}}"#;
        async fn run(text: &str) -> Vec<bool> {
            let e = Emulator::new(parse_models(text).unwrap()).unwrap();
            let mut out = Vec::new();
            for _ in 0..500 {
                match e.invoke(&call("f", "x")).await {
                    Ok(_) => out.push(true),
                    Err(err) => {
                        assert_eq!(err.code, ErrorCode::ThrottlingException);
                        out.push(false);
                    }
                }
            }
            out
        }
        let a = run(text).await;
        assert_eq!(a, run(text).await);
        let failures = a.iter().filter(|ok| !**ok).count();
        assert!((110..190).contains(&failures), "{failures} of 500 at 0.3");
    }

    #[tokio::test]
    async fn every_error_kind_can_be_injected() {
        for code in ErrorCode::ALL {
            let e = emulator(&format!(
                r#"{{"endpoints": {{"f": {{"variants": [{{"name": "v", "model": {{"type": "echo"}},
                "faults": {{"error_rate": 1, "error": "{code}"}}}}]}}}}}}"#
            ));
            let err = e.invoke(&call("f", "x")).await.unwrap_err();
            assert_eq!(err.code, code);
            assert_eq!(err.model.is_some(), code == ErrorCode::ModelError);
        }
    }

    #[tokio::test]
    async fn latency_and_hang() {
        let e = emulator(
            r#"{"endpoints": {
                "slow": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"latency_ms": 30, "jitter_ms": 10}}]},
                "hang": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"hang_rate": 1}}]}}}"#,
        );
        let t = std::time::Instant::now();
        e.invoke(&call("slow", "x")).await.unwrap();
        let ms = t.elapsed().as_millis();
        assert!((30..500).contains(&ms), "{ms} ms");
        let hung =
            tokio::time::timeout(Duration::from_millis(100), e.invoke(&call("hang", "x"))).await;
        assert!(hung.is_err(), "a hang never answers");
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let e = Emulator::new(demo_models()).unwrap();
        let id = e.new_request_id();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, e.new_request_id());
    }

    #[test]
    fn describe_lists_endpoints_and_accuracies() {
        let e = Emulator::new(demo_models()).unwrap();
        let d = e.describe();
        let names: Vec<&str> = d["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["echo", "flaky", "iris-a", "iris-ab", "iris-b"]);
        assert!(d["endpoints"][2]["variants"][0]["accuracy"].is_number());
        assert_eq!(
            d["endpoints"][2]["variants"][0]["model"]["type"],
            "iris-logreg"
        );
    }
}

//! The emulator's models file: which endpoints exist, their production variants, the model
//! behind each variant and the faults to inject. Parsed by hand from JSON so that every error
//! names its key (`endpoints.iris-a.variants[0].model.learning_rate: must be above 0`), and
//! unknown keys are refused (keys that start with `x-` are free for comments).
//!
//! ```json
//! {
//!   "seed": 1,
//!   "endpoints": {
//!     "iris-ab": {"variants": [
//!       {"name": "VariantA", "weight": 0.9,
//!        "model": {"type": "iris-logreg", "learning_rate": 0.01, "epochs": 10}},
//!       {"name": "VariantB", "weight": 0.1,
//!        "model": {"type": "iris-logreg", "learning_rate": 0.5, "epochs": 300},
//!        "faults": {"latency_ms": 5, "jitter_ms": 3, "error_rate": 0.1, "error": "ModelError"}}
//!     ]},
//!     "echo": {"variants": [{"name": "AllTraffic", "model": {"type": "echo"}}]},
//!     "mine": {"variants": [{"name": "AllTraffic",
//!       "model": {"type": "container", "url": "http://127.0.0.1:9000"}}]}
//!   }
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::keyed::Obj;
use super::targets::TargetKind;
use super::tokens::{TokenFormat, TokenModel};
use super::wire::ErrorCode;
use crate::config::error::Invalid;

/// The bundled demo models.
pub const DEMO_MODELS_JSON: &str = include_str!("demo-models.json");

/// Default iris-logreg learning rate.
pub const DEFAULT_LEARNING_RATE: f64 = 0.5;
/// Default iris-logreg epochs.
pub const DEFAULT_EPOCHS: u32 = 300;
/// Most epochs accepted: training runs at start-up and must stay fast.
pub const MAX_EPOCHS: u32 = 100_000;
/// SageMaker gives a container 60 s to answer an invocation.
pub const DEFAULT_CONTAINER_TIMEOUT_MS: u64 = 60_000;
/// Longest latency or timeout accepted (one hour).
pub const MAX_MS: f64 = 3_600_000.0;

/// Most tokens a `tokens` model generates per answer.
pub const MAX_TOKENS: u32 = 10_000_000;

/// Longest token text of a `tokens` model, in bytes.
pub const MAX_TOKEN_BYTES: u64 = 1 << 20;

/// A models file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// The file cannot be read.
    #[error("cannot read models file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A value is invalid, named by its key.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl ModelsError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ModelsError::Invalid(Invalid::new(key, reason))
    }
}

/// The whole models file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelsFile {
    /// Seeds every random choice (variant picks, faults, jitter); default 0.
    pub seed: u64,
    /// Endpoints by name.
    pub endpoints: BTreeMap<String, EndpointSpec>,
}

/// One endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointSpec {
    /// Its production variants, in order.
    pub variants: Vec<VariantSpec>,
    /// Models hosted behind it besides the variants' (inference components, a multi-model or
    /// multi-container endpoint): a request must then name one.
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub hosted: Option<Hosted>,
}

/// An endpoint's hosted models, of one kind, by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Hosted {
    /// How they are addressed.
    pub kind: TargetKind,
    /// Name → the model and its faults.
    pub models: BTreeMap<String, HostedModel>,
}

impl Serialize for Hosted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.kind.key(), &self.models)?;
        m.end()
    }
}

/// One hosted model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostedModel {
    /// The model that answers.
    pub model: ModelSpec,
    /// Its faults.
    pub faults: Faults,
}

/// One production variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSpec {
    /// The variant's name.
    pub name: String,
    /// Relative weight (SageMaker's `InitialVariantWeight`): any non-negative number; default 1.
    pub weight: f64,
    /// The model that answers.
    pub model: ModelSpec,
    /// Faults injected into its answers.
    pub faults: Faults,
}

/// The model behind a variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ModelSpec {
    /// Multinomial logistic regression trained on Iris at start-up.
    IrisLogreg {
        /// The gradient-descent step.
        learning_rate: f64,
        /// Passes over the data.
        epochs: u32,
    },
    /// Answers the request body and content type unchanged.
    Echo,
    /// A language model's stand-in that streams tokens (TGI or LMI framing).
    Tokens(TokenModel),
    /// Forwards to a server implementing the SageMaker inference-container contract.
    Container {
        /// The container's base URL (`/ping`, `/invocations`).
        url: String,
        /// How long the container may take to answer.
        timeout_ms: u64,
    },
}

impl ModelSpec {
    /// The `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            ModelSpec::IrisLogreg { .. } => "iris-logreg",
            ModelSpec::Echo => "echo",
            ModelSpec::Tokens(_) => "tokens",
            ModelSpec::Container { .. } => "container",
        }
    }
}

/// Faults injected into a variant's answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Faults {
    /// Added to every answer (errors too, hangs excepted).
    pub latency_ms: f64,
    /// Uniform extra latency in `[0, jitter_ms)`.
    pub jitter_ms: f64,
    /// Share of requests answered with `error` instead of the model's answer.
    pub error_rate: f64,
    /// The error injected at `error_rate`.
    #[serde(serialize_with = "ser_code")]
    pub error: ErrorCode,
    /// For `ModelError`: the container status it reports (default 500). Left out of the JSON
    /// at its default, as `parse_models` refuses it beside any other error.
    #[serde(skip_serializing_if = "is_default_status")]
    pub original_status_code: u16,
    /// Share of requests never answered (the client gives up).
    pub hang_rate: f64,
    /// What goes wrong in the middle of a response stream (InvokeEndpointWithResponseStream).
    pub stream_fault: Option<StreamFault>,
}

/// A fault in the middle of a response stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StreamFault {
    /// Payload parts sent before it.
    pub after_parts: u32,
    /// What happens.
    pub kind: StreamFaultKind,
}

/// The mid-stream faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamFaultKind {
    /// A `ModelStreamError` exception frame, then the end.
    ModelStreamError,
    /// An `InternalStreamFailure` exception frame, then the end.
    InternalStreamFailure,
    /// Half a frame, then the end: a truncated stream.
    Truncate,
    /// A frame whose message CRC is wrong.
    BadCrc,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0.0,
            jitter_ms: 0.0,
            error_rate: 0.0,
            error: ErrorCode::ModelError,
            original_status_code: 500,
            hang_rate: 0.0,
            stream_fault: None,
        }
    }
}

impl Faults {
    /// True when the variant answers as the model alone would, before any stream starts (a
    /// stream fault acts later).
    pub fn is_none(&self) -> bool {
        self.latency_ms == 0.0
            && self.jitter_ms == 0.0
            && self.error_rate == 0.0
            && self.hang_rate == 0.0
    }
}

fn is_default_status(code: &u16) -> bool {
    *code == 500
}

fn ser_code<S: serde::Serializer>(c: &ErrorCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.as_str())
}

impl ModelsFile {
    /// The file as JSON, in the form `parse_models` reads back.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every value; `parse_models` and `Emulator::new` both call it.
    pub fn validate(&self) -> Result<(), ModelsError> {
        if self.endpoints.is_empty() {
            return Err(ModelsError::invalid(
                "endpoints",
                "must name at least one endpoint",
            ));
        }
        for (name, ep) in &self.endpoints {
            let key = format!("endpoints.{name}");
            check_name(&key, name, "an endpoint name")?;
            if ep.variants.is_empty() {
                return Err(ModelsError::invalid(
                    format!("{key}.variants"),
                    "must list at least one production variant",
                ));
            }
            for (i, v) in ep.variants.iter().enumerate() {
                let vkey = format!("{key}.variants[{i}]");
                check_name(&format!("{vkey}.name"), &v.name, "a variant name")?;
                if ep.variants[..i].iter().any(|o| o.name == v.name) {
                    return Err(ModelsError::invalid(
                        format!("{vkey}.name"),
                        format!("variant {} is listed twice", v.name),
                    ));
                }
                if !v.weight.is_finite() || v.weight < 0.0 {
                    return Err(ModelsError::invalid(
                        format!("{vkey}.weight"),
                        "must be a number of at least 0",
                    ));
                }
                validate_model(&format!("{vkey}.model"), &v.model)?;
                validate_faults(&format!("{vkey}.faults"), &v.faults)?;
            }
            if ep.variants.iter().all(|v| v.weight == 0.0) {
                return Err(ModelsError::invalid(
                    format!("{key}.variants"),
                    "at least one variant needs a weight above 0",
                ));
            }
        }
        Ok(())
    }
}

/// SageMaker's pattern for endpoint and variant names: `^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`, at
/// most 63 characters.
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn check_name(key: &str, name: &str, what: &str) -> Result<(), ModelsError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(ModelsError::invalid(
            key,
            format!(
                "{name:?} is not {what}: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit"
            ),
        ))
    }
}

fn validate_model(key: &str, m: &ModelSpec) -> Result<(), ModelsError> {
    match m {
        ModelSpec::IrisLogreg {
            learning_rate,
            epochs,
        } => {
            if !learning_rate.is_finite() || *learning_rate <= 0.0 {
                return Err(ModelsError::invalid(
                    format!("{key}.learning_rate"),
                    "must be above 0",
                ));
            }
            if *learning_rate > 1000.0 {
                return Err(ModelsError::invalid(
                    format!("{key}.learning_rate"),
                    "must be at most 1000",
                ));
            }
            if *epochs == 0 || *epochs > MAX_EPOCHS {
                return Err(ModelsError::invalid(
                    format!("{key}.epochs"),
                    format!("must be between 1 and {MAX_EPOCHS}"),
                ));
            }
        }
        ModelSpec::Echo => {}
        ModelSpec::Tokens(t) => {
            if t.tokens == 0 || t.tokens > MAX_TOKENS {
                return Err(ModelsError::invalid(
                    format!("{key}.tokens"),
                    format!("must be between 1 and {MAX_TOKENS}"),
                ));
            }
            if !(t.delay_ms.is_finite() && (0.0..=MAX_MS).contains(&t.delay_ms)) {
                return Err(ModelsError::invalid(
                    format!("{key}.delay_ms"),
                    "must be between 0 and 3600000",
                ));
            }
        }
        ModelSpec::Container { url, timeout_ms } => {
            if let Err(reason) = container_base(url) {
                return Err(ModelsError::invalid(format!("{key}.url"), reason));
            }
            if *timeout_ms == 0 || *timeout_ms as f64 > MAX_MS {
                return Err(ModelsError::invalid(
                    format!("{key}.timeout_ms"),
                    "must be between 1 and 3600000",
                ));
            }
        }
    }
    Ok(())
}

/// The container's base URL without a trailing `/`, or why it is unusable.
pub fn container_base(url: &str) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "{url:?}: only http:// URLs are supported (a container on this machine or network)"
        ));
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(format!("{url:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("{url:?}: a query string is not allowed"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn validate_faults(key: &str, f: &Faults) -> Result<(), ModelsError> {
    for (name, v) in [("latency_ms", f.latency_ms), ("jitter_ms", f.jitter_ms)] {
        if !(0.0..=MAX_MS).contains(&v) {
            return Err(ModelsError::invalid(
                format!("{key}.{name}"),
                "must be between 0 and 3600000",
            ));
        }
    }
    for (name, v) in [("error_rate", f.error_rate), ("hang_rate", f.hang_rate)] {
        if !v.is_finite() || !(0.0..=1.0).contains(&v) {
            return Err(ModelsError::invalid(
                format!("{key}.{name}"),
                "must be between 0 and 1",
            ));
        }
    }
    if f.error_rate + f.hang_rate > 1.0 + 1e-9 {
        return Err(ModelsError::invalid(
            key,
            "error_rate and hang_rate add up to more than 1",
        ));
    }
    if !(100..=599).contains(&f.original_status_code) {
        return Err(ModelsError::invalid(
            format!("{key}.original_status_code"),
            "must be an HTTP status between 100 and 599",
        ));
    }
    Ok(())
}

/// Parses and validates a models file.
pub fn parse_models(text: &str) -> Result<ModelsFile, ModelsError> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| ModelsError::invalid("models", format!("not valid JSON: {e}")))?;
    let top = Obj::new(&root, "")?;
    top.only(&["seed", "endpoints"])?;
    let seed = match top.get("seed") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| ModelsError::invalid("seed", "must be a whole number of at least 0"))?,
    };
    let endpoints_v = top
        .get("endpoints")
        .ok_or_else(|| ModelsError::invalid("endpoints", "missing"))?;
    let eps = Obj::new(endpoints_v, "endpoints")?;
    let mut endpoints = BTreeMap::new();
    for (name, v) in eps.map {
        if name.starts_with("x-") {
            continue;
        }
        let key = format!("endpoints.{name}");
        check_name(&key, name, "an endpoint name")?;
        let ep = Obj::new(v, &key)?;
        ep.only(&["variants", "inference_components", "models", "containers"])?;
        let vkey = format!("{key}.variants");
        let list = match ep.get("variants") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err(ModelsError::invalid(vkey, "must be a list of variants")),
            None => return Err(ModelsError::invalid(vkey, "missing")),
        };
        let variants = list
            .iter()
            .enumerate()
            .map(|(i, v)| parse_variant(v, &format!("{vkey}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let hosted = parse_hosted(&ep)?;
        endpoints.insert(name.clone(), EndpointSpec { variants, hosted });
    }
    let file = ModelsFile { seed, endpoints };
    file.validate()?;
    Ok(file)
}

/// Reads and parses a models file.
pub fn load_models(path: &Path) -> Result<ModelsFile, ModelsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelsError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_models(&text)
}

/// The bundled demo models: `iris-a` (the weaker control), `iris-b` (the better canary),
/// `iris-ab` (both as variants 0.9/0.1, SageMaker's own random split), `echo` and `flaky`.
pub fn demo_models() -> ModelsFile {
    parse_models(DEMO_MODELS_JSON).expect("the bundled demo-models.json is valid (tested)")
}

/// At most one of `inference_components`, `models`, `containers`: name → {model, faults}.
fn parse_hosted(ep: &Obj<'_>) -> Result<Option<Hosted>, ModelsError> {
    let present: Vec<TargetKind> = TargetKind::ALL
        .into_iter()
        .filter(|k| ep.get(k.key()).is_some())
        .collect();
    let kind = match present.as_slice() {
        [] => return Ok(None),
        [k] => *k,
        [a, b, ..] => {
            return Err(ModelsError::invalid(
                ep.key(b.key()),
                format!(
                    "an endpoint hosts one kind of model: {} or {}",
                    a.key(),
                    b.key()
                ),
            ));
        }
    };
    let key = ep.key(kind.key());
    let o = Obj::new(ep.get(kind.key()).unwrap_or(&Value::Null), &key)?;
    let mut models = BTreeMap::new();
    for (name, v) in o.map {
        if name.starts_with("x-") {
            continue;
        }
        let mkey = o.key(name);
        if name.is_empty() || name.len() > 256 || name.chars().any(|c| c.is_control()) {
            return Err(ModelsError::invalid(
                mkey,
                "must be a name of 1 to 256 visible characters",
            ));
        }
        let m = Obj::new(v, &mkey)?;
        m.only(&["model", "faults"])?;
        let model_v = m
            .get("model")
            .ok_or_else(|| ModelsError::invalid(m.key("model"), "missing"))?;
        let model = parse_model(model_v, &m.key("model"))?;
        validate_model(&m.key("model"), &model)?;
        let faults = match m.get("faults") {
            None | Some(Value::Null) => Faults::default(),
            Some(f) => parse_faults(f, &m.key("faults"))?,
        };
        validate_faults(&m.key("faults"), &faults)?;
        models.insert(name.clone(), HostedModel { model, faults });
    }
    if models.is_empty() {
        return Err(ModelsError::invalid(key, "must name at least one model"));
    }
    Ok(Some(Hosted { kind, models }))
}

fn parse_variant(v: &Value, key: &str) -> Result<VariantSpec, ModelsError> {
    let o = Obj::new(v, key)?;
    o.only(&["name", "weight", "model", "faults"])?;
    let name = o.string("name")?;
    let weight = match o.get("weight") {
        None => 1.0,
        Some(_) => o.number("weight")?,
    };
    let model_v = o
        .get("model")
        .ok_or_else(|| ModelsError::invalid(o.key("model"), "missing"))?;
    let model = parse_model(model_v, &o.key("model"))?;
    let faults = match o.get("faults") {
        None | Some(Value::Null) => Faults::default(),
        Some(f) => parse_faults(f, &o.key("faults"))?,
    };
    Ok(VariantSpec {
        name,
        weight,
        model,
        faults,
    })
}

fn parse_model(v: &Value, key: &str) -> Result<ModelSpec, ModelsError> {
    let o = Obj::new(v, key)?;
    let kind = o.string("type")?;
    match kind.as_str() {
        "iris-logreg" => {
            o.only(&["type", "learning_rate", "epochs"])?;
            Ok(ModelSpec::IrisLogreg {
                learning_rate: o.number_or("learning_rate", DEFAULT_LEARNING_RATE)?,
                epochs: o.uint_or("epochs", u64::from(DEFAULT_EPOCHS), u64::from(MAX_EPOCHS))?
                    as u32,
            })
        }
        "echo" => {
            o.only(&["type"])?;
            Ok(ModelSpec::Echo)
        }
        "tokens" => {
            o.only(&[
                "type",
                "format",
                "tokens",
                "delay_ms",
                "token_bytes",
                "hold_after",
            ])?;
            let format = match o.get("format") {
                None => TokenFormat::Tgi,
                Some(_) => match o.string("format")?.as_str() {
                    "tgi" => TokenFormat::Tgi,
                    "lmi" => TokenFormat::Lmi,
                    other => {
                        return Err(ModelsError::invalid(
                            o.key("format"),
                            format!("unknown format {other:?} (expected tgi or lmi)"),
                        ));
                    }
                },
            };
            let hold_after = match o.get("hold_after") {
                None | Some(Value::Null) => None,
                Some(_) => Some(o.uint_or("hold_after", 0, u64::from(MAX_TOKENS))? as u32),
            };
            Ok(ModelSpec::Tokens(TokenModel {
                format,
                tokens: o.uint_or("tokens", 16, u64::from(MAX_TOKENS))? as u32,
                delay_ms: o.number_or("delay_ms", 0.0)?,
                token_bytes: o.uint_or("token_bytes", 0, MAX_TOKEN_BYTES)? as u32,
                hold_after,
            }))
        }
        "container" => {
            o.only(&["type", "url", "timeout_ms"])?;
            Ok(ModelSpec::Container {
                url: o.string("url")?,
                timeout_ms: o.uint_or("timeout_ms", DEFAULT_CONTAINER_TIMEOUT_MS, MAX_MS as u64)?,
            })
        }
        other => Err(ModelsError::invalid(
            o.key("type"),
            format!(
                "unknown model type {other:?} (expected iris-logreg, echo, tokens or container)"
            ),
        )),
    }
}

fn parse_faults(v: &Value, key: &str) -> Result<Faults, ModelsError> {
    let o = Obj::new(v, key)?;
    o.only(&[
        "latency_ms",
        "jitter_ms",
        "error_rate",
        "error",
        "original_status_code",
        "hang_rate",
        "stream_fault",
    ])?;
    let d = Faults::default();
    let error = match o.get("error") {
        None => d.error,
        Some(_) => {
            let name = o.string("error")?;
            ErrorCode::from_name(&name).ok_or_else(|| {
                let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
                ModelsError::invalid(
                    o.key("error"),
                    format!(
                        "unknown error {name:?} (expected one of {})",
                        all.join(", ")
                    ),
                )
            })?
        }
    };
    let original_status_code = o.uint_or("original_status_code", 500, 599)? as u16;
    if o.get("original_status_code").is_some() && error != ErrorCode::ModelError {
        return Err(ModelsError::invalid(
            o.key("original_status_code"),
            "only applies when error is ModelError",
        ));
    }
    Ok(Faults {
        latency_ms: o.number_or("latency_ms", d.latency_ms)?,
        jitter_ms: o.number_or("jitter_ms", d.jitter_ms)?,
        error_rate: o.number_or("error_rate", d.error_rate)?,
        error,
        original_status_code,
        hang_rate: o.number_or("hang_rate", d.hang_rate)?,
        stream_fault: match o.get("stream_fault") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_stream_fault(v, &o.key("stream_fault"))?),
        },
    })
}

fn parse_stream_fault(v: &Value, key: &str) -> Result<StreamFault, ModelsError> {
    let o = Obj::new(v, key)?;
    o.only(&["after_parts", "kind"])?;
    let kind = match o.string("kind")?.as_str() {
        "model_stream_error" => StreamFaultKind::ModelStreamError,
        "internal_stream_failure" => StreamFaultKind::InternalStreamFailure,
        "truncate" => StreamFaultKind::Truncate,
        "bad_crc" => StreamFaultKind::BadCrc,
        other => {
            return Err(ModelsError::invalid(
                o.key("kind"),
                format!(
                    "unknown stream fault {other:?} (expected model_stream_error, internal_stream_failure, truncate or bad_crc)"
                ),
            ));
        }
    };
    Ok(StreamFault {
        after_parts: o.uint_or("after_parts", 0, u64::from(MAX_TOKENS))? as u32,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_models(text).unwrap_err().to_string()
    }

    #[test]
    fn demo_models_parse_and_hold_the_documented_endpoints() {
        let m = demo_models();
        let names: Vec<&str> = m.endpoints.keys().map(String::as_str).collect();
        assert_eq!(names, ["echo", "flaky", "iris-a", "iris-ab", "iris-b"]);
        let ab = &m.endpoints["iris-ab"].variants;
        assert_eq!(ab[0].name, "VariantA");
        assert_eq!(ab[1].name, "VariantB");
        assert_eq!((ab[0].weight, ab[1].weight), (0.9, 0.1));
        assert_eq!(ab[0].model, m.endpoints["iris-a"].variants[0].model);
        assert_eq!(ab[1].model, m.endpoints["iris-b"].variants[0].model);
        let flaky = &m.endpoints["flaky"].variants[0];
        assert_eq!(flaky.model, ModelSpec::Echo);
        assert_eq!(flaky.faults.error_rate, 0.5);
        assert_eq!(flaky.faults.error, ErrorCode::ModelError);
    }

    #[test]
    fn error_fixture_parses_with_one_endpoint_per_error() {
        let m = parse_models(include_str!("../../tests/fixtures/error-models.json")).unwrap();
        for code in ErrorCode::ALL {
            assert!(
                m.endpoints
                    .values()
                    .any(|e| e.variants[0].faults.error == code
                        && e.variants[0].faults.error_rate == 1.0),
                "{code}"
            );
        }
    }

    #[test]
    fn hosted_models_streams_and_their_errors() {
        let text = include_str!("../../tests/fixtures/targets-models.json");
        let m = parse_models(text).unwrap();
        let ic = m.endpoints["ic-endpoint"].hosted.as_ref().unwrap();
        assert_eq!(ic.kind, TargetKind::InferenceComponent);
        assert_eq!(ic.models.len(), 3);
        assert_eq!(parse_models(&m.to_json()).unwrap(), m);
        let streams =
            parse_models(include_str!("../../tests/fixtures/streaming-models.json")).unwrap();
        assert_eq!(parse_models(&streams.to_json()).unwrap(), streams);
        for (json, err) in [
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}}], "models": {"a": {"model": {"type": "echo"}}}, "containers": {"b": {"model": {"type": "echo"}}}}}}"#,
                "endpoints.e.containers: an endpoint hosts one kind of model: models or containers",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}}], "models": {}}}}"#,
                "endpoints.e.models: must name at least one model",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "tokens", "tokens": 0}}]}}}"#,
                "endpoints.e.variants[0].model.tokens: must be between 1 and 10000000",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "tokens", "format": "vllm"}}]}}}"#,
                "endpoints.e.variants[0].model.format: unknown format",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"stream_fault": {"kind": "oops"}}}]}}}"#,
                "endpoints.e.variants[0].faults.stream_fault.kind: unknown stream fault",
            ),
        ] {
            let e = parse_models(json).unwrap_err().to_string();
            assert!(e.contains(err), "{e}");
        }
    }

    #[test]
    fn round_trips_through_to_json() {
        let m = demo_models();
        assert_eq!(parse_models(&m.to_json()).unwrap(), m);
        // Found by the emulator_models fuzz target: faults with another error than
        // ModelError were written with original_status_code, which parse_models refuses.
        let m = parse_models(
            r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"error_rate": 0.5, "error": "ThrottlingException"}}]}}}"#,
        )
        .unwrap();
        assert_eq!(parse_models(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let m = parse_models(
            r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "iris-logreg"}}]}}}"#,
        )
        .unwrap();
        assert_eq!(m.seed, 0);
        let v = &m.endpoints["e"].variants[0];
        assert_eq!(v.weight, 1.0);
        assert_eq!(
            v.model,
            ModelSpec::IrisLogreg {
                learning_rate: DEFAULT_LEARNING_RATE,
                epochs: DEFAULT_EPOCHS
            }
        );
        assert_eq!(v.faults, Faults::default());
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                r#"{"endpoints": {"iris-a": {"variants": [{"name": "v", "model": {"type": "iris-logreg", "learning_rate": 0}}]}}}"#,
                "endpoints.iris-a.variants[0].model.learning_rate: must be above 0",
            ),
            (
                r#"{"endpoints": {"iris-a": {"variants": [{"name": "v", "model": {"type": "iris-logreg", "lerning_rate": 1}}]}}}"#,
                "endpoints.iris-a.variants[0].model.lerning_rate: unknown key",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"error_rate": 2}}]}}}"#,
                "endpoints.e.variants[0].faults.error_rate: must be between 0 and 1",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"error": "Boom"}}]}}}"#,
                "endpoints.e.variants[0].faults.error: unknown error \"Boom\"",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"error": "InternalFailure", "original_status_code": 400}}]}}}"#,
                "endpoints.e.variants[0].faults.original_status_code: only applies",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}, "faults": {"error_rate": 0.6, "hang_rate": 0.6}}]}}}"#,
                "endpoints.e.variants[0].faults: error_rate and hang_rate",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "gpt"}}]}}}"#,
                "endpoints.e.variants[0].model.type: unknown model type",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "container", "url": "https://x"}}]}}}"#,
                "endpoints.e.variants[0].model.url: ",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "container"}}]}}}"#,
                "endpoints.e.variants[0].model.url: missing",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "weight": 0, "model": {"type": "echo"}}]}}}"#,
                "endpoints.e.variants: at least one variant needs a weight above 0",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "weight": -1, "model": {"type": "echo"}}]}}}"#,
                "endpoints.e.variants[0].weight: must be a number of at least 0",
            ),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "echo"}}, {"name": "v", "model": {"type": "echo"}}]}}}"#,
                "endpoints.e.variants[1].name: variant v is listed twice",
            ),
            (
                r#"{"endpoints": {"bad_name": {"variants": [{"name": "v", "model": {"type": "echo"}}]}}}"#,
                "endpoints.bad_name: ",
            ),
            (
                r#"{"endpoints": {"e": {"variants": []}}}"#,
                "endpoints.e.variants: must list at least one",
            ),
            (r#"{"endpoints": {}}"#, "endpoints: must name at least one"),
            (
                r#"{"seed": -1, "endpoints": {}}"#,
                "seed: must be a whole number",
            ),
            (r#"{"endpoint": {}}"#, "endpoint: unknown key"),
            (r#"[]"#, "models: must be a JSON object"),
            (r#"{"#, "models: not valid JSON"),
            (
                r#"{"endpoints": {"e": {"variants": [{"name": "v", "model": {"type": "iris-logreg", "epochs": 0}}]}}}"#,
                "endpoints.e.variants[0].model.epochs: must be between 1 and 100000",
            ),
        ];
        for (text, want) in cases {
            let got = err(text);
            assert!(
                got.starts_with(want),
                "{text}\n  got:  {got}\n  want: {want}"
            );
        }
    }

    #[test]
    fn x_keys_are_comments() {
        parse_models(
            r#"{"x-note": 1, "endpoints": {"x-e": 5, "e": {"x-c": 1, "variants": [{"x-y": 2, "name": "v", "model": {"type": "echo", "x-z": 3}}]}}}"#,
        )
        .unwrap();
    }

    #[test]
    fn names_follow_sagemakers_pattern() {
        for ok in ["a", "iris-a", "A1", "a--b", &"x".repeat(63)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a_b", "a.b", "é", &"x".repeat(64)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn container_url_is_normalised() {
        assert_eq!(
            container_base("http://127.0.0.1:9000/").unwrap(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            container_base("http://h:1/base").unwrap(),
            "http://h:1/base"
        );
        assert!(container_base("127.0.0.1:9000").is_err());
        assert!(container_base("http://h/?q=1").is_err());
    }
}

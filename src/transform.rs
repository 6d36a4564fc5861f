//! Pre-processing of request bodies and post-processing of endpoint answers, declared in the
//! config. Plain functions over bytes and JSON: no I/O, tested without a network.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::error::Invalid;

/// What went wrong while transforming; pre-processing failures are the client's (400),
/// post-processing failures mean the endpoint's answer did not have the declared shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// The body does not parse as JSON.
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// Pre-processing needs an object at the top.
    #[error("request body must be a JSON object for pre-processing")]
    NotAnObject,
    /// `require` names fields the body lacks.
    #[error("missing required field(s): {}", .0.join(", "))]
    MissingFields(Vec<String>),
    /// A field cannot be transformed as configured.
    #[error("field `{field}`: {reason}")]
    BadField {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The endpoint's answer does not have the shape post-processing expects.
    #[error("post-processing: {0}")]
    Answer(String),
}

/// Pre-processing steps, applied in this order: require, defaults, normalize, rename, drop,
/// inject, context. Field names are top-level keys of the JSON object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreSpec {
    /// Fields that must be present (a 400 names every missing one).
    #[serde(default)]
    pub require: Vec<String>,
    /// Values set when the field is absent.
    #[serde(default)]
    pub defaults: Map<String, Value>,
    /// Z-score normalisation of numeric fields (a number, or an array of numbers).
    #[serde(default)]
    pub normalize: BTreeMap<String, ZScore>,
    /// Old name to new name.
    #[serde(default)]
    pub rename: BTreeMap<String, String>,
    /// Fields removed before the endpoint sees the body.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Constant fields, overwriting whatever the client sent.
    #[serde(default)]
    pub inject: Map<String, Value>,
    /// Request context written into the named fields.
    #[serde(default)]
    pub context: ContextFields,
}

/// Field names under which request context is injected; absent means not injected.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContextFields {
    /// The country header's value (null when absent).
    pub country: Option<String>,
    /// The arm whose endpoint is called.
    pub arm: Option<String>,
    /// The request's RFC 3339 time.
    pub timestamp: Option<String>,
    /// The experiment's name.
    pub experiment: Option<String>,
    /// The request ID.
    pub request_id: Option<String>,
}

/// `(x - mean) / std`; mean and std are numbers, or arrays applied element-wise to an array field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZScore {
    /// Subtracted first.
    pub mean: Scalars,
    /// Divided by next; above 0.
    pub std: Scalars,
}

/// One number for every element, or one per element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalars {
    /// The same number for every element.
    One(f64),
    /// One number per element.
    Each(Vec<f64>),
}

impl Scalars {
    fn at(&self, i: usize) -> Option<f64> {
        match self {
            Scalars::One(v) => Some(*v),
            Scalars::Each(v) => v.get(i).copied(),
        }
    }

    fn values(&self) -> &[f64] {
        match self {
            Scalars::One(v) => std::slice::from_ref(v),
            Scalars::Each(v) => v,
        }
    }
}

/// Post-processing steps, applied in order: top_k, threshold, keep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostSpec {
    /// Rank scores and keep the best.
    pub top_k: Option<TopK>,
    /// Drop entries below a score.
    pub threshold: Option<Threshold>,
    /// Top-level fields kept in the answer; all others are removed.
    pub keep: Option<Vec<String>>,
}

/// Ranks a probability array and keeps the best `k`, with labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    /// JSON Pointer to the array of scores ("" is the whole answer).
    pub field: String,
    /// How many to keep (at least 1).
    pub k: usize,
    /// Label of each index; without labels the index is the label.
    pub labels: Option<Vec<String>>,
    /// Top-level field that receives `[{"label", "score"}]` (default `top`).
    pub into: Option<String>,
}

/// Drops the entries of an array whose score is below `min`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// JSON Pointer to an array of numbers or of objects with a `score`.
    pub field: String,
    /// The lowest score kept.
    pub min: f64,
}

/// Where `top_k` writes its result when `into` is not set.
pub const DEFAULT_TOP_K_INTO: &str = "top";

/// Request facts that pre-processing can inject.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The country header's value.
    pub country: Option<&'a str>,
    /// The arm whose endpoint is called.
    pub arm: &'a str,
    /// The request's RFC 3339 time.
    pub timestamp: &'a str,
    /// The experiment.
    pub experiment: &'a str,
    /// The request ID.
    pub request_id: &'a str,
}

/// The media type without parameters, lower-cased (`Application/JSON; charset=utf-8` is
/// `application/json`).
pub fn media_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is JSON (`application/json`, or any `+json` suffix), ignoring parameters.
pub fn is_json(content_type: &str) -> bool {
    let essence = media_essence(content_type);
    essence == "application/json" || essence.ends_with("+json")
}

/// Checks that a JSON body parses, so that a broken body is the client's 400, not the model's.
/// The UTF-8 check comes first: serde_json skips the strings it ignores without checking them.
/// Strings are decoded (not skipped) so that a body this accepts is one pre-processing
/// accepts too: a lone surrogate escape (`"\ud800"`) is refused by both.
pub fn check_json(body: &[u8]) -> Result<(), TransformError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        TransformError::InvalidJson(format!(
            "not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str::<Decoded>(text)
        .map(|_| ())
        .map_err(|e| TransformError::InvalidJson(e.to_string()))
}

/// Any JSON value, read as serde_json reads a `Value` (strings decoded, numbers in range)
/// without building it.
struct Decoded;

impl<'de> Deserialize<'de> for Decoded {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Decoded)
    }
}

impl<'de> serde::de::Visitor<'de> for Decoded {
    type Value = Decoded;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Decoded, E> {
        Ok(Decoded)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Decoded, E> {
        Ok(Decoded)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Decoded, E> {
        Ok(Decoded)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Decoded, E> {
        Ok(Decoded)
    }
    fn visit_str<E>(self, _: &str) -> Result<Decoded, E> {
        Ok(Decoded)
    }
    fn visit_unit<E>(self) -> Result<Decoded, E> {
        Ok(Decoded)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Decoded, A::Error> {
        while seq.next_element::<Decoded>()?.is_some() {}
        Ok(Decoded)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        while map.next_key::<Decoded>()?.is_some() {
            map.next_value::<Decoded>()?;
        }
        Ok(Decoded)
    }
}

/// Applies pre-processing to a JSON body; the caller passes other content types through as bytes.
pub fn preprocess(
    spec: &PreSpec,
    body: &[u8],
    ctx: &RequestContext<'_>,
) -> Result<Vec<u8>, TransformError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| TransformError::InvalidJson(e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(TransformError::NotAnObject);
    };
    let missing: Vec<String> = spec
        .require
        .iter()
        .filter(|f| obj.get(f.as_str()).is_none_or(Value::is_null))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(TransformError::MissingFields(missing));
    }
    for (field, default) in &spec.defaults {
        if obj.get(field).is_none_or(Value::is_null) {
            obj.insert(field.clone(), default.clone());
        }
    }
    for (field, z) in &spec.normalize {
        if let Some(v) = obj.get_mut(field) {
            normalize(field, v, z)?;
        }
    }
    for (from, to) in &spec.rename {
        if let Some(v) = obj.remove(from) {
            obj.insert(to.clone(), v);
        }
    }
    for field in &spec.drop {
        obj.remove(field);
    }
    for (field, v) in &spec.inject {
        obj.insert(field.clone(), v.clone());
    }
    let c = &spec.context;
    let facts = [
        (&c.country, ctx.country.map(str::to_owned)),
        (&c.arm, Some(ctx.arm.to_owned())),
        (&c.timestamp, Some(ctx.timestamp.to_owned())),
        (&c.experiment, Some(ctx.experiment.to_owned())),
        (&c.request_id, Some(ctx.request_id.to_owned())),
    ];
    for (field, fact) in facts {
        if let Some(field) = field {
            obj.insert(field.clone(), fact.map_or(Value::Null, Value::String));
        }
    }
    serde_json::to_vec(&Value::Object(obj)).map_err(|e| TransformError::Answer(e.to_string()))
}

fn normalize(field: &str, value: &mut Value, z: &ZScore) -> Result<(), TransformError> {
    let bad = |reason: &str| TransformError::BadField {
        field: field.to_owned(),
        reason: reason.to_owned(),
    };
    let scale = |x: f64, i: usize| -> Result<Value, TransformError> {
        let (Some(mean), Some(std)) = (z.mean.at(i), z.std.at(i)) else {
            return Err(bad("has more elements than the configured mean and std"));
        };
        serde_json::Number::from_f64((x - mean) / std)
            .map(Value::Number)
            .ok_or_else(|| bad("normalises to a non-finite number"))
    };
    match value {
        Value::Number(n) => {
            let x = n.as_f64().ok_or_else(|| bad("is not a finite number"))?;
            *value = scale(x, 0)?;
        }
        Value::Array(items) => {
            if let Scalars::Each(m) = &z.mean
                && m.len() != items.len()
            {
                return Err(bad(&format!(
                    "has {} elements, the configured mean has {}",
                    items.len(),
                    m.len()
                )));
            }
            for (i, item) in items.iter_mut().enumerate() {
                let x = item
                    .as_f64()
                    .ok_or_else(|| bad("must be a number or an array of numbers"))?;
                *item = scale(x, i)?;
            }
        }
        _ => return Err(bad("must be a number or an array of numbers")),
    }
    Ok(())
}

/// Applies post-processing to an endpoint's answer. `None` means nothing is configured and the
/// endpoint's bytes and content type pass through unchanged.
pub fn postprocess(spec: &PostSpec, answer: &[u8]) -> Result<Vec<u8>, TransformError> {
    let err = |m: String| TransformError::Answer(m);
    let mut root: Value = serde_json::from_slice(answer)
        .map_err(|e| err(format!("the endpoint's answer is not JSON: {e}")))?;
    if let Some(top) = &spec.top_k {
        let scores = root
            .pointer(&top.field)
            .ok_or_else(|| err(format!("no `{}` in the endpoint's answer", top.field)))?;
        let ranked = top_k(scores, top).map_err(err)?;
        let into = top.into.as_deref().unwrap_or(DEFAULT_TOP_K_INTO);
        match &mut root {
            Value::Object(obj) => {
                obj.insert(into.to_owned(), ranked);
            }
            _ => {
                let mut obj = Map::new();
                obj.insert(into.to_owned(), ranked);
                root = Value::Object(obj);
            }
        }
    }
    if let Some(th) = &spec.threshold {
        let items = root
            .pointer_mut(&th.field)
            .and_then(Value::as_array_mut)
            .ok_or_else(|| err(format!("no array at `{}` in the answer", th.field)))?;
        items.retain(|item| score_of(item).is_some_and(|s| s >= th.min));
    }
    if let Some(keep) = &spec.keep {
        match &mut root {
            Value::Object(obj) => obj.retain(|k, _| keep.iter().any(|f| f == k)),
            _ => return Err(err("`keep` needs a JSON object answer".to_owned())),
        }
    }
    serde_json::to_vec(&root).map_err(|e| err(e.to_string()))
}

fn score_of(item: &Value) -> Option<f64> {
    match item {
        Value::Number(n) => n.as_f64(),
        Value::Object(o) => o.get("score").and_then(Value::as_f64),
        _ => None,
    }
}

fn top_k(scores: &Value, spec: &TopK) -> Result<Value, String> {
    let arr = scores
        .as_array()
        .ok_or_else(|| format!("`{}` is not an array of scores", spec.field))?;
    let mut ranked = Vec::with_capacity(arr.len());
    for (i, s) in arr.iter().enumerate() {
        let score = s
            .as_f64()
            .ok_or_else(|| format!("`{}`[{i}] is not a number", spec.field))?;
        ranked.push((i, score));
    }
    if let Some(labels) = &spec.labels
        && labels.len() != ranked.len()
    {
        return Err(format!(
            "`{}` has {} scores but {} labels are configured",
            spec.field,
            ranked.len(),
            labels.len()
        ));
    }
    // Highest score first; ties keep index order so the answer is deterministic.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(spec.k);
    Ok(Value::Array(
        ranked
            .into_iter()
            .map(|(i, score)| {
                let label = spec
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(i))
                    .map_or_else(|| Value::from(i), |l| Value::from(l.as_str()));
                serde_json::json!({"label": label, "score": score})
            })
            .collect(),
    ))
}

impl PreSpec {
    /// Config-time checks, reported with the key path.
    pub fn validate(&self, path: &str) -> Result<(), Invalid> {
        for (field, z) in &self.normalize {
            let p = format!("{path}.normalize.{field}");
            for v in z.mean.values() {
                if !v.is_finite() {
                    return Err(Invalid::new(format!("{p}.mean"), "must be a finite number"));
                }
            }
            for v in z.std.values() {
                if !(v.is_finite() && *v > 0.0) {
                    return Err(Invalid::new(format!("{p}.std"), "must be a number above 0"));
                }
            }
            if let (Scalars::Each(m), Scalars::Each(s)) = (&z.mean, &z.std)
                && m.len() != s.len()
            {
                return Err(Invalid::new(
                    format!("{p}.std"),
                    format!("has {} values, mean has {}", s.len(), m.len()),
                ));
            }
            if matches!((&z.mean, &z.std), (Scalars::One(_), Scalars::Each(_))) {
                return Err(Invalid::new(
                    format!("{p}.mean"),
                    "is one number while std is an array: give both as arrays",
                ));
            }
        }
        for (from, to) in &self.rename {
            if to.is_empty() {
                return Err(Invalid::new(
                    format!("{path}.rename.{from}"),
                    "new name is empty",
                ));
            }
        }
        Ok(())
    }
}

impl PostSpec {
    /// Config-time checks, reported with the key path.
    pub fn validate(&self, path: &str) -> Result<(), Invalid> {
        if let Some(t) = &self.top_k {
            check_pointer(&t.field, &format!("{path}.top_k.field"))?;
            if t.k == 0 {
                return Err(Invalid::new(
                    format!("{path}.top_k.k"),
                    "must be at least 1",
                ));
            }
            if t.labels.as_ref().is_some_and(Vec::is_empty) {
                return Err(Invalid::new(format!("{path}.top_k.labels"), "is empty"));
            }
            if t.into.as_ref().is_some_and(String::is_empty) {
                return Err(Invalid::new(format!("{path}.top_k.into"), "is empty"));
            }
        }
        if let Some(th) = &self.threshold {
            check_pointer(&th.field, &format!("{path}.threshold.field"))?;
            if !th.min.is_finite() {
                return Err(Invalid::new(
                    format!("{path}.threshold.min"),
                    "must be finite",
                ));
            }
        }
        Ok(())
    }
}

fn check_pointer(p: &str, path: &str) -> Result<(), Invalid> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(Invalid::new(
            path.to_owned(),
            format!("`{p}` is not a JSON Pointer: write `/{p}`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> RequestContext<'static> {
        RequestContext {
            country: Some("FR"),
            arm: "canary",
            timestamp: "2026-11-26T10:00:00Z",
            experiment: "exp",
            request_id: "req-1",
        }
    }

    fn pre(spec: Value, body: Value) -> Result<Value, TransformError> {
        let spec: PreSpec = serde_json::from_value(spec).unwrap();
        let out = preprocess(&spec, &serde_json::to_vec(&body).unwrap(), &ctx())?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    fn post(spec: Value, body: Value) -> Result<Value, TransformError> {
        let spec: PostSpec = serde_json::from_value(spec).unwrap();
        let out = postprocess(&spec, &serde_json::to_vec(&body).unwrap())?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/vnd.api+json"));
        assert!(!is_json("text/csv"));
        assert!(!is_json("application/x-image"));
    }

    #[test]
    fn require_names_every_missing_field() {
        let err = pre(
            json!({"require": ["a", "b", "c"]}),
            json!({"b": 1, "c": null}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            TransformError::MissingFields(vec!["a".to_owned(), "c".to_owned()])
        );
        assert_eq!(err.to_string(), "missing required field(s): a, c");
    }

    #[test]
    fn defaults_fill_only_absent_fields() {
        let out = pre(json!({"defaults": {"k": 3, "lang": "en"}}), json!({"k": 5})).unwrap();
        assert_eq!(out, json!({"k": 5, "lang": "en"}));
    }

    #[test]
    fn normalize_scalar_and_elementwise() {
        let spec = json!({"normalize": {
            "x": {"mean": 10.0, "std": 2.0},
            "features": {"mean": [1.0, 2.0], "std": [0.5, 4.0]}
        }});
        let out = pre(spec, json!({"x": 14, "features": [2.0, 0.0]})).unwrap();
        assert_eq!(out, json!({"x": 2.0, "features": [2.0, -0.5]}));
    }

    #[test]
    fn normalize_refuses_non_numbers_and_wrong_lengths() {
        let spec = json!({"normalize": {"x": {"mean": [1.0, 2.0], "std": [1.0, 1.0]}}});
        let err = pre(spec.clone(), json!({"x": [1.0]})).unwrap_err();
        assert!(err.to_string().contains("has 1 elements"), "{err}");
        let err = pre(spec, json!({"x": "high"})).unwrap_err();
        assert!(matches!(err, TransformError::BadField { .. }));
    }

    #[test]
    fn rename_drop_inject_and_context() {
        let spec = json!({
            "rename": {"feats": "features"},
            "drop": ["debug"],
            "inject": {"source": "web", "debug": "kept: inject runs after drop"},
            "context": {"country": "c", "arm": "a", "timestamp": "t", "experiment": "e", "request_id": "r"}
        });
        let out = pre(spec, json!({"feats": [1], "debug": true})).unwrap();
        assert_eq!(
            out,
            json!({
                "features": [1], "source": "web", "debug": "kept: inject runs after drop",
                "c": "FR", "a": "canary", "t": "2026-11-26T10:00:00Z", "e": "exp", "r": "req-1"
            })
        );
    }

    #[test]
    fn preprocess_refuses_bad_json_and_non_objects() {
        let spec = PreSpec::default();
        let err = preprocess(&spec, b"{\"a\": ", &ctx()).unwrap_err();
        assert!(matches!(err, TransformError::InvalidJson(_)));
        let err = preprocess(&spec, b"[1,2]", &ctx()).unwrap_err();
        assert_eq!(err, TransformError::NotAnObject);
        assert!(check_json(b"{\"a\": ").is_err());
        assert!(check_json(b"[1, {\"b\": null}]").is_ok());
    }

    #[test]
    fn top_k_with_labels_and_threshold_and_keep() {
        let spec = json!({
            "top_k": {"field": "/probabilities", "k": 2, "labels": ["setosa", "versicolor", "virginica"]},
            "threshold": {"field": "/top", "min": 0.25},
            "keep": ["top"]
        });
        let out = post(spec, json!({"probabilities": [0.1, 0.2, 0.7], "raw": 1})).unwrap();
        assert_eq!(out, json!({"top": [{"label": "virginica", "score": 0.7}]}));
    }

    #[test]
    fn top_k_on_a_bare_array_without_labels() {
        let spec = json!({"top_k": {"field": "", "k": 3, "into": "ranked"}});
        let out = post(spec, json!([0.5, 0.2, 0.5, 0.9])).unwrap();
        assert_eq!(
            out,
            json!({"ranked": [
                {"label": 3, "score": 0.9}, {"label": 0, "score": 0.5}, {"label": 2, "score": 0.5}
            ]})
        );
    }

    #[test]
    fn threshold_on_plain_numbers() {
        let out = post(
            json!({"threshold": {"field": "/s", "min": 0.5}}),
            json!({"s": [0.1, 0.5, 0.9]}),
        )
        .unwrap();
        assert_eq!(out, json!({"s": [0.5, 0.9]}));
    }

    #[test]
    fn postprocess_errors_name_the_problem() {
        let spec = json!({"top_k": {"field": "/p", "k": 1, "labels": ["a"]}});
        let err = post(spec.clone(), json!({"q": []})).unwrap_err();
        assert!(err.to_string().contains("no `/p`"), "{err}");
        let err = post(spec, json!({"p": [0.5, 0.5]})).unwrap_err();
        assert!(err.to_string().contains("2 scores but 1 labels"), "{err}");
        let spec: PostSpec = serde_json::from_value(json!({"keep": ["a"]})).unwrap();
        assert!(postprocess(&spec, b"not json").is_err());
    }

    #[test]
    fn a_lone_surrogate_is_not_json_for_the_check_either() {
        // Found by the transform fuzz target: check_json skipped strings, so it let through
        // bodies that pre-processing (serde_json's Value) refuses.
        for body in [
            &br#"{"a": "\ud800"}"#[..],
            br#"["\udc00x"]"#,
            br#"{"\ud800": 1}"#,
        ] {
            assert!(
                check_json(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
            assert!(serde_json::from_slice::<Value>(body).is_err());
        }
        check_json(br#"{"a": "\ud83d\ude00", "\u00e9": 1e300}"#).unwrap();
    }

    #[test]
    fn invalid_utf8_inside_a_string_is_not_json() {
        let err = check_json(b"{\"a\": \"\xff\xfe\"}").unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        check_json("{\"a\": \"caf\u{e9}\"}".as_bytes()).unwrap();
        let ctx = RequestContext {
            country: None,
            arm: "a",
            timestamp: "t",
            experiment: "e",
            request_id: "r",
        };
        assert!(preprocess(&PreSpec::default(), b"{\"a\": \"\xff\"}", &ctx).is_err());
    }

    #[test]
    fn validation_catches_bad_specs() {
        let spec: PreSpec =
            serde_json::from_value(json!({"normalize": {"x": {"mean": 1.0, "std": 0.0}}})).unwrap();
        assert_eq!(
            spec.validate("preprocess").unwrap_err().key,
            "preprocess.normalize.x.std"
        );
        let spec: PostSpec =
            serde_json::from_value(json!({"top_k": {"field": "probabilities", "k": 1}})).unwrap();
        let err = spec.validate("arms[1].postprocess").unwrap_err();
        assert_eq!(err.key, "arms[1].postprocess.top_k.field");
        assert!(err.reason.contains("/probabilities"));
    }
}

//! The general path: serde_json reads any line the fast scanner gives up on (escapes, a Lambda
//! wrapper, duplicate or mistyped fields, broken JSON) and decides what it is.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::fact::{Line, ShadowFact};
use super::id128::id128;
use super::view::View;

/// What serde_json made of one JSON object.
pub(super) enum Read<'a> {
    /// Not JSON, or a field of the wrong type.
    Corrupt,
    /// JSON, but neither a record nor a Lambda log line that carries one.
    NotRecord,
    /// A record's fields.
    Record(Box<Raw<'a>>),
    /// Lambda's `message` as text: the record to parse again from `text[start..]`.
    Nested { text: Cow<'a, str>, start: usize },
}

/// Reads `json` at wrapper depth `depth` (a record inside a Lambda `message` is at depth 1,
/// where a `message` is not looked into again).
pub(super) fn read(json: &[u8], depth: u8) -> Read<'_> {
    let mut de = serde_json::Deserializer::from_slice(json);
    // Trailing text after the object is tolerated (some exporters append fields).
    match Raw::deserialize(&mut de) {
        Ok(raw) => classify(raw, depth),
        Err(_) => Read::Corrupt,
    }
}

fn classify(raw: Raw<'_>, depth: u8) -> Read<'_> {
    if raw.kind.is_some() {
        return Read::Record(Box::new(raw));
    }
    match (raw.message, depth) {
        (Some(Message::Object(inner)), 0) => classify(*inner, 1),
        (Some(Message::Text(text)), 0) => match text.find('{') {
            Some(start) => Read::Nested { text, start },
            None => Read::NotRecord,
        },
        _ => Read::NotRecord,
    }
}

impl Raw<'_> {
    /// A shadow call's record.
    pub(super) fn is_shadow(&self) -> bool {
        self.kind.as_deref() == Some("shadow")
    }

    /// A shadow record as a line: not a record without its request, phase and shadow name.
    pub(super) fn shadow_line(&self) -> Line {
        let (Some(request), Some(experiment), Some(version), Some(shadow)) = (
            self.request_id.as_deref().filter(|s| !s.is_empty()),
            self.experiment.as_deref(),
            self.config_version.as_deref(),
            self.shadow.as_deref(),
        ) else {
            return Line::NotRecord;
        };
        Line::Shadow(Box::new(ShadowFact {
            request: id128(request.as_bytes()),
            unit: self.unit.as_deref().map(|u| id128(u.as_bytes())),
            experiment: experiment.to_owned(),
            version: version.to_owned(),
            shadow: shadow.to_owned(),
            endpoint: self.endpoint.as_deref().map(str::to_owned),
            arm: self.arm.as_deref().map(str::to_owned),
            status: self.status.unwrap_or(0),
            latency_ms: self.latency_ms.filter(|x| x.is_finite() && *x >= 0.0),
            primary_latency_ms: self
                .primary_latency_ms
                .filter(|x| x.is_finite() && *x >= 0.0),
            agrees: self.agrees,
            max_abs_diff: self.max_abs_diff.filter(|x| x.is_finite()),
        }))
    }

    /// Hands the record's fields to `f`, as the fast path does.
    pub(super) fn view<R>(&self, f: impl FnOnce(&View<'_, '_>) -> R) -> R {
        let weights: Option<Vec<(&[u8], f64)>> = self
            .weights
            .as_ref()
            .map(|w| w.iter().map(|(n, x)| (n.0.as_bytes(), *x)).collect());
        f(&View {
            kind: self.kind.as_deref().map(str::as_bytes),
            ts: self.ts.as_deref().map(str::as_bytes),
            request_id: self.request_id.as_deref().map(str::as_bytes),
            experiment: self.experiment.as_deref().map(str::as_bytes),
            config_version: self.config_version.as_deref().map(str::as_bytes),
            unit: self.unit.as_deref().map(str::as_bytes),
            assigned_by: self.assigned_by.as_deref().map(str::as_bytes),
            arm: self.arm.as_deref().map(str::as_bytes),
            weights: weights.as_deref(),
            served_arm: self.served_arm.as_deref().map(str::as_bytes),
            status: self.status,
            latency_ms: self.latency_ms,
            first_byte_ms: self.first_byte_ms,
            tokens: self.tokens,
            event: self.event.as_deref().map(str::as_bytes),
            value: self.value,
            endpoint: self.endpoint.as_deref().map(str::as_bytes),
            invoked_variant: self.invoked_variant.as_deref().map(str::as_bytes),
            inference_component: self.inference_component.as_deref().map(str::as_bytes),
            target_model: self.target_model.as_deref().map(str::as_bytes),
            target_container_hostname: self.target_container_hostname.as_deref().map(str::as_bytes),
        })
    }
}

/// A string that borrows from the line when it has no escapes.
#[derive(Debug, Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// The fields of a record (and of Lambda's JSON log wrapper) that the report reads; everything
/// else, the EMF block included, is skipped without being built.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Raw<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ts: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    experiment: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    config_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    unit: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    assigned_by: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arm: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    weights: Option<Vec<(Str<'a>, f64)>>,
    #[serde(borrow, default)]
    served_arm: Option<Cow<'a, str>>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    latency_ms: Option<f64>,
    #[serde(default)]
    first_byte_ms: Option<f64>,
    #[serde(default)]
    tokens: Option<f64>,
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    #[serde(borrow, default)]
    endpoint: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    invoked_variant: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    inference_component: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target_model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    target_container_hostname: Option<Cow<'a, str>>,
    // Shadow records.
    #[serde(borrow, default)]
    shadow: Option<Cow<'a, str>>,
    #[serde(default)]
    agrees: Option<bool>,
    #[serde(default)]
    max_abs_diff: Option<f64>,
    #[serde(default)]
    primary_latency_ms: Option<f64>,
}

/// Lambda's `message`: the record as text, the record as an object, or something else.
#[derive(Debug)]
enum Message<'a> {
    Text(Cow<'a, str>),
    Object(Box<Raw<'a>>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Message<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Message<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a log message")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Message::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Message::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Message::Text(Cow::Owned(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Raw::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|r| Message::Object(Box::new(r)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Message::Other)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Message::Other)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Message::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Message::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Message::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Message::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Message::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

//! The fast path for the router's own lines, read with sonic-rs: its lazy object iterator
//! walks the top-level object (SIMD skipping of the values the report does not read), and the
//! fields the report keeps are taken from their lazy values. It gives up (None) on anything
//! unusual — a Lambda `message` wrapper, duplicate or mistyped fields, JSON sonic-rs refuses —
//! and the caller then parses the line with serde_json, which decides.

use sonic_rs::{JsonType, JsonValueTrait, LazyValue, to_object_iter};

use super::view::View;

/// Most arms a fast-path `weights` may hold.
const MAX_ARMS: usize = 16;

/// Nothing is remembered between lines (kept so the caller's state does not change shape).
#[derive(Debug, Default)]
pub(crate) struct Keys;

/// The fields the fast path reads, as indexes into the slots of one line.
const KIND: usize = 0;
const TS: usize = 1;
const REQUEST_ID: usize = 2;
const EXPERIMENT: usize = 3;
const CONFIG_VERSION: usize = 4;
const UNIT: usize = 5;
const ASSIGNED_BY: usize = 6;
const ARM: usize = 7;
const SERVED_ARM: usize = 8;
const EVENT: usize = 9;
const STATUS: usize = 10;
const LATENCY_MS: usize = 11;
const VALUE: usize = 12;
const WEIGHTS: usize = 13;
const FIELDS: usize = 14;

enum Key {
    Slot(usize),
    Message,
    Other,
}

fn key(k: &str) -> Key {
    Key::Slot(match k {
        "kind" => KIND,
        "ts" => TS,
        "request_id" => REQUEST_ID,
        "experiment" => EXPERIMENT,
        "config_version" => CONFIG_VERSION,
        "unit" => UNIT,
        "assigned_by" => ASSIGNED_BY,
        "arm" => ARM,
        "served_arm" => SERVED_ARM,
        "event" => EVENT,
        "status" => STATUS,
        "latency_ms" => LATENCY_MS,
        "value" => VALUE,
        "weights" => WEIGHTS,
        "message" => return Key::Message,
        _ => return Key::Other,
    })
}

/// A string field: None (give up) unless a string or null.
fn opt_str<'v>(v: &'v Option<LazyValue<'_>>) -> Option<Option<&'v [u8]>> {
    match v {
        None => Some(None),
        Some(v) => match v.get_type() {
            JsonType::Null => Some(None),
            JsonType::String => v.as_str().map(|s| Some(s.as_bytes())),
            _ => None,
        },
    }
}

/// A number field as f64: None (give up) unless a number or null.
fn opt_f64(v: &Option<LazyValue<'_>>) -> Option<Option<f64>> {
    match v {
        None => Some(None),
        Some(v) => match v.get_type() {
            JsonType::Null => Some(None),
            JsonType::Number => v.as_f64().map(Some),
            _ => None,
        },
    }
}

/// Scans one JSON object and hands its fields to `f`; None means "parse it the slow way".
pub(crate) fn scan<R>(
    json: &[u8],
    _keys: &mut Keys,
    f: impl FnOnce(&View<'_, '_>) -> R,
) -> Option<R> {
    let mut slots: [Option<LazyValue<'_>>; FIELDS] = Default::default();
    for entry in to_object_iter(json) {
        let (k, v) = entry.ok()?;
        match key(&k) {
            Key::Slot(i) => {
                // serde refuses duplicate fields: let it decide.
                if slots[i].replace(v).is_some() {
                    return None;
                }
            }
            // Lambda's wrapper: the serde path unwraps it.
            Key::Message => return None,
            Key::Other => {}
        }
    }
    let status = match &slots[STATUS] {
        None => None,
        Some(v) if v.get_type() == JsonType::Null => None,
        Some(v) if v.get_type() == JsonType::Number => Some(u16::try_from(v.as_u64()?).ok()?),
        Some(_) => return None,
    };
    // `[["control", 9000], ["canary", 1000]]`: the names' lazy values, then the weights.
    let mut names: [Option<LazyValue<'_>>; MAX_ARMS] = Default::default();
    let mut numbers = [0.0f64; MAX_ARMS];
    let mut n_weights = None;
    if let Some(w) = slots[WEIGHTS].take()
        && w.get_type() != JsonType::Null
    {
        // The object iterator checked the value: its arrays are walked without checks again.
        let mut n = 0;
        for pair in w.into_array_iter()? {
            let mut items = pair.ok()?.into_array_iter()?;
            let name = items.next()?.ok()?;
            let number = items.next()?.ok()?;
            if n == MAX_ARMS
                || items.next().is_some()
                || name.get_type() != JsonType::String
                || number.get_type() != JsonType::Number
            {
                return None;
            }
            numbers[n] = number.as_f64()?;
            names[n] = Some(name);
            n += 1;
        }
        n_weights = Some(n);
    }
    let mut weights: [(&[u8], f64); MAX_ARMS] = [(b"", 0.0); MAX_ARMS];
    if let Some(n) = n_weights {
        for i in 0..n {
            weights[i] = (names[i].as_ref()?.as_str()?.as_bytes(), numbers[i]);
        }
    }
    let v = View {
        kind: opt_str(&slots[KIND])?,
        ts: opt_str(&slots[TS])?,
        request_id: opt_str(&slots[REQUEST_ID])?,
        experiment: opt_str(&slots[EXPERIMENT])?,
        config_version: opt_str(&slots[CONFIG_VERSION])?,
        unit: opt_str(&slots[UNIT])?,
        assigned_by: opt_str(&slots[ASSIGNED_BY])?,
        arm: opt_str(&slots[ARM])?,
        weights: n_weights.map(|n| &weights[..n]),
        served_arm: opt_str(&slots[SERVED_ARM])?,
        status,
        latency_ms: opt_f64(&slots[LATENCY_MS])?,
        event: opt_str(&slots[EVENT])?,
        value: opt_f64(&slots[VALUE])?,
    };
    Some(f(&v))
}

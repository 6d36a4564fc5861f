//! One line of input to one compact fact: plain JSON records, CloudWatch export lines (a
//! timestamp before the JSON), and Lambda's JSON log format (the record inside `message`, as a
//! string or an object). Pure: no I/O, no shared state beyond the caller's name table.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::dedup::id128_bytes;
use super::fast;

/// What one line turned out to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line {
    /// Only whitespace.
    Blank,
    /// A decision or outcome record.
    Record(Fact),
    /// Well-formed, but not a record (a platform log line, another program's JSON, ...).
    NotRecord,
    /// Looked like JSON but did not parse (truncated, corrupt, wrong field types).
    Corrupt,
}

/// Record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    Decision,
    Outcome,
}

/// Which rule chose the arm, reduced to what the analysis needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    /// `assigned_by = bucket`: eligible for tests and sample-ratio checks.
    Bucket,
    /// An override (`user_list`, `country`, `forced`) or no `assigned_by` at all.
    Other,
}

/// Marks an absent name.
pub const NONE: u32 = u32::MAX;

/// A record reduced to what the report needs; names are ids in the parsing worker's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fact {
    pub kind: FactKind,
    pub request: u128,
    pub unit: Option<u128>,
    /// Milliseconds since the Unix epoch; `None` when `ts` is missing or not RFC 3339.
    pub ts_ms: Option<i64>,
    pub phase: u32,
    /// Weights id, or [`NONE`].
    pub weights: u32,
    /// Arm id, or [`NONE`].
    pub arm: u32,
    pub assigned: Assigned,
    /// The fallback arm answered (`served_arm` set and not `arm`).
    pub fallback: bool,
    pub status: u16,
    pub latency_ms: Option<f64>,
    /// Event id of an accepted outcome (2xx), or [`NONE`].
    pub event: u32,
    pub value: f64,
}

/// A name the worker saw for the first time, to be announced with its id.
#[derive(Debug, Clone, PartialEq)]
pub enum Def {
    Phase {
        id: u32,
        experiment: String,
        version: String,
    },
    Arm {
        id: u32,
        name: String,
    },
    Event {
        id: u32,
        name: String,
    },
    Weights {
        id: u32,
        arms: Vec<(String, u32)>,
    },
}

/// A worker's table of names: each new name gets the next id and a [`Def`]. Names are looked
/// up by their bytes; a new name must be UTF-8 (else the lookup gives None and the line goes
/// to serde_json, which refuses it).
#[derive(Debug, Default)]
pub struct Names {
    phases: HashMap<Vec<u8>, HashMap<Vec<u8>, u32>>,
    phase_count: u32,
    /// The last phase looked up: most lines repeat it.
    last_phase: Option<(Vec<u8>, Vec<u8>, u32)>,
    arms: Table,
    events: Table,
    weights: Vec<Vec<(String, u32)>>,
    last_weights: Option<u32>,
    /// The fast path's memory of key order.
    keys: fast::Keys,
    /// Definitions not yet handed to the aggregator.
    pub defs: Vec<Def>,
}

fn utf8(b: &[u8]) -> Option<String> {
    std::str::from_utf8(b).ok().map(str::to_owned)
}

impl Names {
    fn phase(&mut self, experiment: &[u8], version: &[u8]) -> Option<u32> {
        if let Some((e, v, id)) = &self.last_phase
            && e == experiment
            && v == version
        {
            return Some(*id);
        }
        let id = match self.phases.get(experiment).and_then(|m| m.get(version)) {
            Some(id) => *id,
            None => {
                let (e, v) = (utf8(experiment)?, utf8(version)?);
                let id = self.phase_count;
                self.phase_count += 1;
                self.phases
                    .entry(experiment.to_vec())
                    .or_default()
                    .insert(version.to_vec(), id);
                self.defs.push(Def::Phase {
                    id,
                    experiment: e,
                    version: v,
                });
                id
            }
        };
        self.last_phase = Some((experiment.to_vec(), version.to_vec(), id));
        Some(id)
    }

    fn arm(&mut self, name: &[u8]) -> Option<u32> {
        intern(&mut self.arms, &mut self.defs, name, |id, name| Def::Arm {
            id,
            name,
        })
    }

    fn event(&mut self, name: &[u8]) -> Option<u32> {
        intern(&mut self.events, &mut self.defs, name, |id, name| {
            Def::Event { id, name }
        })
    }

    fn weights(&mut self, w: &[(&[u8], f64)]) -> Option<u32> {
        let same = |known: &[(String, u32)]| {
            known.len() == w.len()
                && known
                    .iter()
                    .zip(w)
                    .all(|((n, v), (m, x))| n.as_bytes() == *m && f64::from(*v) == *x)
        };
        if let Some(last) = self.last_weights
            && same(&self.weights[last as usize])
        {
            return Some(last);
        }
        let valid = w
            .iter()
            .all(|(_, x)| x.fract() == 0.0 && (0.0..=10_000.0).contains(x));
        if !valid {
            // Names must still be UTF-8 for the line to be a record at all.
            return w.iter().all(|(n, _)| utf8(n).is_some()).then_some(NONE);
        }
        let id = match self.weights.iter().position(|k| same(k)) {
            Some(i) => i as u32,
            None => {
                let mut arms = Vec::with_capacity(w.len());
                for (n, x) in w {
                    arms.push((utf8(n)?, *x as u32));
                }
                let id = self.weights.len() as u32;
                self.weights.push(arms.clone());
                self.defs.push(Def::Weights { id, arms });
                id
            }
        };
        self.last_weights = Some(id);
        Some(id)
    }
}

/// Names in first-seen order; a linear scan beats hashing for the handful of arms and events
/// an experiment has, and the map takes over when there are many.
#[derive(Debug, Default)]
struct Table {
    names: Vec<Vec<u8>>,
    map: HashMap<Vec<u8>, u32>,
}

/// Entries scanned linearly before the map is used.
const LINEAR: usize = 16;

fn intern(
    t: &mut Table,
    defs: &mut Vec<Def>,
    name: &[u8],
    def: impl FnOnce(u32, String) -> Def,
) -> Option<u32> {
    if let Some(i) = t.names.iter().take(LINEAR).position(|n| n == name) {
        return Some(i as u32);
    }
    if t.names.len() > LINEAR
        && let Some(id) = t.map.get(name)
    {
        return Some(*id);
    }
    let text = utf8(name)?;
    let id = t.names.len() as u32;
    t.names.push(name.to_vec());
    t.map.insert(name.to_vec(), id);
    defs.push(def(id, text));
    Some(id)
}

/// A string that borrows from the line when it has no escapes.
#[derive(Debug, Deserialize)]
struct Str<'a>(#[serde(borrow)] Cow<'a, str>);

/// The fields of a record (and of Lambda's JSON log wrapper) that the report reads; everything
/// else, the EMF block included, is skipped without being built.
#[derive(Debug, Default, Deserialize)]
struct Raw<'a> {
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
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
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

/// Classifies one line (without its newline) and reduces a record to a [`Fact`].
pub fn parse_line(line: &[u8], names: &mut Names) -> Line {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Line::Blank;
    }
    // CloudWatch exports put a timestamp (and sometimes more) before the JSON.
    let Some(start) = line.iter().position(|&b| b == b'{') else {
        return Line::NotRecord;
    };
    parse_json(&line[start..], names, 0)
}

fn parse_json(json: &[u8], names: &mut Names, depth: u8) -> Line {
    #[cfg(test)]
    if SLOW_ONLY.with(|s| s.get()) {
        return parse_json_serde(json, names, depth);
    }
    // The fast scanner handles the router's own lines; anything unusual (escapes, a Lambda
    // wrapper, duplicate keys, wrong types, broken JSON) goes to serde_json below.
    let mut keys = std::mem::take(&mut names.keys);
    let fast = fast::scan(json, &mut keys, |view| to_line(view, names));
    names.keys = keys;
    if let Some(Some(line)) = fast {
        return line;
    }
    parse_json_serde(json, names, depth)
}

#[cfg(test)]
thread_local! {
    /// Tests compare the fast path with serde_json alone.
    pub static SLOW_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn parse_json_serde(json: &[u8], names: &mut Names, depth: u8) -> Line {
    let mut de = serde_json::Deserializer::from_slice(json);
    // Trailing text after the object is tolerated (some exporters append fields).
    let raw = match Raw::deserialize(&mut de) {
        Ok(raw) => raw,
        Err(_) => return Line::Corrupt,
    };
    from_raw(&raw, names, depth)
}

fn from_raw(raw: &Raw<'_>, names: &mut Names, depth: u8) -> Line {
    if raw.kind.is_some() {
        return from_raw_fields(raw, names);
    }
    match (&raw.message, depth) {
        (Some(Message::Object(inner)), 0) => from_raw(inner, names, 1),
        (Some(Message::Text(text)), 0) => {
            let text = text.trim_ascii_start();
            match text.find('{') {
                Some(i) => parse_json(&text.as_bytes()[i..], names, 1),
                None => Line::NotRecord,
            }
        }
        _ => Line::NotRecord,
    }
}

/// The fields of one record as bytes, borrowed from the line (or from the serde fallback's
/// strings). The fast path checks UTF-8 only where a value is new (see [`Names`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct View<'a, 'w> {
    pub kind: Option<&'a [u8]>,
    pub ts: Option<&'a [u8]>,
    pub request_id: Option<&'a [u8]>,
    pub experiment: Option<&'a [u8]>,
    pub config_version: Option<&'a [u8]>,
    pub unit: Option<&'a [u8]>,
    pub assigned_by: Option<&'a [u8]>,
    pub arm: Option<&'a [u8]>,
    pub weights: Option<&'w [(&'a [u8], f64)]>,
    pub served_arm: Option<&'a [u8]>,
    pub status: Option<u16>,
    pub latency_ms: Option<f64>,
    pub event: Option<&'a [u8]>,
    pub value: Option<f64>,
}

fn from_raw_fields(r: &Raw<'_>, names: &mut Names) -> Line {
    let weights: Option<Vec<(&[u8], f64)>> = r
        .weights
        .as_ref()
        .map(|w| w.iter().map(|(n, x)| (n.0.as_bytes(), *x)).collect());
    let view = View {
        kind: r.kind.as_deref().map(str::as_bytes),
        ts: r.ts.as_deref().map(str::as_bytes),
        request_id: r.request_id.as_deref().map(str::as_bytes),
        experiment: r.experiment.as_deref().map(str::as_bytes),
        config_version: r.config_version.as_deref().map(str::as_bytes),
        unit: r.unit.as_deref().map(str::as_bytes),
        assigned_by: r.assigned_by.as_deref().map(str::as_bytes),
        arm: r.arm.as_deref().map(str::as_bytes),
        weights: weights.as_deref(),
        served_arm: r.served_arm.as_deref().map(str::as_bytes),
        status: r.status,
        latency_ms: r.latency_ms,
        event: r.event.as_deref().map(str::as_bytes),
        value: r.value,
    };
    // Strings from serde are UTF-8: the lookups cannot refuse them.
    to_line(&view, names).unwrap_or(Line::Corrupt)
}

/// A record's fields to a line: a fact, or not a record. None when a new name is not UTF-8
/// (the fast path then leaves the line to serde_json).
pub fn to_line(r: &View<'_, '_>, names: &mut Names) -> Option<Line> {
    let utf8_ok = |b: &[u8]| std::str::from_utf8(b).is_ok();
    let kind = match r.kind {
        Some(b"decision") => FactKind::Decision,
        Some(b"outcome") => FactKind::Outcome,
        Some(other) if !utf8_ok(other) => return None,
        _ => return Some(Line::NotRecord),
    };
    let Some(request_id) = r.request_id.filter(|s| !s.is_empty()) else {
        return Some(Line::NotRecord);
    };
    let (Some(experiment), Some(version)) = (r.experiment, r.config_version) else {
        return Some(Line::NotRecord);
    };
    let phase = names.phase(experiment, version)?;
    let arm = match r.arm {
        Some(a) => names.arm(a)?,
        None => NONE,
    };
    let weights = match r.weights {
        Some(w) if !w.is_empty() => names.weights(w)?,
        _ => NONE,
    };
    let status = r.status.unwrap_or(0);
    let accepted = kind == FactKind::Outcome && (200..300).contains(&status);
    let event = match (accepted, r.event) {
        (true, Some(e)) => names.event(e)?,
        (false, Some(e)) if !utf8_ok(e) => return None,
        _ => NONE,
    };
    let assigned = match r.assigned_by {
        Some(b"bucket") => Assigned::Bucket,
        Some(other) if !utf8_ok(other) => return None,
        _ => Assigned::Other,
    };
    let fallback = match (r.served_arm, r.arm) {
        (Some(s), Some(a)) if s != a => {
            if !utf8_ok(s) {
                return None;
            }
            true
        }
        _ => false,
    };
    Some(Line::Record(Fact {
        kind,
        request: id128_bytes(request_id),
        unit: r.unit.map(id128_bytes),
        ts_ms: r.ts.and_then(rfc3339_ms),
        phase,
        weights,
        arm,
        assigned,
        fallback,
        status,
        latency_ms: r.latency_ms.filter(|l| l.is_finite() && *l >= 0.0),
        event,
        value: r.value.filter(|v| v.is_finite()).unwrap_or(1.0),
    }))
}

/// Milliseconds since the Unix epoch of an RFC 3339 time (`2026-11-26T10:00:00.123Z`,
/// `...+01:00`; a space for the `T` is accepted).
pub fn rfc3339_ms(b: &[u8]) -> Option<i64> {
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (UTC, milliseconds) of milliseconds since the Unix epoch.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Inverse of days_from_civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECISION: &str = r#"{"kind":"decision","ts":"2026-11-26T10:00:00.250Z","request_id":"r1","experiment":"exp","config_version":"v1","unit":"u1","id_source":"header","assigned_by":"bucket","bucket":42,"arm":"canary","weights":[["control",9000],["canary",1000]],"served_arm":"control","endpoint":"e","invoked_variant":"AllTraffic","status":200,"error":null,"latency_ms":12.5,"model_latency_ms":10.0,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["experiment","arm"]],"Metrics":[{"Name":"latency_ms","Unit":"Milliseconds"}]}]},"invocations":1,"errors":0,"fallbacks":1}"#;

    fn fact(line: &str) -> (Fact, Names) {
        let mut names = Names::default();
        match parse_line(line.as_bytes(), &mut names) {
            Line::Record(f) => (f, names),
            other => panic!("{other:?} for {line}"),
        }
    }

    #[test]
    fn a_decision_becomes_a_fact_and_announces_its_names() {
        let (f, names) = fact(DECISION);
        assert_eq!(f.kind, FactKind::Decision);
        assert_eq!(f.request, crate::report::id128("r1"));
        assert_eq!(f.unit, Some(crate::report::id128("u1")));
        assert_eq!(f.ts_ms, Some(1_795_687_200_250));
        assert_eq!(f.assigned, Assigned::Bucket);
        assert!(f.fallback);
        assert_eq!(f.status, 200);
        assert_eq!(f.latency_ms, Some(12.5));
        assert_eq!(f.event, NONE);
        assert_eq!(
            names.defs,
            vec![
                Def::Phase {
                    id: 0,
                    experiment: "exp".into(),
                    version: "v1".into()
                },
                Def::Arm {
                    id: 0,
                    name: "canary".into()
                },
                Def::Weights {
                    id: 0,
                    arms: vec![("control".into(), 9000), ("canary".into(), 1000)]
                },
            ]
        );
    }

    #[test]
    fn names_are_announced_once() {
        let mut names = Names::default();
        for _ in 0..3 {
            assert!(matches!(
                parse_line(DECISION.as_bytes(), &mut names),
                Line::Record(_)
            ));
        }
        assert_eq!(names.defs.len(), 3);
    }

    #[test]
    fn outcomes_carry_their_event_only_when_accepted() {
        let ok = r#"{"kind":"outcome","ts":"2026-11-26T10:00:01Z","request_id":"r2","experiment":"exp","config_version":"v1","unit":"u1","assigned_by":"forced","arm":"control","weights":[["control",9000],["canary",1000]],"served_arm":null,"status":202,"error":null,"latency_ms":0.1,"event":"correct","value":0.0,"prediction_id":"r1"}"#;
        let (f, _) = fact(ok);
        assert_eq!(f.kind, FactKind::Outcome);
        assert_ne!(f.event, NONE);
        assert_eq!(f.value, 0.0);
        assert_eq!(f.assigned, Assigned::Other);
        assert!(!f.fallback);
        let refused = ok.replace("\"status\":202", "\"status\":400");
        assert_eq!(fact(&refused).0.event, NONE);
        let no_value = ok.replace(",\"value\":0.0", "");
        assert_eq!(fact(&no_value).0.value, 1.0);
    }

    #[test]
    fn cloudwatch_export_lines_have_a_timestamp_prefix() {
        let line = format!("2026-11-26T10:00:00.250Z {DECISION}");
        assert_eq!(fact(&line).0.request, crate::report::id128("r1"));
        let tabbed = format!("2026-11-26T10:00:00.250Z\tr1\tINFO\t{DECISION}\r");
        assert_eq!(fact(&tabbed).0.request, crate::report::id128("r1"));
    }

    #[test]
    fn lambda_json_logs_carry_the_record_in_message() {
        let as_text = serde_json::json!({
            "timestamp": "2026-11-26T10:00:00.250Z", "level": "INFO",
            "requestId": "x", "message": DECISION,
        })
        .to_string();
        assert_eq!(fact(&as_text).0.request, crate::report::id128("r1"));
        let as_object = format!(
            r#"{{"timestamp":"2026-11-26T10:00:00Z","level":"INFO","message":{DECISION},"requestId":"x"}}"#
        );
        assert_eq!(fact(&as_object).0.request, crate::report::id128("r1"));
    }

    #[test]
    fn other_lines_are_classified_not_fatal() {
        let mut names = Names::default();
        let mut kind = |s: &str| parse_line(s.as_bytes(), &mut names);
        assert_eq!(kind("   "), Line::Blank);
        assert_eq!(
            kind("START RequestId: abc Version: $LATEST"),
            Line::NotRecord
        );
        assert_eq!(
            kind(r#"{"level":"INFO","message":"hello"}"#),
            Line::NotRecord
        );
        assert_eq!(kind(r#"{"message":{"kind":"other"}}"#), Line::NotRecord);
        assert_eq!(
            kind(r#"{"kind":"decision","experiment":"e"}"#),
            Line::NotRecord
        );
        assert_eq!(kind(&DECISION[..DECISION.len() / 2]), Line::Corrupt);
        assert_eq!(kind(r#"{"kind":"decision","status":"ok"}"#), Line::Corrupt);
        assert_eq!(kind("{\"kind\":\u{1}}"), Line::Corrupt);
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let line = DECISION.replace(r#""arm":"canary""#, r#""arm":"can\u0061ry""#);
        let (f, names) = fact(&line);
        assert!(names.defs.contains(&Def::Arm {
            id: f.arm,
            name: "canary".into()
        }));
    }

    #[test]
    fn invalid_weights_are_ignored_not_fatal() {
        let line = DECISION.replace("9000", "9000.5");
        assert_eq!(fact(&line).0.weights, NONE);
    }

    #[test]
    fn rfc3339_parses_offsets_and_fractions() {
        assert_eq!(rfc3339_ms(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms(b"1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(rfc3339_ms(b"1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(rfc3339_ms(b"1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(
            rfc3339_ms(b"2000-02-29T12:00:00.123456Z"),
            Some(951_825_600_123)
        );
        assert_eq!(rfc3339_ms(b"2026-13-01T00:00:00Z"), None);
        assert_eq!(rfc3339_ms(b"2026-11-26T10:00:00"), None);
        assert_eq!(rfc3339_ms(b"garbage-that-is-long-enough"), None);
        for ms in [0, 1_795_687_200_250, 951_825_600_123, -86_400_001] {
            assert_eq!(rfc3339_ms(format_ms(ms).as_bytes()), Some(ms), "{ms}");
        }
    }
}

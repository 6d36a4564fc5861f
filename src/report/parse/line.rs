//! One line to a [`Line`]: the fast scanner first, serde_json for whatever it gives up on,
//! and the reduction of a record's fields to a [`Fact`] shared by both.

use super::fact::{Assigned, Fact, FactKind, Line};
use super::fast::{self, Keys};
use super::id128::id128;
use super::names::{Names, TargetBytes};
use super::rfc3339::rfc3339_ms;
use super::serde_path::{self, Read};
use super::view::View;

/// A parsing worker's state: its table of names, and what the fast scanner remembers of the
/// lines before.
#[derive(Debug, Default)]
pub(crate) struct LineParser {
    pub(crate) names: Names,
    keys: Keys,
}

/// A parser of the JSON object of a line, at a Lambda wrapper depth (see [`parse_json_serde`]).
pub(crate) type JsonParser = fn(&[u8], &mut LineParser, u8) -> Line;

/// Classifies one line (without its newline) and reduces a record to a [`Fact`].
pub(crate) fn parse_line(line: &[u8], parser: &mut LineParser) -> Line {
    parse_line_with(line, parser, parse_json)
}

/// [`parse_line`] with the JSON object read by `json`.
pub(crate) fn parse_line_with(line: &[u8], parser: &mut LineParser, json: JsonParser) -> Line {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Line::Blank;
    }
    // CloudWatch exports put a timestamp (and sometimes more) before the JSON.
    let Some(start) = line.iter().position(|&b| b == b'{') else {
        return Line::NotRecord;
    };
    json(&line[start..], parser, 0)
}

/// The fast scanner handles the router's own lines; anything unusual (escapes, a Lambda
/// wrapper, duplicate keys, wrong types, broken JSON) goes to serde_json, which decides.
pub(crate) fn parse_json(json: &[u8], parser: &mut LineParser, depth: u8) -> Line {
    match parse_json_fast(json, parser) {
        Some(line) => line,
        None => parse_json_serde(json, parser, depth, parse_json),
    }
}

/// The fast scanner alone; None where it gives up.
pub(crate) fn parse_json_fast(json: &[u8], parser: &mut LineParser) -> Option<Line> {
    let LineParser { names, keys } = parser;
    fast::scan(json, keys, |view| to_line(view, names)).flatten()
}

/// serde_json alone; a record in a Lambda `message` string (depth 0 only) is parsed again by
/// `nested`, at depth 1.
pub(crate) fn parse_json_serde(
    json: &[u8],
    parser: &mut LineParser,
    depth: u8,
    nested: JsonParser,
) -> Line {
    match serde_path::read(json, depth) {
        Read::Corrupt => Line::Corrupt,
        Read::NotRecord => Line::NotRecord,
        // Strings from serde are UTF-8: the lookups cannot refuse them.
        Read::Record(raw) if raw.is_shadow() => raw.shadow_line(),
        Read::Record(raw) => raw
            .view(|view| to_line(view, &mut parser.names))
            .unwrap_or(Line::Corrupt),
        Read::Nested { text, start } => nested(&text.as_bytes()[start..], parser, 1),
    }
}

/// A record's fields to a line: a fact, or not a record. None when a new name gets no id
/// (not UTF-8: the fast path then leaves the line to serde_json).
fn to_line(r: &View<'_, '_>, names: &mut Names) -> Option<Line> {
    let utf8_ok = |b: &[u8]| std::str::from_utf8(b).is_ok();
    let kind = match r.kind {
        Some(b"decision") => FactKind::Decision,
        Some(b"outcome") => FactKind::Outcome,
        // Shadow records carry fields the scanner does not read: serde_json takes them.
        Some(b"shadow") => return None,
        Some(other) if !utf8_ok(other) => return None,
        _ => return Some(Line::NotRecord),
    };
    let Some(request_id) = r.request_id.filter(|s| !s.is_empty()) else {
        return Some(Line::NotRecord);
    };
    let (Some(experiment), Some(version)) = (r.experiment, r.config_version) else {
        return Some(Line::NotRecord);
    };
    // Every name the line holds is checked before the first is interned: a line the serde
    // path refuses (a name that is not UTF-8) must not announce a phase or an arm.
    let text = |b: &[u8]| b.is_ascii() || utf8_ok(b);
    let names_ok = [
        r.arm,
        r.event,
        r.assigned_by,
        r.served_arm,
        r.endpoint,
        r.invoked_variant,
        r.inference_component,
        r.target_model,
        r.target_container_hostname,
    ]
    .into_iter()
    .flatten()
    .all(text)
        && r.weights.is_none_or(|w| w.iter().all(|(n, _)| text(n)));
    if !names_ok {
        return None;
    }
    let phase = names.phase(experiment, version).ok()?;
    let arm = match r.arm {
        Some(a) => Some(names.arm(a).ok()?),
        None => None,
    };
    let weights = match r.weights {
        Some(w) if !w.is_empty() => names.weights(w).ok()?,
        _ => None,
    };
    let status = r.status.unwrap_or(0);
    let accepted = kind == FactKind::Outcome && (200..300).contains(&status);
    let event = match (accepted, r.event) {
        (true, Some(e)) => Some(names.event(e).ok()?),
        (false, Some(e)) if !utf8_ok(e) => return None,
        _ => None,
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
    // The endpoint and target fields name the last call, the fallback's when it answered:
    // they are the arm's own only without one.
    let target = match (kind, r.endpoint) {
        (FactKind::Decision, Some(endpoint)) if !fallback => Some(
            names
                .target(TargetBytes {
                    endpoint,
                    invoked_variant: r.invoked_variant,
                    inference_component: r.inference_component,
                    target_model: r.target_model,
                    target_container_hostname: r.target_container_hostname,
                })
                .ok()?,
        ),
        _ => None,
    };
    Some(Line::Record(Fact {
        kind,
        request: id128(request_id),
        unit: r.unit.map(id128),
        ts_ms: r.ts.and_then(rfc3339_ms),
        phase,
        weights,
        arm,
        assigned,
        fallback,
        status,
        latency_ms: r.latency_ms.filter(|l| l.is_finite() && *l >= 0.0),
        first_byte_ms: r
            .first_byte_ms
            .filter(|l| l.is_finite() && *l >= 0.0)
            .map(|l| l as f32),
        tokens: r
            .tokens
            .filter(|t| t.is_finite() && *t >= 0.0)
            .map(|t| t as f32),
        event,
        value: r.value.filter(|v| v.is_finite()).unwrap_or(1.0),
        target,
    }))
}

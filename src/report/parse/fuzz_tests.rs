//! Fuzz target: the fast scanner against serde_json alone, on any bytes. Lines are read in
//! order by one parser of each kind, so what the fast path remembers of earlier lines (keys,
//! skipped values) is exercised too. `scripts/fuzz.sh report_parse_agree` runs it
//! coverage-guided; plain `cargo test` replays its corpus in `__fuzz__/`.
//!
//! The one disagreement allowed is the documented one: the fast path checks the values it
//! skips for structure only, so on a line that is not valid JSON it may read a record (or
//! "not a record") where serde_json refuses the line. On valid JSON both must give the same
//! line and announce the same names.

use serde::Deserialize;

use super::batch::{LineCounts, parse_chunk};
use super::fact::{Fact, Line};
use super::line::{LineParser, parse_json_serde, parse_line, parse_line_with};

/// Under `cargo test` a target replays its committed corpus only, so that CI is deterministic;
/// `BOLERO_RANDOM_ITERATIONS=N` adds N random inputs. The fuzzing engine ignores it.
const REPLAY_ONLY: usize = 0;

fn serde_only(json: &[u8], parser: &mut LineParser, depth: u8) -> Line {
    parse_json_serde(json, parser, depth, serde_only)
}

fn serde_line(line: &[u8], parser: &mut LineParser) -> Line {
    parse_line_with(line, parser, serde_only)
}

/// Whether the JSON object a line holds (and the record inside a Lambda `message` string, as
/// both paths read it) is valid JSON from its `{` on; trailing text is tolerated, as both
/// paths tolerate it.
fn strictly_valid(json: &[u8], depth: u8) -> bool {
    let mut de = serde_json::Deserializer::from_slice(json);
    let Ok(value) = serde_json::Value::deserialize(&mut de) else {
        return false;
    };
    let inner = match (&value.get("kind"), value.get("message"), depth) {
        (None, Some(serde_json::Value::String(text)), 0) => text.find('{').map(|s| &text[s..]),
        _ => None,
    };
    inner.is_none_or(|text| strictly_valid(text.as_bytes(), 1))
}

fn line_is_valid_json(line: &[u8]) -> bool {
    let line = line.trim_ascii();
    match line.iter().position(|&b| b == b'{') {
        Some(start) => strictly_valid(&line[start..], 0),
        None => true,
    }
}

/// The same line, floats to within a few ULPs: serde_json, built without its
/// `float_roundtrip` feature, reads some numbers one ULP off where the fast path (exact)
/// does not (`2000000033333333.0`); see `config_floats_are_read_as_written` in tests/fuzz.rs.
fn same_line(a: &Line, b: &Line) -> bool {
    let close =
        |x: f64, y: f64| x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs());
    let close32 = |x: Option<f32>, y: Option<f32>| match (x, y) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 4.0 * f32::EPSILON * x.abs().max(y.abs()),
        (x, y) => x == y,
    };
    match (a, b) {
        (Line::Record(x), Line::Record(y)) => {
            let latency = match (x.latency_ms, y.latency_ms) {
                (Some(p), Some(q)) => close(p, q),
                (p, q) => p == q,
            };
            let rest = Fact {
                latency_ms: y.latency_ms,
                first_byte_ms: y.first_byte_ms,
                tokens: y.tokens,
                value: y.value,
                ..*x
            };
            latency
                && close32(x.first_byte_ms, y.first_byte_ms)
                && close32(x.tokens, y.tokens)
                && close(x.value, y.value)
                && rest == *y
        }
        _ => a == b,
    }
}

fn agree(input: &[u8]) {
    let mut fast_parser = LineParser::default();
    let mut slow_parser = LineParser::default();
    for line in input.split(|&b| b == b'\n').take(64) {
        let fast = parse_line(line, &mut fast_parser);
        let slow = serde_line(line, &mut slow_parser);
        if !same_line(&fast, &slow) {
            let text = String::from_utf8_lossy(line);
            assert!(
                slow == Line::Corrupt && fast != Line::Corrupt && !line_is_valid_json(line),
                "fast {fast:?}, serde {slow:?} on {text}"
            );
            // The tables of names now differ (the fast path named what serde refused): the
            // lines after this one cannot be compared.
            return;
        }
        assert_eq!(
            fast_parser.names.defs,
            slow_parser.names.defs,
            "names announced for {}",
            String::from_utf8_lossy(line)
        );
    }
}

/// A chunk is its lines: the batch holds the facts and counts that line-by-line parsing gives.
fn chunk_is_its_lines(input: &[u8]) {
    let batch = parse_chunk(input, &mut LineParser::default());
    let mut parser = LineParser::default();
    let mut counts = LineCounts::default();
    let mut facts = Vec::new();
    if !input.is_empty() {
        let body = input.strip_suffix(b"\n").unwrap_or(input);
        for line in body.split(|&b| b == b'\n') {
            counts.lines += 1;
            match parse_line(line, &mut parser) {
                Line::Blank => counts.blank += 1,
                Line::Record(f) => {
                    counts.records += 1;
                    facts.push(f);
                }
                Line::Shadow(_) => counts.records += 1,
                Line::NotRecord => counts.not_records += 1,
                Line::Corrupt => counts.corrupt += 1,
            }
        }
    }
    assert_eq!(batch.counts, counts);
    assert_eq!(batch.facts, facts);
    assert_eq!(batch.defs, parser.names.defs);
}

#[test]
fn report_parse_agree() {
    bolero::check!()
        .with_iterations(REPLAY_ONLY)
        .for_each(|input: &[u8]| {
            agree(input);
            chunk_is_its_lines(input);
        });
}

#[test]
fn a_line_serde_refuses_announces_no_names() {
    // Found by report_parse_agree: an arm that is not UTF-8 sent the line to serde_json,
    // which refuses it, after the fast path had announced its phase (an empty phase in the
    // report).
    for line in [
        &b"{\"kind\":\"decision\",\"request_id\":\"r\",\"experiment\":\"e\",\"config_version\":\"v\",\"arm\":\"\xff\"}"[..],
        b"{\"kind\":\"outcome\",\"request_id\":\"r\",\"experiment\":\"e\",\"config_version\":\"v\",\"arm\":\"a\",\"status\":200,\"event\":\"\xc3\"}",
        b"{\"kind\":\"decision\",\"request_id\":\"r\",\"experiment\":\"e\",\"config_version\":\"v\",\"arm\":\"a\",\"weights\":[[\"\xfe\",1]]}",
    ] {
        let mut parser = LineParser::default();
        assert_eq!(parse_line(line, &mut parser), Line::Corrupt);
        assert_eq!(parser.names.defs, vec![], "{}", String::from_utf8_lossy(line));
        agree(line);
    }
}

#[test]
fn fields_only_the_serde_path_reads_are_checked_by_the_fast_path_too() {
    // Found by report_parse_agree: serde_json refuses a mistyped or repeated field it reads
    // (endpoint, or a shadow record's fields) while the fast path skipped them, so valid JSON
    // was a record (or "not a record") on one path and corrupt on the other.
    let decision = r#"{"kind":"decision","request_id":"r","experiment":"e","config_version":"v","arm":"a","status":200,"endpoint":"ep"}"#;
    for line in [
        r#"{"primary_latency_ms":true}"#.to_owned(),
        decision.replace(r#""ep""#, "5"),
        decision.replace(r#""ep""#, r#""ep","endpoint":"other""#),
        decision.replace(r#""ep""#, r#""ep","agrees":1"#),
        decision.to_owned(),
    ] {
        agree(line.as_bytes());
        let (fast, slow) = (
            parse_line(line.as_bytes(), &mut LineParser::default()),
            serde_line(line.as_bytes(), &mut LineParser::default()),
        );
        assert_eq!(fast, slow, "{line}");
    }
}

#[test]
fn long_numbers_do_not_overflow_the_fast_decimal_path() {
    // Found by report_parse_agree: a number of more than 19 digits overflowed the fast
    // path's u64 mantissa (a panic where overflow is checked, as in debug builds).
    for n in [
        "12345678901234567890123",
        "1.2345678901234567890123",
        "1234567890123456",
        "0.123456789012345",
    ] {
        let line = format!(
            r#"{{"kind":"decision","request_id":"r","experiment":"e","config_version":"v","arm":"a","status":200,"latency_ms":{n}}}"#
        );
        agree(line.as_bytes());
        let Line::Record(fact) = parse_line(line.as_bytes(), &mut LineParser::default()) else {
            panic!("{line}");
        };
        assert_eq!(fact.latency_ms, n.parse().ok(), "{line}");
    }
}

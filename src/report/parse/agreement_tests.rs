//! The fast scanner against serde_json alone: on the router's lines, their variants, every
//! truncation and every one-byte change, both give the same answer (or the fast path, which
//! checks skipped values for structure only, reads the same record where serde refuses one).
use super::fact::Line;
use super::fast::{Keys, scan};
use super::line::{LineParser, parse_json_serde, parse_line, parse_line_with};
use super::names::Def;

/// serde_json alone, for a Lambda wrapper's nested record too.
fn serde_only(json: &[u8], parser: &mut LineParser, depth: u8) -> Line {
    parse_json_serde(json, parser, depth, serde_only)
}

fn serde_line(line: &[u8], parser: &mut LineParser) -> Line {
    parse_line_with(line, parser, serde_only)
}

const DECISION: &str = r#"{"kind":"decision","ts":"2026-11-26T10:00:00.250Z","request_id":"0123abcd-4567-4890-abcd-ef0123456789","experiment":"exp","config_version":"v1","unit":"15070d2d3099ea0a2b32d298a830fd94563964a04e01b4da330cb50c0cb3a4e2","id_source":"header","assigned_by":"bucket","bucket":42,"arm":"canary","weights":[["control",9000],["canary",1000]],"served_arm":"control","endpoint":"e","invoked_variant":"AllTraffic","status":200,"error":null,"latency_ms":12.5,"model_latency_ms":10.0,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["experiment","arm"]],"Metrics":[{"Name":"latency_ms","Unit":"Milliseconds"}]}]},"invocations":1,"errors":0,"fallbacks":1}"#;
const OUTCOME: &str = r#"{"kind":"outcome","ts":"2026-11-26T10:00:01Z","request_id":"r2","experiment":"exp","config_version":"v1","unit":"u1","assigned_by":"forced","arm":"control","weights":[["control",9000],["canary",1000]],"served_arm":null,"status":202,"error":null,"latency_ms":0.1,"event":"correct","value":0.0,"prediction_id":"r1"}"#;

/// Classifies with the fast path (and its fallback), then with serde_json alone.
fn both(line: &str) -> (Line, Line, Vec<Def>, Vec<Def>) {
    let mut a = LineParser::default();
    let fast = parse_line(line.as_bytes(), &mut a);
    let mut b = LineParser::default();
    let slow = serde_line(line.as_bytes(), &mut b);
    (fast, slow, a.names.defs, b.names.defs)
}

fn agree(line: &str) {
    let (fast, slow, da, db) = both(line);
    assert_eq!(fast, slow, "{line}");
    assert_eq!(da, db, "{line}");
}

#[test]
fn invalid_utf8_in_a_kept_field_goes_to_serde() {
    let mut parser = LineParser::default();
    let mut line = DECISION.as_bytes().to_vec();
    let at = DECISION.find("\"canary\"").unwrap() + 2;
    line[at] = 0xff;
    let slow = serde_line(&line, &mut LineParser::default());
    assert_eq!(slow, Line::Corrupt);
    assert_eq!(parse_line(&line, &mut parser), Line::Corrupt);
    assert!(
        parser.names.defs.is_empty()
            || !parser
                .names
                .defs
                .iter()
                .any(|d| matches!(d, Def::Arm { .. }))
    );
}

#[test]
fn the_fast_path_takes_the_routers_lines() {
    for line in [DECISION, OUTCOME] {
        let mut seen = false;
        let r = scan(line.as_bytes(), &mut Keys::default(), |v| {
            seen = v.kind.is_some() && v.weights.is_some_and(|w| w.len() == 2);
        });
        assert!(r.is_some() && seen, "{line}");
        agree(line);
    }
}

#[test]
fn fast_and_serde_agree_on_variants() {
    let spaced = DECISION
        .replace(",\"", " ,\n\t\"")
        .replace("\":", "\" : ")
        .replace("[[", "[ [ ")
        .replace("]]", " ] ]");
    let variants = vec![
        spaced,
        DECISION.replace("\"arm\":\"canary\"", "\"arm\":\"can\\u0061ry\""),
        DECISION.replace("\"Namespace\":\"N\"", "\"Namespace\":\"a}]\\\"{[b\""),
        DECISION.replace("12.5", "1.25e1"),
        DECISION.replace("12.5", "-0.0"),
        DECISION.replace("\"status\":200", "\"status\":200.0"),
        DECISION.replace("\"status\":200", "\"status\":\"200\""),
        DECISION.replace("\"status\":200", "\"status\":70000"),
        DECISION.replace("\"unit\":\"1507", "\"unit\":null,\"x\":\"1507"),
        DECISION.replace(
            "\"kind\":\"decision\",",
            "\"kind\":\"decision\",\"kind\":\"outcome\",",
        ),
        DECISION.replace(
            "\"weights\":[[\"control\",9000],[\"canary\",1000]]",
            "\"weights\":[]",
        ),
        DECISION.replace(
            "\"weights\":[[\"control\",9000],[\"canary\",1000]]",
            "\"weights\":null",
        ),
        DECISION.replace("[\"canary\",1000]", "[\"canary\",1000,1]"),
        DECISION.replace("\"invocations\":1", "\"invocations\":[true,false,null,{}]"),
        DECISION.replace("{\"kind\"", "{\"k\\u0069nd\":\"x\",\"kind\""),
        format!("{DECISION} trailing"),
        format!("{{\"message\":{DECISION}}}"),
        OUTCOME.replace("\"value\":0.0", "\"value\":null"),
        OUTCOME.replace(
            "\"event\":\"correct\"",
            "\"event\":\"\\u00e9v\\u00e9nement\"",
        ),
        OUTCOME.replace("\"event\":\"correct\"", "\"event\":\"événement\""),
        "{}".to_owned(),
        "{\"kind\":\"decision\"}".to_owned(),
    ];
    for v in &variants {
        agree(v);
    }
}

#[test]
fn remembered_keys_do_not_change_answers() {
    // One table of names (and remembered keys) across many different lines, fast path
    // against serde_json alone.
    let mut lines: Vec<String> = vec![DECISION.into(), OUTCOME.into(), DECISION.into()];
    for cut in (10..DECISION.len()).step_by(37) {
        lines.push(DECISION[..cut].to_owned());
        lines.push(DECISION.into());
    }
    lines.push(DECISION.replace("\"kind\":", "\"kinds\":"));
    lines.push(DECISION.replace("\"kind\":\"decision\"", "\"ki\":1,\"kind\":\"decision\""));
    lines.push(DECISION.replace("\"ts\":", "\"ts\" :"));
    lines.push(DECISION.replace("\"unit\":", "\"unit_\":"));
    lines.push(OUTCOME.replace("\"event\":", "\"message\":1,\"event\":"));
    lines.push(DECISION.into());
    let mut fast_parser = LineParser::default();
    let mut slow_parser = LineParser::default();
    for line in &lines {
        let fast = parse_line(line.as_bytes(), &mut fast_parser);
        let slow = serde_line(line.as_bytes(), &mut slow_parser);
        assert_eq!(fast, slow, "{line}");
    }
}

#[test]
fn remembered_values_do_not_change_answers() {
    // The memory of skipped values is filled by a whole line; then every one-byte change
    // of the same line must get the answer serde_json gives (or, as in the test below,
    // the original record where serde refuses a value the fast path checks for structure
    // only). A remembered value is reused only when the bytes are the same.
    let mut fast_parser = LineParser::default();
    let mut slow_parser = LineParser::default();
    let fast_line = |line: &str, parser: &mut LineParser| parse_line(line.as_bytes(), parser);
    let slow_line = |line: &str, parser: &mut LineParser| serde_line(line.as_bytes(), parser);
    let original = fast_line(DECISION, &mut fast_parser);
    assert_eq!(slow_line(DECISION, &mut slow_parser), original);
    assert!(matches!(original, Line::Record(_)));
    for i in 0..DECISION.len() {
        for c in [b'{', b'}', b'"', b',', b']', b'x', b'1', b'\\'] {
            let mut bytes = DECISION.as_bytes().to_vec();
            bytes[i] = c;
            let Ok(line) = String::from_utf8(bytes) else {
                continue;
            };
            assert_eq!(fast_line(DECISION, &mut fast_parser), original);
            let fast = fast_line(&line, &mut fast_parser);
            let slow = slow_line(&line, &mut slow_parser);
            assert!(
                fast == slow || (fast == original && slow == Line::Corrupt),
                "byte {i} -> {}: fast {fast:?}, serde {slow:?}",
                c as char
            );
        }
    }
    // A block that differs from the remembered one only after a common start.
    let other = DECISION.replace("\"Unit\":\"Milliseconds\"", "\"Unit\":\"Seconds\"");
    assert_eq!(fast_line(&other, &mut fast_parser), original);
    let broken = DECISION.replace("\"Unit\":\"Milliseconds\"}", "\"Unit\":\"Milliseconds\"");
    assert_eq!(fast_line(&broken, &mut fast_parser), Line::Corrupt);
    assert_eq!(fast_line(DECISION, &mut fast_parser), original);
}

#[test]
fn truncated_lines_never_become_records() {
    for line in [DECISION, OUTCOME] {
        for cut in 1..line.len() - 1 {
            let Some(prefix) = line.get(..cut) else {
                continue;
            };
            let (fast, slow, ..) = both(prefix);
            assert_eq!(fast, slow, "{prefix}");
            assert!(!matches!(fast, Line::Record(_)), "{prefix}");
        }
    }
}

#[test]
fn every_single_byte_change_agrees_or_is_at_least_structural() {
    // Replacing one byte either gives the same answer on both paths, or serde refuses a
    // value the fast path skipped (checked for structure only) and the fast path read
    // the very same record.
    let (original, ..) = both(DECISION);
    for i in 0..DECISION.len() {
        for c in [b'{', b'"', b',', b']', b'x', b'\\'] {
            let mut bytes = DECISION.as_bytes().to_vec();
            bytes[i] = c;
            let Ok(line) = String::from_utf8(bytes) else {
                continue;
            };
            let (fast, slow, ..) = both(&line);
            if fast != slow {
                assert!(
                    fast == original && matches!(slow, Line::Corrupt),
                    "byte {i} -> {}: fast {fast:?}, serde {slow:?}",
                    c as char
                );
            }
        }
    }
}

#[test]
fn fast_and_serde_agree_on_targets() {
    let own = DECISION.replace(r#""served_arm":"control""#, r#""served_arm":"canary""#);
    for extra in [
        r#","inference_component":"ic-b""#,
        r#","target_model":"m\/a.tar.gz""#,
        r#","target_container_hostname":"c","inference_component":null"#,
    ] {
        agree(&own.replace(r#","status":200"#, &format!("{extra},\"status\":200")));
    }
    // A target that is not UTF-8: serde refuses the line, and so does the fast path.
    let mut line = own
        .replace(r#","status":200"#, r#","target_model":"mm","status":200"#)
        .into_bytes();
    let at = line.windows(4).position(|w| w == b"\"mm\"").unwrap() + 1;
    line[at] = 0xff;
    let mut parser = LineParser::default();
    assert_eq!(serde_line(&line, &mut LineParser::default()), Line::Corrupt);
    assert_eq!(parse_line(&line, &mut parser), Line::Corrupt);
    assert!(parser.names.defs.is_empty());
}

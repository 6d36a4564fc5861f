//! A line to a fact, through whichever path takes it.

use super::fact::{Assigned, Fact, FactKind, Id, Line};
use super::id128::id128;
use super::line::{LineParser, parse_line};
use super::names::Def;

const DECISION: &str = r#"{"kind":"decision","ts":"2026-11-26T10:00:00.250Z","request_id":"r1","experiment":"exp","config_version":"v1","unit":"u1","id_source":"header","assigned_by":"bucket","bucket":42,"arm":"canary","weights":[["control",9000],["canary",1000]],"served_arm":"control","endpoint":"e","invoked_variant":"AllTraffic","status":200,"error":null,"latency_ms":12.5,"model_latency_ms":10.0,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["experiment","arm"]],"Metrics":[{"Name":"latency_ms","Unit":"Milliseconds"}]}]},"invocations":1,"errors":0,"fallbacks":1}"#;

fn fact(line: &str) -> (Fact, LineParser) {
    let mut parser = LineParser::default();
    match parse_line(line.as_bytes(), &mut parser) {
        Line::Record(f) => (f, parser),
        other => panic!("{other:?} for {line}"),
    }
}

#[test]
fn a_decision_becomes_a_fact_and_announces_its_names() {
    let first = Id::from_index(0).unwrap();
    let (f, parser) = fact(DECISION);
    assert_eq!(f.kind, FactKind::Decision);
    assert_eq!(f.request, id128(b"r1"));
    assert_eq!(f.unit, Some(id128(b"u1")));
    assert_eq!(f.ts_ms, Some(1_795_687_200_250));
    assert_eq!(f.assigned, Assigned::Bucket);
    assert!(f.fallback);
    assert_eq!(f.status, 200);
    assert_eq!(f.latency_ms, Some(12.5));
    assert_eq!(f.event, None);
    assert_eq!(
        parser.names.defs,
        vec![
            Def::Phase {
                id: first,
                experiment: "exp".into(),
                version: "v1".into()
            },
            Def::Arm {
                id: first,
                name: "canary".into()
            },
            Def::Weights {
                id: first,
                arms: vec![("control".into(), 9000), ("canary".into(), 1000)]
            },
        ]
    );
}

#[test]
fn names_are_announced_once() {
    let mut parser = LineParser::default();
    for _ in 0..3 {
        assert!(matches!(
            parse_line(DECISION.as_bytes(), &mut parser),
            Line::Record(_)
        ));
    }
    assert_eq!(parser.names.defs.len(), 3);
}

#[test]
fn outcomes_carry_their_event_only_when_accepted() {
    let ok = r#"{"kind":"outcome","ts":"2026-11-26T10:00:01Z","request_id":"r2","experiment":"exp","config_version":"v1","unit":"u1","assigned_by":"forced","arm":"control","weights":[["control",9000],["canary",1000]],"served_arm":null,"status":202,"error":null,"latency_ms":0.1,"event":"correct","value":0.0,"prediction_id":"r1"}"#;
    let (f, _) = fact(ok);
    assert_eq!(f.kind, FactKind::Outcome);
    assert!(f.event.is_some());
    assert_eq!(f.value, 0.0);
    assert_eq!(f.assigned, Assigned::Other);
    assert!(!f.fallback);
    let refused = ok.replace("\"status\":202", "\"status\":400");
    assert_eq!(fact(&refused).0.event, None);
    let no_value = ok.replace(",\"value\":0.0", "");
    assert_eq!(fact(&no_value).0.value, 1.0);
}

#[test]
fn cloudwatch_export_lines_have_a_timestamp_prefix() {
    let line = format!("2026-11-26T10:00:00.250Z {DECISION}");
    assert_eq!(fact(&line).0.request, id128(b"r1"));
    let tabbed = format!("2026-11-26T10:00:00.250Z\tr1\tINFO\t{DECISION}\r");
    assert_eq!(fact(&tabbed).0.request, id128(b"r1"));
}

#[test]
fn lambda_json_logs_carry_the_record_in_message() {
    let as_text = serde_json::json!({
        "timestamp": "2026-11-26T10:00:00.250Z", "level": "INFO",
        "requestId": "x", "message": DECISION,
    })
    .to_string();
    assert_eq!(fact(&as_text).0.request, id128(b"r1"));
    let as_object = format!(
        r#"{{"timestamp":"2026-11-26T10:00:00Z","level":"INFO","message":{DECISION},"requestId":"x"}}"#
    );
    assert_eq!(fact(&as_object).0.request, id128(b"r1"));
}

#[test]
fn other_lines_are_classified_not_fatal() {
    let mut parser = LineParser::default();
    let mut kind = |s: &str| parse_line(s.as_bytes(), &mut parser);
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
    let (f, parser) = fact(&line);
    assert!(parser.names.defs.contains(&Def::Arm {
        id: f.arm.unwrap(),
        name: "canary".into()
    }));
}

#[test]
fn invalid_weights_are_ignored_not_fatal() {
    let line = DECISION.replace("9000", "9000.5");
    assert_eq!(fact(&line).0.weights, None);
}

#[test]
fn a_decision_its_own_arm_answered_names_its_target() {
    let line = DECISION
        .replace(r#""served_arm":"control""#, r#""served_arm":"canary""#)
        .replace(
            r#""invoked_variant":"AllTraffic""#,
            r#""invoked_variant":"AllTraffic","inference_component":"ic-\u0062","target_model":null"#,
        );
    let (f, parser) = fact(&line);
    assert!(!f.fallback);
    let first = Id::from_index(0).unwrap();
    assert_eq!(f.target, Some(first));
    assert_eq!(
        parser.names.defs.last(),
        Some(&Def::Target {
            id: first,
            target: super::fact::Target {
                endpoint: "e".into(),
                invoked_variant: Some("AllTraffic".into()),
                inference_component: Some("ic-b".into()),
                target_model: None,
                target_container_hostname: None,
            }
        })
    );
}

#[test]
fn a_fallback_answer_or_an_outcome_names_no_target() {
    // DECISION's fallback answered: its endpoint is the fallback's, not the arm's.
    let (f, parser) = fact(DECISION);
    assert_eq!(f.target, None);
    assert!(
        !parser
            .names
            .defs
            .iter()
            .any(|d| matches!(d, Def::Target { .. }))
    );
    let no_endpoint = DECISION
        .replace(r#""served_arm":"control""#, r#""served_arm":"canary""#)
        .replace(r#""endpoint":"e","#, "");
    assert_eq!(fact(&no_endpoint).0.target, None);
}

#[test]
fn targets_are_announced_once_and_told_apart() {
    let own = DECISION.replace(r#""served_arm":"control""#, r#""served_arm":"canary""#);
    let other = own.replace(
        r#""invoked_variant":"AllTraffic""#,
        r#""invoked_variant":"AllTraffic","target_model":"m.tar.gz""#,
    );
    let mut parser = LineParser::default();
    let mut ids = Vec::new();
    // 26 targets, past the linear scan's 16, so the map's lookups are exercised too.
    for i in 0..100 {
        let line = if i % 2 == 0 {
            own.clone()
        } else {
            other.replace("m.tar.gz", &format!("m{}.tar.gz", (i / 2) % 25))
        };
        match parse_line(line.as_bytes(), &mut parser) {
            Line::Record(f) => ids.push(f.target.unwrap()),
            l => panic!("{l:?}"),
        }
    }
    let targets = parser
        .names
        .defs
        .iter()
        .filter(|d| matches!(d, Def::Target { .. }))
        .count();
    assert_eq!(targets, 26);
    assert!(ids.iter().step_by(2).all(|&id| id == ids[0]));
    // m0 (the second target) and m20 (the 22nd, found through the map) seen again.
    assert_eq!(ids[1], ids[51]);
    assert_eq!(ids[41], ids[91]);
    assert_eq!(ids[41].index(), 21);
    assert_ne!(ids[1], ids[3]);
}

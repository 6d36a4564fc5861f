//! Arm targets end to end: `serve`, the AWS SDK and the emulator hosting several models behind
//! one endpoint (inference components, a multi-model and a multi-container endpoint). Each arm
//! reaches exactly the model it names, its record says which, and a missing or unknown target
//! gets SageMaker's error, with one record.

mod common;

use std::path::Path;

use common::process::{Proc, http};
use serde_json::{Value, json};

fn arms() -> Vec<Value> {
    vec![
        json!({"name": "control", "endpoint": "iris-a", "weight": 10000}),
        json!({"name": "ic-b", "endpoint": "ic-endpoint", "weight": 0, "inference_component": "iris-b-ic"}),
        json!({"name": "ic-a", "endpoint": "ic-endpoint", "weight": 0, "inference_component": "iris-a-ic"}),
        json!({"name": "ic-llm", "endpoint": "ic-endpoint", "weight": 0, "inference_component": "llm-ic"}),
        json!({"name": "ic-unknown", "endpoint": "ic-endpoint", "weight": 0, "inference_component": "nope-ic"}),
        json!({"name": "ic-missing", "endpoint": "ic-endpoint", "weight": 0}),
        json!({"name": "mme-a", "endpoint": "mme", "weight": 0, "target_model": "iris-a.tar.gz"}),
        json!({"name": "mme-echo", "endpoint": "mme", "weight": 0, "target_model": "echo.tar.gz"}),
        json!({"name": "multi-b", "endpoint": "multi", "weight": 0, "target_container_hostname": "iris-b-container"}),
        json!({"name": "multi-unknown", "endpoint": "multi", "weight": 0, "target_container_hostname": "nope"}),
        json!({"name": "plain-b", "endpoint": "iris-b", "weight": 0}),
        json!({"name": "plain-with-ic", "endpoint": "iris-b", "weight": 0, "inference_component": "iris-b-ic"}),
    ]
}

fn setup() -> (Proc, Proc) {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/targets-models.json");
    let emu = Proc::start(
        &[
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--models",
            &models.display().to_string(),
        ],
        &[],
        "emulator on ",
    );
    let arms = arms();
    let users: serde_json::Map<String, Value> = arms
        .iter()
        .map(|a| {
            let name = a["name"].as_str().unwrap();
            (name.to_owned(), json!([format!("user-{name}")]))
        })
        .collect();
    let cfg = json!({
        "experiment": "targets", "version": "v1", "salt": "targets-1",
        "arms": arms,
        "overrides": {"users": users},
        "cookie": {"enabled": false}
    })
    .to_string();
    let srv = Proc::serve_inline(&emu, &cfg);
    (emu, srv)
}

const ROW: &str = r#"{"features": [6.3, 2.8, 5.1, 1.5]}"#;

fn predict(srv: &Proc, arm: &str, accept: Option<&str>) -> common::process::HttpResponse {
    let user = format!("user-{arm}");
    let mut headers = vec![
        ("X-User-Id", user.as_str()),
        ("Content-Type", "application/json"),
    ];
    if let Some(a) = accept {
        headers.push(("Accept", a));
    }
    http(&srv.addr, "POST", "/predict", &headers, ROW.as_bytes())
}

/// The emulator's own answer of a plain endpoint, to compare with.
fn direct(emu: &Proc, endpoint: &str) -> Vec<u8> {
    let r = http(
        &emu.addr,
        "POST",
        &format!("/endpoints/{endpoint}/invocations"),
        &[("Content-Type", "application/json")],
        ROW.as_bytes(),
    );
    assert_eq!(r.status, 200);
    r.body
}

#[test]
fn each_arm_reaches_the_model_it_names() {
    let (emu, srv) = setup();
    let (a, b) = (direct(&emu, "iris-a"), direct(&emu, "iris-b"));
    assert_ne!(a, b, "the two models answer this row differently");
    for (arm, want) in [
        ("ic-b", &b),
        ("ic-a", &a),
        ("mme-a", &a),
        ("multi-b", &b),
        ("plain-b", &b),
    ] {
        let r = predict(&srv, arm, None);
        assert_eq!(r.status, 200, "{arm}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(&r.body, want, "{arm}");
    }
    let echo = predict(&srv, "mme-echo", None);
    assert_eq!(echo.body, ROW.as_bytes());
    let records = srv.wait_records(6);
    let by_arm = |arm: &str| -> Value {
        records
            .iter()
            .find(|r| r["kind"] == "decision" && r["arm"] == arm)
            .cloned()
            .unwrap_or_else(|| panic!("no record for {arm}"))
    };
    assert_eq!(by_arm("ic-b")["inference_component"], "iris-b-ic");
    assert_eq!(by_arm("mme-a")["target_model"], "iris-a.tar.gz");
    assert_eq!(
        by_arm("multi-b")["target_container_hostname"],
        "iris-b-container"
    );
    assert!(by_arm("plain-b")["inference_component"].is_null());

    // An inference component streams too.
    let s = predict(&srv, "ic-llm", Some("text/event-stream"));
    assert_eq!(s.status, 200, "{}", String::from_utf8_lossy(&s.body));
    assert!(
        s.body.starts_with(b"data: {"),
        "{}",
        String::from_utf8_lossy(&s.body)
    );

    // The report says what each arm measured: its endpoint and the target its calls named.
    let records = srv.wait_records(7);
    let report = canary_router::report::analyse_records(
        &records,
        &canary_router::report::Options::default(),
    )
    .unwrap();
    let targets = |arm: &str| {
        report.experiments[0].phases[0]
            .arms
            .iter()
            .find(|a| a.name == arm)
            .unwrap_or_else(|| panic!("no arm {arm} in the report"))
            .targets
            .clone()
    };
    let ic = targets("ic-b");
    assert_eq!(ic.len(), 1, "{ic:?}");
    assert_eq!(ic[0].endpoint, "ic-endpoint");
    assert_eq!(ic[0].inference_component.as_deref(), Some("iris-b-ic"));
    assert_eq!(ic[0].requests, 1);
    let mme = targets("mme-a");
    assert_eq!(mme[0].endpoint, "mme");
    assert_eq!(mme[0].target_model.as_deref(), Some("iris-a.tar.gz"));
    assert_eq!(mme[0].inference_component, None);
    let multi = targets("multi-b");
    assert_eq!(
        multi[0].target_container_hostname.as_deref(),
        Some("iris-b-container")
    );
    let plain = targets("plain-b");
    assert_eq!(plain[0].endpoint, "iris-b");
    assert_eq!(
        (
            plain[0].inference_component.as_ref(),
            plain[0].target_model.as_ref()
        ),
        (None, None)
    );
    let table = canary_router::report::render_table(&report);
    assert!(table.contains("Targets ("), "{table}");
    assert!(table.contains("inference component iris-b-ic"), "{table}");
    let json = canary_router::report::render_json(&report);
    assert!(json.contains("\"target_container_hostname\": \"iris-b-container\""));
}

#[test]
fn missing_unknown_and_misplaced_targets_get_sagemakers_error_and_one_record() {
    let (_emu, srv) = setup();
    let arms = ["ic-unknown", "ic-missing", "multi-unknown", "plain-with-ic"];
    for arm in arms {
        let r = predict(&srv, arm, None);
        assert!(r.status >= 400, "{arm}: {}", r.status);
        let body = r.json();
        assert!(body["error"].is_string(), "{arm}: {body}");
    }
    let records = srv.wait_records(arms.len());
    for arm in arms {
        let mine: Vec<&Value> = records
            .iter()
            .filter(|r| r["kind"] == "decision" && r["arm"] == arm)
            .collect();
        assert_eq!(mine.len(), 1, "{arm}");
        assert!(mine[0]["error"].is_string(), "{arm}: {}", mine[0]);
        eprintln!("{arm}: {} {}", mine[0]["status"], mine[0]["error"]);
    }
}

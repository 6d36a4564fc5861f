//! Shadow cohorts in `serve` against the emulator on loopback: the client's answer is exactly
//! what a router without shadows gives, a hanging or failing shadow never changes it nor delays
//! it, each shadow call leaves its record, and a shutdown waits for the shadows in flight.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::process::{HttpResponse, Proc, http};
use serde_json::{Value, json};

fn emulator() -> Proc {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validate-models.json");
    Proc::start(
        &[
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--models",
            &models.display().to_string(),
        ],
        &[],
        "emulator on ",
    )
}

fn config(shadows: Value) -> String {
    json!({
        "experiment": "iris-shadow",
        "version": "v1",
        "salt": "iris-shadow-1",
        "arms": [
            {"name": "control", "endpoint": "iris-b", "weight": 5000},
            {"name": "canary", "endpoint": "iris-b", "weight": 5000}
        ],
        "cookie": {"enabled": false},
        "preprocess": {"require": ["features"]},
        "timeouts": {"attempt_ms": 3000, "total_ms": 6000},
        "shadow": shadows
    })
    .to_string()
}

fn shadows() -> Value {
    json!([
        // 60 ms late, then cut by its 1.5 s timeout: the same answers, later.
        {"name": "slow", "endpoint": "iris-b-slow", "share": 10000, "timeout_ms": 1500},
        {"name": "weaker", "endpoint": "iris-a", "share": 10000, "match": "/label"},
        {"name": "flaky", "endpoint": "flaky", "share": 10000},
        // Answers after 5 s: cut at 1 s.
        {"name": "hang", "endpoint": "iris-b-hang", "share": 10000, "timeout_ms": 1000}
    ])
}

fn serve(emu: &Proc, cfg: &str) -> Proc {
    Proc::serve_inline(emu, cfg)
}

fn predict(addr: &str, user: &str) -> HttpResponse {
    let body = json!({"features": [6.3, 2.8, 5.1, 1.5]}).to_string();
    http(
        addr,
        "POST",
        "/predict",
        &[("X-User-Id", user), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// Headers that differ between any two responses (per-request IDs, the clock).
fn stable_headers(r: &HttpResponse) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| k != "date" && k != "x-canary-request-id")
        .collect();
    h.sort();
    h
}

fn by_kind(records: &[Value], kind: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn shadows_never_change_or_delay_the_answer_and_each_call_is_recorded() {
    let emu = emulator();
    let plain = serve(&emu, &config(json!([])));
    let shadowed = serve(&emu, &config(shadows()));
    for user in ["u-1", "u-2", "u-3", "u-4"] {
        let a = predict(&plain.addr, user);
        let t = Instant::now();
        let b = predict(&shadowed.addr, user);
        let took = t.elapsed();
        assert_eq!(a.status, 200);
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{user}");
        assert_eq!(stable_headers(&a), stable_headers(&b), "{user}");
        // The hanging shadow answers 5 s after the arm and is cut at 1 s: the answer waited
        // for neither.
        assert!(took < Duration::from_millis(900), "{user}: {took:?}");
    }
    let records = shadowed.wait_records(4 + 4 * 4);
    let calls = by_kind(&records, "shadow");
    assert_eq!(calls.len(), 16, "{records:?}");
    let decisions = by_kind(&records, "decision");
    for s in &calls {
        let decision = decisions
            .iter()
            .find(|d| d["request_id"] == s["prediction_id"])
            .expect("each shadow record names its decision");
        assert_eq!(s["arm"], decision["arm"]);
        assert_ne!(s["request_id"], s["prediction_id"]);
        match s["shadow"].as_str().unwrap() {
            "slow" => {
                assert_eq!(s["status"], 200);
                assert_eq!(s["agrees"], true);
                assert_eq!(s["max_abs_diff"], 0.0);
                assert!(s["latency_ms"].as_f64().unwrap() >= 60.0, "{s}");
            }
            "weaker" => {
                assert_eq!(s["status"], 200);
                assert!(s["agrees"].is_boolean());
                assert!(s["max_abs_diff"].as_f64().unwrap() > 0.0, "{s}");
            }
            "flaky" => {
                assert!(s["status"] == 200 || s["status"] == 502, "{s}");
                if s["status"] == 502 {
                    assert_eq!(s["error"], "model_error");
                    assert!(s["agrees"].is_null());
                }
            }
            "hang" => {
                assert_eq!(s["status"], 504);
                assert_eq!(s["error"], "timeout");
                assert!(s["agrees"].is_null() && s["max_abs_diff"].is_null());
            }
            other => panic!("unexpected shadow {other}"),
        }
    }
    assert!(
        !shadowed.stderr().contains("6.3"),
        "request bodies are never logged"
    );
}

#[test]
fn shutdown_waits_for_the_shadows_in_flight() {
    let emu = emulator();
    // A shadow still in flight when the server is told to stop is finished and recorded.
    let cfg = config(json!([
        {"name": "slow", "endpoint": "iris-b-slow", "share": 10000, "timeout_ms": 2000}
    ]));
    let mut srv = serve(&emu, &cfg);
    assert_eq!(predict(&srv.addr, "u-9").status, 200);
    let status = srv.terminate(Duration::from_secs(10)).expect("stops");
    assert!(status.success(), "{status:?}");
    let shadows = by_kind(&srv.records(), "shadow");
    assert_eq!(shadows.len(), 1, "{:?}", srv.records());
    assert_eq!(shadows[0]["status"], 200);
}

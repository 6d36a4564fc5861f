//! Shadow cohorts through the handler with a fake SageMaker: the client's answer is exactly
//! what it would be without the shadow, a failing or slow shadow never changes it, and each
//! shadow call leaves one record comparing the raw answers.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use canary_router::error::ErrorKind;
use canary_router::router::Request;
use common::*;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

fn cfg(share: u32, extra: Value) -> Value {
    let mut v = json!({
        "experiment": "sh", "version": "v1", "salt": "sh-1",
        "arms": [{"name": "control", "endpoint": "ep-a", "weight": 10000},
                 {"name": "canary", "endpoint": "ep-b", "weight": 0}],
        "cookie": {"enabled": false},
        "postprocess": {"keep": ["label"]},
        "shadow": [{"name": "next", "endpoint": "ep-s", "share": share, "timeout_ms": 300}]
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    v
}

fn predict(user: &str) -> Request {
    let mut h = HeaderMap::new();
    h.insert("x-user-id", HeaderValue::from_str(user).unwrap());
    h.insert("content-type", HeaderValue::from_static("application/json"));
    Request::new(
        Method::POST,
        "/predict",
        h,
        Bytes::from_static(b"{\"features\": [1, 2, 3, 4]}"),
        "req-1",
    )
}

fn keys() -> canary_router::identity::CookieKeys {
    canary_router::identity::CookieKeys::ephemeral()
}

fn by_kind(records: &[Value], kind: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_client_gets_exactly_what_it_would_without_the_shadow() {
    let (plain, _, _) = router_with(config(cfg(0, json!({}))), keys());
    let (shadowed, fake, sink) = router_with(config(cfg(10000, json!({}))), keys());
    fake.answer(
        "ep-s",
        br#"{"label":"setosa","probabilities":[0.8,0.15,0.05]}"#,
        Some("application/json"),
    );
    for user in ["u1", "u2", "u3"] {
        let a = plain.handle(predict(user)).await;
        let b = shadowed.handle(predict(user)).await;
        assert_eq!(a.status(), b.status());
        assert_eq!(a.body(), b.body(), "post-processed answer unchanged");
        assert_eq!(a.headers(), b.headers());
    }
    let shadows = by_kind(&sink.records(), "shadow");
    assert_eq!(shadows.len(), 3);
    let s = &shadows[0];
    assert_eq!(
        (
            s["shadow"].as_str(),
            s["endpoint"].as_str(),
            s["arm"].as_str()
        ),
        (Some("next"), Some("ep-s"), Some("control"))
    );
    assert_eq!(s["prediction_id"], "req-1");
    assert_ne!(s["request_id"], "req-1", "its own request ID");
    assert_eq!(
        (
            s["status"].as_u64(),
            s["agrees"].as_bool(),
            s["max_abs_diff"].as_f64()
        ),
        (Some(200), Some(true), Some(0.0))
    );
    assert_eq!(
        s["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["experiment", "shadow"]])
    );
    assert_eq!(s["unit"], by_kind(&sink.records(), "decision")[0]["unit"]);
    // The shadow got the same pre-processed body as the arm.
    let calls = fake.calls();
    let arm = calls.iter().find(|c| c.endpoint == "ep-a").unwrap();
    let sh = calls.iter().find(|c| c.endpoint == "ep-s").unwrap();
    assert_eq!(arm.body, sh.body);
}

#[tokio::test]
async fn disagreements_and_diffs_compare_the_raw_answers() {
    let (router, fake, sink) = router_with(config(cfg(10000, json!({}))), keys());
    fake.answer(
        "ep-s",
        br#"{"label":"virginica","probabilities":[0.1,0.15,0.75]}"#,
        Some("application/json"),
    );
    router.handle(predict("u1")).await;
    let s = &by_kind(&sink.records(), "shadow")[0];
    assert_eq!(s["agrees"], false);
    assert_eq!(s["disagreements"], 1);
    assert!(
        (s["max_abs_diff"].as_f64().unwrap() - 0.7).abs() < 1e-9,
        "{s}"
    );
    // With match /probabilities/1 only that field counts.
    let mut c = cfg(10000, json!({}));
    c["shadow"][0]["match"] = json!("/probabilities/1");
    let (router, fake, sink) = router_with(config(c), keys());
    fake.answer(
        "ep-s",
        br#"{"label":"virginica","probabilities":[0.1,0.15,0.75]}"#,
        Some("application/json"),
    );
    router.handle(predict("u1")).await;
    assert_eq!(by_kind(&sink.records(), "shadow")[0]["agrees"], true);
}

#[tokio::test]
async fn a_failing_or_slow_shadow_never_changes_the_answer() {
    let (router, fake, sink) = router_with(config(cfg(10000, json!({}))), keys());
    fake.fail("ep-s", ErrorKind::ModelError);
    let resp = router.handle(predict("u1")).await;
    assert_eq!(resp.status(), 200);
    let s = &by_kind(&sink.records(), "shadow")[0];
    assert_eq!(
        (s["status"].as_u64(), s["error"].as_str(), &s["agrees"]),
        (Some(502), Some("model_error"), &Value::Null)
    );

    let (router, fake, sink) = router_with(config(cfg(10000, json!({}))), keys());
    fake.delay("ep-s", 5000);
    let t0 = Instant::now();
    let resp = router.handle(predict("u1")).await;
    assert_eq!(resp.status(), 200);
    // Awaited (as Lambda runs): the answer waits at most timeout_ms for the shadow.
    assert!(
        t0.elapsed() < Duration::from_millis(2000),
        "{:?}",
        t0.elapsed()
    );
    let s = &by_kind(&sink.records(), "shadow")[0];
    assert_eq!(s["error"], "timeout");
}

#[tokio::test]
async fn detached_shadows_do_not_delay_the_answer_and_still_write_their_record() {
    let fake = FakeSageMaker::default();
    let sink = canary_router::record::MemorySink::default();
    let tasks = tokio_util::task::TaskTracker::new();
    let router = canary_router::router::Router::new(
        config(cfg(10000, json!({}))),
        keys(),
        fake.clone(),
        sink.clone(),
    )
    .with_detached_shadows(tasks.clone());
    fake.delay("ep-s", 250);
    let t0 = Instant::now();
    assert_eq!(router.handle(predict("u1")).await.status(), 200);
    assert!(
        t0.elapsed() < Duration::from_millis(200),
        "the answer waited for the shadow"
    );
    assert!(by_kind(&sink.records(), "shadow").is_empty());
    tasks.close();
    tasks.wait().await;
    assert_eq!(by_kind(&sink.records(), "shadow").len(), 1);
}

#[tokio::test]
async fn a_fallback_answer_is_not_compared_and_cohorts_follow_the_share() {
    let (router, fake, sink) =
        router_with(config(cfg(10000, json!({"fallback": "canary"}))), keys());
    fake.fail("ep-a", ErrorKind::Throttled);
    router.handle(predict("u1")).await;
    let s = &by_kind(&sink.records(), "shadow")[0];
    assert_eq!(
        (&s["agrees"], s["status"].as_u64()),
        (&Value::Null, Some(200))
    );

    let (router, _, sink) = router_with(config(cfg(2000, json!({}))), keys());
    for i in 0..500 {
        router.handle(predict(&format!("user-{i}"))).await;
    }
    let n = by_kind(&sink.records(), "shadow").len();
    assert!((60..=140).contains(&n), "{n} of 500 shadowed at 20%");
    // Sticky: the same units again give the same cohort.
    let units: std::collections::BTreeSet<String> = by_kind(&sink.records(), "shadow")
        .iter()
        .map(|s| s["unit"].as_str().unwrap().to_owned())
        .collect();
    for i in 0..500 {
        router.handle(predict(&format!("user-{i}"))).await;
    }
    let again: std::collections::BTreeSet<String> = by_kind(&sink.records(), "shadow")
        .iter()
        .map(|s| s["unit"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(units, again);
}

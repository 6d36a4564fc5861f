//! Streamed answers (`Accept: text/event-stream`) through the handler with a fake SageMaker:
//! what a buffered front door answers, the record's stream fields, errors before and after the
//! first payload byte, the fallback, targets that cannot stream, and the stream timeouts.

mod common;

use std::time::Duration;

use bytes::Bytes;
use canary_router::error::ErrorKind;
use canary_router::router::{Request, StreamOut, Wire};
use common::*;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

fn cfg(extra: Value) -> Value {
    let mut v = json!({
        "experiment": "llm", "version": "v1", "salt": "llm-1",
        "arms": [{"name": "control", "endpoint": "ep-a", "weight": 10000},
                 {"name": "canary", "endpoint": "ep-b", "weight": 0}],
        "cookie": {"enabled": false}
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    v
}

fn stream_request(user: &str) -> Request {
    let mut h = HeaderMap::new();
    h.insert("x-user-id", HeaderValue::from_str(user).unwrap());
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert("accept", HeaderValue::from_static("text/event-stream"));
    Request::new(
        Method::POST,
        "/predict",
        h,
        Bytes::from_static(b"{\"inputs\": \"hi\"}"),
        "req-s",
    )
}

fn keys() -> canary_router::identity::CookieKeys {
    canary_router::identity::CookieKeys::ephemeral()
}

#[tokio::test]
async fn a_buffered_front_door_gets_the_whole_stream_and_the_record_its_fields() {
    let (router, fake, sink) = router_with(config(cfg(json!({}))), keys());
    let resp = router.handle(stream_request("u1")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let whole: Vec<u8> = TGI_PARTS.concat();
    assert_eq!(
        resp.body().as_ref(),
        whole.as_slice(),
        "the bytes the model sent"
    );
    assert_eq!(
        fake.calls()[0].accept.as_deref(),
        Some("text/event-stream"),
        "Accept goes on"
    );
    let r = &sink.records()[0];
    assert_eq!(r["streamed"], true);
    assert_eq!(r["response_bytes"], whole.len());
    assert_eq!(r["tokens"], 3);
    assert_eq!(r["finish_reason"], "length");
    assert!(r["first_byte_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        (r["status"].as_u64(), &r["error"]),
        (Some(200), &Value::Null)
    );
}

#[tokio::test]
async fn a_mid_stream_error_ends_the_stream_with_the_error_event_and_status_200() {
    let (router, fake, sink) = router_with(config(cfg(json!({}))), keys());
    fake.stream(
        "ep-a",
        vec![
            Step::Part(b"data: one\n\n"),
            Step::Fail(ErrorKind::ModelError),
        ],
    );
    let resp = router.handle(stream_request("u1")).await;
    assert_eq!(resp.status(), 200);
    let body = String::from_utf8(resp.body().to_vec()).unwrap();
    assert!(
        body.starts_with("data: one\n\n\n\nevent: error\ndata: {\"error\":\"model_error\""),
        "{body}"
    );
    assert!(body.ends_with("\"request_id\":\"req-s\"}\n\n"), "{body}");
    let r = &sink.records()[0];
    assert_eq!(
        (r["status"].as_u64(), r["error"].as_str()),
        (Some(200), Some("model_error"))
    );
    assert_eq!(r["tokens"], Value::Null);
}

#[tokio::test]
async fn a_failure_before_the_first_byte_gets_its_status_and_the_fallback() {
    let (router, fake, sink) = router_with(config(cfg(json!({}))), keys());
    fake.fail("ep-a", ErrorKind::Throttled);
    let resp = router.handle(stream_request("u1")).await;
    assert_eq!(resp.status(), 503, "no fallback configured");
    let (router, fake, sink2) = router_with(config(cfg(json!({"fallback": "canary"}))), keys());
    fake.fail("ep-a", ErrorKind::Throttled);
    let resp = router.handle(stream_request("u1")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-canary-served-arm"], "canary");
    let r = &sink2.records()[0];
    assert_eq!(
        (
            r["arm"].as_str(),
            r["served_arm"].as_str(),
            r["fallbacks"].as_u64()
        ),
        (Some("control"), Some("canary"), Some(1))
    );
    assert_eq!(sink.records()[0]["error"], "throttled");
}

#[tokio::test]
async fn an_arm_with_target_model_cannot_stream() {
    let mut c = cfg(json!({}));
    c["arms"][0]["target_model"] = json!("a.tar.gz");
    let (router, fake, sink) = router_with(config(c), keys());
    let resp = router.handle(stream_request("u1")).await;
    assert_eq!(resp.status(), 400);
    let v: Value = serde_json::from_slice(resp.body()).unwrap();
    assert!(
        v["message"].as_str().unwrap().contains("no TargetModel"),
        "{v}"
    );
    assert!(fake.calls().is_empty());
    assert_eq!(sink.records()[0]["error"], "bad_request");
}

#[tokio::test]
async fn stream_timeouts_bound_the_first_byte_the_gaps_and_the_whole() {
    let t = |first: u64, idle: u64, total: u64| json!({"timeouts": {"attempt_ms": 1000, "total_ms": 2000, "first_byte_ms": first, "stream_idle_ms": idle, "stream_total_ms": total}});
    let (router, fake, sink) = router_with(config(cfg(t(100, 5000, 10000))), keys());
    fake.stream("ep-a", vec![Step::Wait(400), Step::Part(b"late")]);
    assert_eq!(router.handle(stream_request("u1")).await.status(), 504);
    assert_eq!(sink.records()[0]["error"], "timeout");

    let (router, fake, sink) = router_with(config(cfg(t(1000, 100, 10000))), keys());
    fake.stream(
        "ep-a",
        vec![Step::Part(b"a"), Step::Wait(400), Step::Part(b"b")],
    );
    let resp = router.handle(stream_request("u1")).await;
    assert_eq!(resp.status(), 200);
    assert!(String::from_utf8_lossy(resp.body()).contains("stream_idle_ms"));
    assert_eq!(sink.records()[0]["error"], "timeout");

    let (router, fake, sink) = router_with(config(cfg(t(200, 1000, 300))), keys());
    fake.stream(
        "ep-a",
        (0..20)
            .flat_map(|_| [Step::Part(b"x"), Step::Wait(50)])
            .collect(),
    );
    let resp = router.handle(stream_request("u1")).await;
    assert!(String::from_utf8_lossy(resp.body()).contains("stream_total_ms"));
    assert_eq!(sink.records()[0]["error"], "timeout");
}

#[tokio::test]
async fn a_streaming_front_door_gets_the_head_then_parts_and_a_client_that_leaves_cancels() {
    let (router, fake, sink) = router_with(config(cfg(json!({}))), keys());
    let router = std::sync::Arc::new(router);
    fake.stream(
        "ep-a",
        vec![
            Step::Part(b"first"),
            Step::Wait(100),
            Step::Part(b"second"),
            Step::Wait(5000),
            Step::Part(b"never"),
        ],
    );
    let (out, mut stream_in) = StreamOut::channel();
    let r = std::sync::Arc::clone(&router);
    let task =
        tokio::spawn(async move { r.answer(stream_request("u1"), Wire::Streamed(out)).await });
    let head = stream_in.head.await.expect("a head");
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["x-canary-arm"], "control");
    use http_body_util::BodyExt;
    let first = stream_in
        .body
        .frame()
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(first.as_ref(), b"first");
    let second = stream_in
        .body
        .frame()
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(second.as_ref(), b"second");
    drop(stream_in.body);
    tokio::time::timeout(Duration::from_secs(7), task)
        .await
        .unwrap()
        .unwrap();
    let rec = &sink.records()[0];
    assert_eq!(rec["client_closed"], true, "{rec}");
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["response_bytes"], 11);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !fake.cancelled.lock().unwrap().is_empty(),
        "the upstream stream was cancelled"
    );
}

/// A stream that is over before the front door looks at it still goes out as a stream: the
/// router's task finishing first must not win over the head it already sent (it did, about
/// every other time, and the client got an empty 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_finishes_at_once_is_still_sent_whole() {
    use http_body_util::BodyExt;
    let (router, _fake, _sink) = router_with(config(cfg(json!({}))), keys());
    let router = std::sync::Arc::new(router);
    let tasks = tokio_util::task::TaskTracker::new();
    let whole: Vec<u8> = TGI_PARTS.concat();
    for i in 0..200 {
        let resp = canary_router::front::respond::respond(
            std::sync::Arc::clone(&router),
            stream_request(&format!("u{i}")),
            &tasks,
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-canary-arm"], "control", "attempt {i}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body.as_ref(), whole.as_slice(), "attempt {i}");
    }
}

//! Every `events/*.json` through lambda_http's real request conversion, the handler (with a
//! fake SageMaker) and lambda_http's real response conversion, checked against
//! `events/expected.json` and the record written.

mod common;

use std::time::SystemTime;

use canary_router::front::lambda;
use canary_router::identity;
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent, Service};
use serde_json::Value;

use common::*;

fn events_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// Loads an event, replacing the cookie placeholder with a cookie the router really signed.
fn load_event(name: &str) -> String {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
    let config = fixture_config();
    let cookie = identity::set_cookie(
        config.cookie(),
        &fixture_keys(),
        "0123456789abcdef0123456789abcdef",
        SystemTime::now(),
    );
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("canary_uid=")
        .to_owned();
    text.replace("REPLACE_WITH_SIGNED_COOKIE", &value)
}

/// Runs one event through the service that `lambda::run` serves, returning the gateway
/// response JSON and the records written.
async fn invoke(name: &str) -> (Value, Vec<Value>, common::FakeSageMaker) {
    invoke_text(&load_event(name)).await
}

async fn invoke_text(event: &str) -> (Value, Vec<Value>, common::FakeSageMaker) {
    let (router, fake, sink) = fixture_router();
    let payload: LambdaRequest = serde_json::from_str(event).unwrap();
    let mut ctx = Context::default();
    ctx.request_id = "lambda-req-1".into();
    let mut svc = lambda::service(&router);
    let resp = svc.call(LambdaEvent::new(payload, ctx)).await.unwrap();
    (serde_json::to_value(&resp).unwrap(), sink.records(), fake)
}

fn header<'a>(resp: &'a Value, name: &str) -> Option<&'a str> {
    for map in ["headers", "multiValueHeaders"] {
        if let Some(obj) = resp[map].as_object() {
            for (k, v) in obj {
                if k.eq_ignore_ascii_case(name) {
                    return v.as_str().or_else(|| v[0].as_str());
                }
            }
        }
    }
    None
}

fn set_cookies(resp: &Value) -> Vec<String> {
    let mut out: Vec<String> = resp["cookies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(obj) = resp["multiValueHeaders"].as_object() {
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("set-cookie") {
                out.extend(
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap().to_owned()),
                );
            }
        }
    }
    out
}

#[tokio::test]
async fn every_event_matches_its_expectation() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(events_dir().join("expected.json")).unwrap())
            .unwrap();
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json") && n != "expected.json" && n != "env.json")
        .collect();
    files.sort();
    assert!(files.len() >= 15, "events/ is incomplete: {files:?}");
    for name in &files {
        let want = &expected[name.as_str()];
        assert!(
            want.is_object(),
            "{name} has no entry in events/expected.json"
        );
        let (resp, records, fake) = invoke(name).await;
        let status = resp["statusCode"].as_u64().unwrap();
        assert_eq!(status, want["status"].as_u64().unwrap(), "{name}: {resp}");
        let body: Value =
            serde_json::from_str(resp["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        assert_eq!(
            resp["isBase64Encoded"], false,
            "{name}: JSON answers are text"
        );
        let cookies = set_cookies(&resp);
        assert_eq!(
            !cookies.is_empty(),
            want["set_cookie"].as_bool().unwrap(),
            "{name}: Set-Cookie {cookies:?}"
        );
        for c in &cookies {
            assert!(
                c.starts_with("canary_uid=") && c.contains("HttpOnly") && c.contains("Path=/"),
                "{c}"
            );
        }
        let is_health = name.contains("health");
        if is_health {
            assert_eq!(body["experiment"], "iris-canary", "{name}");
            assert_eq!(body["config_version"], "2026-11-26.1");
            assert_eq!(body["arms"][1]["endpoint"], "iris-b");
            assert!(records.is_empty(), "{name}: health writes no record");
            continue;
        }
        assert_eq!(
            records.len(),
            1,
            "{name}: exactly one record, got {records:?}"
        );
        let r = &records[0];
        let kind = if name.contains("feedback") {
            "outcome"
        } else {
            "decision"
        };
        assert_eq!(r["kind"], kind, "{name}");
        assert_eq!(r["status"].as_u64().unwrap(), status, "{name}");
        assert_eq!(r["error"], want["error"], "{name}");
        assert_eq!(r["experiment"], "iris-canary");
        assert_eq!(r["config_version"], "2026-11-26.1");
        assert_eq!(
            r["weights"],
            serde_json::json!([["control", 9000], ["canary", 1000]])
        );
        if let Some(src) = want["id_source"].as_str() {
            assert_eq!(r["id_source"], src, "{name}");
        }
        // The request ID is API Gateway's when the event has one, else the Lambda invocation's.
        let rid = r["request_id"].as_str().unwrap();
        assert!(!rid.is_empty());
        if name.starts_with("alb") {
            assert_eq!(rid, "lambda-req-1", "{name}");
        } else {
            assert_ne!(rid, "lambda-req-1", "{name}: API Gateway's request id");
        }
        assert_eq!(header(&resp, "x-canary-request-id"), Some(rid), "{name}");
        // Never the raw user ID in a record.
        assert!(
            !r.to_string().contains("user-42"),
            "{name}: raw user id leaked: {r}"
        );
        if want["error"].is_null() {
            let arm = r["arm"].as_str().unwrap();
            assert_eq!(header(&resp, "x-canary-arm"), Some(arm), "{name}");
            assert_eq!(
                header(&resp, "x-canary-config-version"),
                Some("2026-11-26.1")
            );
            assert_eq!(r["assigned_by"], "bucket");
            let bucket = r["bucket"].as_u64().unwrap();
            assert_eq!(
                arm,
                if bucket < 9000 { "control" } else { "canary" },
                "{name}"
            );
            assert_eq!(r["unit"].as_str().unwrap().len(), 64);
            if kind == "decision" {
                assert_eq!(
                    body["label"], "setosa",
                    "{name}: the endpoint's answer passes through"
                );
                let calls = fake.calls();
                assert_eq!(calls.len(), 1, "{name}");
                assert_eq!(calls[0].inference_id, rid);
                let sent: Value = serde_json::from_slice(&calls[0].body).unwrap();
                assert_eq!(
                    sent["features"],
                    serde_json::json!([5.1, 3.5, 1.4, 0.2]),
                    "{name}"
                );
                assert_eq!(r["served_arm"], arm);
                assert!(r["_aws"]["CloudWatchMetrics"].is_array());
            } else {
                assert_eq!(body["arm"], arm);
                assert_eq!(body["request_id"], rid);
                assert_eq!(r["event"], "click");
                assert_eq!(r["value"], 1.0);
                assert_eq!(r["prediction_id"], "req-123");
            }
        } else {
            assert_eq!(body["error"], want["error"], "{name}");
            assert_eq!(body["request_id"], rid);
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!(
                fake.calls().is_empty(),
                "{name}: no model call on bad input"
            );
        }
    }
}

#[tokio::test]
async fn the_stage_prefix_is_routed_for_rest_and_http_apis() {
    for name in ["v1-predict-user-header.json", "v2-predict-user-header.json"] {
        let payload: LambdaRequest = serde_json::from_str(&load_event(name)).unwrap();
        let req: lambda_http::Request = payload.into();
        assert!(
            req.uri().path().starts_with("/prod/"),
            "{name}: {}",
            req.uri()
        );
        assert_eq!(
            canary_router::router::route(req.uri().path()),
            canary_router::router::Route::Predict
        );
    }
}

#[tokio::test]
async fn minted_cookie_comes_back_through_v2_cookies_and_v1_multi_value_headers() {
    let (v2, ..) = invoke("v2-predict-anonymous.json").await;
    assert!(
        v2["cookies"].as_array().is_some_and(|c| c.len() == 1),
        "{v2}"
    );
    let (v1, ..) = invoke("v1-predict-anonymous.json").await;
    assert_eq!(
        v1["multiValueHeaders"]["set-cookie"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{v1}"
    );
}

#[tokio::test]
async fn a_body_marked_base64_that_is_not_is_a_400_with_its_record_not_a_panic() {
    for name in [
        "v1-feedback-base64.json",
        "v2-predict-user-header.json",
        "alb-predict-user-header.json",
    ] {
        let mut event: Value = serde_json::from_str(&load_event(name)).unwrap();
        event["isBase64Encoded"] = Value::Bool(true);
        event["body"] = Value::from("!!! not base64 !!!");
        // A client cannot forge the router's own marker to change the answer.
        let (resp, records, fake) = invoke_text(&event.to_string()).await;
        assert_eq!(resp["statusCode"], 400, "{name}: {resp}");
        let body: Value = serde_json::from_str(resp["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"], "bad_request", "{name}");
        assert!(
            body["message"].as_str().unwrap().contains("base64"),
            "{name}"
        );
        assert_eq!(records.len(), 1, "{name}: {records:?}");
        assert_eq!(records[0]["status"], 400);
        assert!(fake.calls().is_empty(), "{name}: nothing goes to SageMaker");
    }
    // The marker header sent by a client is removed, so a good event is unaffected.
    let mut event: Value =
        serde_json::from_str(&load_event("v2-predict-user-header.json")).unwrap();
    event["headers"]["x-canary-router-body-not-base64"] = Value::from("1");
    let (resp, _, _) = invoke_text(&event.to_string()).await;
    assert_eq!(resp["statusCode"], 200, "{resp}");
}

//! The handler with a fake SageMaker behind the `Invoker` trait: error mapping, fallback,
//! overrides, cookies, transforms, CORS and limits, each checked in the response and the record.

mod common;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use canary_router::config::Target;
use canary_router::error::ErrorKind;
use canary_router::identity::{self, CookieKeys};
use canary_router::router::{Request, Response};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};
use sha2::Digest;

use common::*;

fn base() -> Value {
    json!({
        "experiment": "exp",
        "version": "v1",
        "salt": "exp-1",
        "arms": [
            {"name": "control", "endpoint": "ep-a", "weight": 5000},
            {"name": "canary", "endpoint": "ep-b", "weight": 5000, "target_variant": "VariantB"}
        ],
        "cookie": {"secure": false}
    })
}

fn keys(seed: u8) -> CookieKeys {
    use base64::Engine;
    CookieKeys::from_base64(
        &base64::engine::general_purpose::STANDARD.encode([seed; 64]),
        None,
    )
    .unwrap()
}

fn req(method: Method, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Request::new(
        method,
        path,
        h,
        Bytes::copy_from_slice(body),
        format!("req-{}", canary_router::router::new_request_id()),
    )
}

fn predict(user: &str) -> Request {
    req(
        Method::POST,
        "/predict",
        &[("content-type", "application/json"), ("x-user-id", user)],
        br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#,
    )
}

fn json_body(resp: &Response) -> Value {
    serde_json::from_slice(resp.body()).unwrap_or(Value::Null)
}

fn hdr<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

/// A user ID whose bucket lands on the given arm under `base()`'s 50/50 split.
fn user_on(arm: usize) -> String {
    (0..)
        .map(|i| format!("u{i}"))
        .find(|u| {
            let b = canary_router::assign::bucket("exp-1", u);
            (b >= 5000) == (arm == 1)
        })
        .unwrap()
}

#[tokio::test]
async fn every_model_error_kind_maps_to_its_status_and_record() {
    let kinds = [
        (ErrorKind::ModelError, 502),
        (ErrorKind::Throttled, 503),
        (ErrorKind::NotReady, 503),
        (ErrorKind::Unavailable, 503),
        (ErrorKind::InternalDependency, 502),
        (ErrorKind::Timeout, 504),
        (ErrorKind::Internal, 502),
    ];
    for (kind, status) in kinds {
        let (router, fake, sink) = router_with(config(base()), keys(1));
        fake.fail("ep-a", kind);
        fake.fail("ep-b", kind);
        let resp = router.handle(predict("alice")).await;
        assert_eq!(resp.status().as_u16(), status, "{kind}");
        let body = json_body(&resp);
        assert_eq!(body["error"], kind.as_str());
        let r = &sink.records()[0];
        assert_eq!(r["error"], kind.as_str());
        assert_eq!(r["status"], status);
        assert_eq!(r["served_arm"], Value::Null, "{kind}: nobody answered");
        assert!(r["endpoint"].is_string());
        assert!(r["model_latency_ms"].is_number());
        assert_eq!(r["errors"], 1, "{kind}: the EMF error metric fires");
        assert!(
            hdr(&resp, "x-canary-arm").is_some(),
            "{kind}: the arm was assigned"
        );
    }
}

#[tokio::test]
async fn fallback_answers_for_endpoint_failures_but_not_for_others() {
    let mut cfg = base();
    cfg["fallback"] = json!("control");
    let canary_user = user_on(1);
    for (kind, falls_back) in [
        (ErrorKind::ModelError, true),
        (ErrorKind::Throttled, true),
        (ErrorKind::NotReady, true),
        (ErrorKind::Unavailable, true),
        (ErrorKind::Timeout, true),
        (ErrorKind::InternalDependency, false),
        (ErrorKind::Internal, false),
    ] {
        let (router, fake, sink) = router_with(config(cfg.clone()), keys(1));
        fake.fail("ep-b", kind);
        let resp = router.handle(predict(&canary_user)).await;
        let r = &sink.records()[0];
        assert_eq!(hdr(&resp, "x-canary-arm"), Some("canary"));
        assert_eq!(r["arm"], "canary");
        if falls_back {
            assert_eq!(resp.status(), 200, "{kind}");
            assert_eq!(hdr(&resp, "x-canary-served-arm"), Some("control"), "{kind}");
            assert_eq!(r["served_arm"], "control");
            assert_eq!(r["endpoint"], "ep-a");
            assert_eq!(r["fallbacks"], 1);
            assert_eq!(r["error"], Value::Null);
            let calls = fake.calls();
            assert_eq!(
                calls
                    .iter()
                    .map(|c| c.endpoint.as_str())
                    .collect::<Vec<_>>(),
                ["ep-b", "ep-a"]
            );
            assert_eq!(calls[0].target_variant.as_deref(), Some("VariantB"));
            assert_eq!(calls[1].target_variant, None);
        } else {
            assert_eq!(resp.status(), kind.status(), "{kind}");
            assert!(hdr(&resp, "x-canary-served-arm").is_none());
            assert_eq!(fake.calls().len(), 1);
        }
    }
    // The fallback's own failure is the answer; no loop.
    let (router, fake, sink) = router_with(config(cfg), keys(1));
    fake.fail("ep-a", ErrorKind::Unavailable);
    fake.fail("ep-b", ErrorKind::ModelError);
    let resp = router.handle(predict(&canary_user)).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(sink.records()[0]["error"], "unavailable");
    assert_eq!(fake.calls().len(), 2);
}

#[tokio::test]
async fn invocation_carries_variant_inference_id_and_attributes() {
    let (router, fake, sink) = router_with(config(base()), keys(1));
    let resp = router.handle(predict(&user_on(1))).await;
    assert_eq!(resp.status(), 200);
    let call = &fake.calls()[0];
    let r = &sink.records()[0];
    assert_eq!(call.endpoint, "ep-b");
    assert_eq!(call.target_variant.as_deref(), Some("VariantB"));
    assert_eq!(call.inference_id, r["request_id"].as_str().unwrap());
    assert_eq!(call.custom_attributes, "experiment=exp;arm=canary");
    assert_eq!(call.content_type, "application/json");
    assert_eq!(r["invoked_variant"], "ep-b-AllTraffic");
}

#[tokio::test]
async fn overrides_win_and_are_recorded() {
    let secret = "let-me-in";
    let digest = canary_router::assign::hex(&sha2::Sha256::digest(secret.as_bytes()));
    let mut cfg = base();
    cfg["overrides"] = json!({
        "users": {"canary": ["qa-user"]},
        "country": {"header": "CloudFront-Viewer-Country", "arms": {"FR": "canary"}},
        "forced": {"secret_sha256": digest}
    });
    let (router, ..) = router_with(config(cfg), keys(1));
    let control_user = user_on(0);
    let case = |headers: Vec<(&'static str, String)>| {
        let mut r = predict(&control_user);
        for (k, v) in headers {
            r.headers.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        r
    };
    let (resp, by) = run(&router, case(vec![])).await;
    assert_eq!(
        (hdr(&resp, "x-canary-arm"), by.as_str()),
        (Some("control"), "bucket")
    );
    let (resp, by) = run(&router, predict("qa-user")).await;
    assert_eq!(
        (hdr(&resp, "x-canary-arm"), by.as_str()),
        (Some("canary"), "user_list")
    );
    let (resp, by) = run(
        &router,
        case(vec![("cloudfront-viewer-country", "fr".into())]),
    )
    .await;
    assert_eq!(
        (hdr(&resp, "x-canary-arm"), by.as_str()),
        (Some("canary"), "country")
    );
    let forced = vec![
        ("x-canary-force-arm", "canary".into()),
        ("x-canary-force-secret", secret.into()),
    ];
    let (resp, by) = run(&router, case(forced)).await;
    assert_eq!(
        (hdr(&resp, "x-canary-arm"), by.as_str()),
        (Some("canary"), "forced")
    );
    let wrong = vec![
        ("x-canary-force-arm", "canary".into()),
        ("x-canary-force-secret", "guess".into()),
    ];
    let (resp, by) = run(&router, case(wrong)).await;
    assert_eq!(
        (hdr(&resp, "x-canary-arm"), by.as_str()),
        (Some("control"), "bucket")
    );

    // Without the rules in the config, the same headers do nothing.
    let (plain, ..) = router_with(config(base()), keys(1));
    let all = vec![
        ("cloudfront-viewer-country", "FR".into()),
        ("x-canary-force-arm", "canary".into()),
        ("x-canary-force-secret", secret.into()),
    ];
    let (resp, by) = run(&plain, case(all)).await;
    assert_eq!(
        (hdr(&resp, "x-canary-arm"), by.as_str()),
        (Some("control"), "bucket")
    );

    async fn run(router: &TestRouter, r: Request) -> (Response, String) {
        let resp = router.handle(r).await;
        let records = router.sink().records();
        let by = records.last().unwrap()["assigned_by"]
            .as_str()
            .unwrap()
            .to_owned();
        (resp, by)
    }
}

fn cookie_pair(resp: &Response) -> String {
    let sc = hdr(resp, "set-cookie").expect("a cookie is set");
    sc.split(';').next().unwrap().to_owned()
}

fn anonymous(cookie: Option<&str>) -> Request {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    req(
        Method::POST,
        "/predict",
        &headers,
        br#"{"features": [1, 2, 3, 4]}"#,
    )
}

#[tokio::test]
async fn cookies_keep_anonymous_users_sticky_across_instances_sharing_a_key() {
    let (a, _, sink_a) = router_with(config(base()), keys(7));
    let (b, _, sink_b) = router_with(config(base()), keys(7));
    let (other, _, sink_o) = router_with(config(base()), keys(8));
    let first = a.handle(anonymous(None)).await;
    assert_eq!(sink_a.records()[0]["id_source"], "minted");
    let sc = hdr(&first, "set-cookie").unwrap();
    assert!(
        sc.contains("HttpOnly") && sc.contains("SameSite=Lax") && !sc.contains("Secure"),
        "{sc}"
    );
    let cookie = cookie_pair(&first);
    let unit = sink_a.records()[0]["unit"].clone();
    for _ in 0..3 {
        let again = b.handle(anonymous(Some(&cookie))).await;
        assert!(
            hdr(&again, "set-cookie").is_none(),
            "a valid cookie is not re-set"
        );
        assert_eq!(hdr(&again, "x-canary-arm"), hdr(&first, "x-canary-arm"));
    }
    let r = sink_b.records();
    assert!(
        r.iter()
            .all(|r| r["id_source"] == "cookie" && r["unit"] == unit)
    );
    // An instance with another key treats the cookie as absent and mints a new identity.
    let foreign = other.handle(anonymous(Some(&cookie))).await;
    assert!(hdr(&foreign, "set-cookie").is_some());
    assert_eq!(sink_o.records()[0]["id_source"], "minted");
    assert_ne!(sink_o.records()[0]["unit"], unit);
}

#[tokio::test]
async fn tampered_unsigned_and_expired_cookies_are_replaced() {
    let (router, _, sink) = router_with(config(base()), keys(1));
    let cfg = config(base());
    let old = SystemTime::now() - Duration::from_secs(91 * 86_400);
    let expired = identity::set_cookie(
        cfg.cookie(),
        &keys(1),
        "0123456789abcdef0123456789abcdef",
        old,
    );
    let expired = expired.split(';').next().unwrap().to_owned();
    let fresh = cookie_pair(&router.handle(anonymous(None)).await);
    let mut tampered = fresh.clone();
    tampered.insert(fresh.len() - 3, 'f');
    for bad in [
        expired.as_str(),
        tampered.as_str(),
        "canary_uid=0123456789abcdef0123456789abcdef.1764150000",
        "canary_uid=%%%",
    ] {
        let before = sink.records().len();
        let resp = router.handle(anonymous(Some(bad))).await;
        assert_eq!(resp.status(), 200, "{bad}");
        assert!(hdr(&resp, "set-cookie").is_some(), "{bad}: replaced");
        assert_eq!(sink.records()[before]["id_source"], "minted", "{bad}");
    }
}

#[tokio::test]
async fn cookies_near_expiry_or_under_the_previous_key_are_renewed() {
    use base64::Engine;
    let b64 = |s: u8| base64::engine::general_purpose::STANDARD.encode([s; 64]);
    let cfg = config(base());
    let id = "0123456789abcdef0123456789abcdef";
    let rotated = CookieKeys::from_base64(&b64(2), Some(&b64(1))).unwrap();
    let (router, _, sink) = router_with(config(base()), rotated);
    let by_old_key = identity::set_cookie(cfg.cookie(), &keys(1), id, SystemTime::now());
    let resp = router
        .handle(anonymous(Some(by_old_key.split(';').next().unwrap())))
        .await;
    assert!(
        hdr(&resp, "set-cookie").is_some(),
        "re-signed with the current key"
    );
    assert_eq!(sink.records()[0]["id_source"], "cookie");
    let aging = identity::set_cookie(
        cfg.cookie(),
        &keys(2),
        id,
        SystemTime::now() - Duration::from_secs(80 * 86_400),
    );
    let resp = router
        .handle(anonymous(Some(aging.split(';').next().unwrap())))
        .await;
    assert!(hdr(&resp, "set-cookie").is_some(), "renewed near expiry");
    assert_eq!(sink.records()[1]["id_source"], "cookie");
    assert_eq!(sink.records()[0]["unit"], sink.records()[1]["unit"]);
}

#[tokio::test]
async fn without_cookies_an_anonymous_prediction_is_no_unit() {
    let mut cfg = base();
    cfg["cookie"] = json!({"enabled": false});
    let (router, fake, sink) = router_with(config(cfg), keys(1));
    let resp = router.handle(anonymous(None)).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(json_body(&resp)["error"], "no_unit");
    assert!(hdr(&resp, "set-cookie").is_none());
    assert_eq!(sink.records()[0]["id_source"], "none");
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn bad_input_gets_4xx_with_its_record_and_no_model_call() {
    let (router, fake, sink) = router_with(config(base()), keys(1));
    let long = "x".repeat(257);
    let big = vec![b' '; 6 * 1024 * 1024 + 1];
    let cases: Vec<(Request, u16, &str)> = vec![
        (
            req(Method::POST, "/predict", &[("x-user-id", &long)], b"{}"),
            400,
            "bad_request",
        ),
        (
            req(
                Method::POST,
                "/predict",
                &[
                    ("x-user-id", "a"),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                b"a=1",
            ),
            415,
            "unsupported_media_type",
        ),
        (
            req(
                Method::POST,
                "/predict",
                &[("x-user-id", "a"), ("content-type", "application/json")],
                b"{\"features\": [1,",
            ),
            400,
            "bad_request",
        ),
        (
            req(Method::POST, "/predict", &[("x-user-id", "a")], &big),
            413,
            "payload_too_large",
        ),
        (
            req(Method::GET, "/predict", &[("x-user-id", "a")], b""),
            405,
            "method_not_allowed",
        ),
        (
            req(Method::GET, "/prod/nowhere", &[], b""),
            404,
            "not_found",
        ),
        (
            req(
                Method::POST,
                "/feedback",
                &[("x-user-id", "a")],
                br#"{"event": "bad event!"}"#,
            ),
            400,
            "bad_request",
        ),
        (
            req(
                Method::POST,
                "/feedback",
                &[("x-user-id", "a")],
                br#"{"event": "click", "value": "high"}"#,
            ),
            400,
            "bad_request",
        ),
        (
            req(
                Method::POST,
                "/feedback",
                &[("x-user-id", "a")],
                br#"{"event": "click", "vlaue": 2}"#,
            ),
            400,
            "bad_request",
        ),
        (
            req(Method::POST, "/feedback", &[], br#"{"event": "click"}"#),
            400,
            "no_unit",
        ),
        (
            req(Method::POST, "/feedback", &[("x-user-id", "a")], &big),
            413,
            "payload_too_large",
        ),
        (
            req(Method::PUT, "/feedback", &[("x-user-id", "a")], b""),
            405,
            "method_not_allowed",
        ),
    ];
    let mut invalid_utf8 = req(Method::POST, "/predict", &[], b"{}");
    invalid_utf8
        .headers
        .insert("x-user-id", HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap());
    let mut all = cases;
    all.push((invalid_utf8, 400, "bad_request"));
    for (i, (r, status, kind)) in all.into_iter().enumerate() {
        let path = r.path.clone();
        let resp = router.handle(r).await;
        assert_eq!(resp.status().as_u16(), status, "case {i} {path}");
        assert_eq!(json_body(&resp)["error"], kind, "case {i}");
        let records = sink.records();
        assert_eq!(records.len(), i + 1, "case {i}: one record per request");
        assert_eq!(records[i]["error"], kind, "case {i}");
        assert_eq!(records[i]["status"], status, "case {i}");
        let want_kind = if path.contains("feedback") {
            "outcome"
        } else {
            "decision"
        };
        assert_eq!(records[i]["kind"], want_kind, "case {i}");
    }
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn feedback_needs_no_new_identity_and_reports_the_arm() {
    let (router, fake, sink) = router_with(config(base()), keys(1));
    let user = user_on(1);
    let resp = router
        .handle(req(
            Method::POST,
            "/feedback",
            &[("x-user-id", &user), ("content-type", "application/json")],
            br#"{"event": "conversion", "value": 12.5, "prediction_id": "abc"}"#,
        ))
        .await;
    assert_eq!(resp.status(), 202);
    let body = json_body(&resp);
    assert_eq!(body["arm"], "canary");
    let r = &sink.records()[0];
    assert_eq!(
        (r["kind"].as_str(), r["event"].as_str(), r["value"].as_f64()),
        (Some("outcome"), Some("conversion"), Some(12.5))
    );
    assert_eq!(r["prediction_id"], "abc");
    assert_eq!(r["request_id"], body["request_id"]);
    assert!(r.get("_aws").is_none(), "EMF only on decisions");
    assert!(hdr(&resp, "set-cookie").is_none());
    // Value defaults to 1.0.
    router
        .handle(req(
            Method::POST,
            "/feedback",
            &[("x-user-id", &user)],
            br#"{"event": "click"}"#,
        ))
        .await;
    assert_eq!(sink.records()[1]["value"], 1.0);
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn transforms_apply_per_arm_and_pass_through_when_absent() {
    let mut cfg = base();
    cfg["preprocess"] =
        json!({"require": ["features"], "inject": {"source": "web"}, "context": {"arm": "arm"}});
    cfg["arms"][1]["preprocess"] = json!({"rename": {"features": "inputs"}, "normalize": {"features": {"mean": 1.0, "std": 2.0}}});
    cfg["arms"][1]["postprocess"] = json!({"top_k": {"field": "/probabilities", "k": 1, "labels": ["setosa", "versicolor", "virginica"]}, "keep": ["top"]});
    let (router, fake, _) = router_with(config(cfg), keys(1));
    // Control: global pre-processing, no post-processing: the answer's bytes come back unchanged.
    fake.answer("ep-a", b"setosa\n", Some("text/csv"));
    let resp = router.handle(predict(&user_on(0))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), b"setosa\n");
    assert_eq!(hdr(&resp, "content-type"), Some("text/csv"));
    let sent: Value = serde_json::from_slice(&fake.calls()[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"features": [5.1, 3.5, 1.4, 0.2], "source": "web", "arm": "control"})
    );
    // Canary: its own pre-processing and top-k.
    let resp = router.handle(predict(&user_on(1))).await;
    let sent: Value = serde_json::from_slice(&fake.calls()[1].body).unwrap();
    let inputs: Vec<f64> = serde_json::from_value(sent["inputs"].clone()).unwrap();
    assert_eq!(sent.as_object().unwrap().len(), 1, "{sent}");
    for (got, want) in inputs.iter().zip([2.05, 1.25, 0.2, -0.4]) {
        assert!((got - want).abs() < 1e-9, "{inputs:?}");
    }
    assert_eq!(
        json_body(&resp),
        json!({"top": [{"label": "setosa", "score": 0.8}]})
    );
    assert_eq!(hdr(&resp, "content-type"), Some("application/json"));
    // A missing required field is a 400 naming it (control uses the global require).
    let resp = router
        .handle(req(
            Method::POST,
            "/predict",
            &[
                ("x-user-id", &user_on(0)),
                ("content-type", "application/json"),
            ],
            b"{\"x\": 1}",
        ))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(
        json_body(&resp)["message"]
            .as_str()
            .unwrap()
            .contains("features")
    );
    // Non-JSON bodies pass through as bytes, whatever the arm's JSON pre-processing.
    let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2];
    fake.answer("ep-a", b"{}", Some("application/json"));
    let resp = router
        .handle(req(
            Method::POST,
            "/predict",
            &[("x-user-id", &user_on(0)), ("content-type", "image/png")],
            &png,
        ))
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(fake.calls().last().unwrap().body.as_ref(), png);
    assert_eq!(fake.calls().last().unwrap().content_type, "image/png");
}

#[tokio::test]
async fn cors_preflight_and_credentials() {
    let mut cfg = base();
    cfg["cors"] = json!({"allowed_origins": ["https://app.example.com"]});
    let (router, _, sink) = router_with(config(cfg), keys(1));
    let pre = router
        .handle(req(
            Method::OPTIONS,
            "/prod/predict",
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
            ],
            b"",
        ))
        .await;
    assert_eq!(pre.status(), 204);
    assert_eq!(
        hdr(&pre, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(hdr(&pre, "access-control-allow-credentials"), Some("true"));
    assert!(
        hdr(&pre, "access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(sink.records().is_empty(), "a preflight is not a prediction");
    let mut r = predict("alice");
    r.headers.insert(
        "origin",
        HeaderValue::from_static("https://app.example.com"),
    );
    let resp = router.handle(r).await;
    assert_eq!(
        hdr(&resp, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        hdr(&resp, "access-control-expose-headers")
            .unwrap()
            .contains("X-Canary-Arm")
    );
    let mut r = predict("alice");
    r.headers
        .insert("origin", HeaderValue::from_static("https://evil.example"));
    let resp = router.handle(r).await;
    assert!(hdr(&resp, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn same_user_same_arm_across_restarts_and_reload_rules() {
    async fn arms(router: &TestRouter) -> Vec<String> {
        let mut out = Vec::new();
        for i in 0..200 {
            let resp = router.handle(predict(&format!("user-{i}"))).await;
            out.push(hdr(&resp, "x-canary-arm").unwrap().to_owned());
        }
        out
    }
    let (first, ..) = router_with(config(base()), keys(1));
    let (restarted, ..) = router_with(config(base()), keys(2));
    let before = arms(&first).await;
    assert_eq!(
        before,
        arms(&restarted).await,
        "header users do not depend on the key or the process"
    );
    assert!(before.iter().any(|a| a == "canary") && before.iter().any(|a| a == "control"));

    let mut ramp = base();
    ramp["arms"][0]["weight"] = json!(2000);
    ramp["arms"][1]["weight"] = json!(8000);
    let err = first.reload(config(ramp.clone())).unwrap_err().to_string();
    assert!(err.starts_with("version:"), "{err}");
    ramp["version"] = json!("v2");
    first.reload(config(ramp)).unwrap();
    let after = arms(&first).await;
    for (b, a) in before.iter().zip(&after) {
        assert!(
            b != "canary" || a == "canary",
            "the ramp moved a canary user out"
        );
    }
    assert!(
        after.iter().filter(|a| *a == "canary").count()
            > before.iter().filter(|a| *a == "canary").count()
    );
    let resp = first.handle(predict("x")).await;
    assert_eq!(hdr(&resp, "x-canary-config-version"), Some("v2"));

    // v1 again, with another split: v1 was served with 50/50 for the life of this process.
    let mut back = base();
    back["arms"][0]["weight"] = json!(9000);
    back["arms"][1]["weight"] = json!(1000);
    let err = first.reload(config(back)).unwrap_err().to_string();
    assert!(err.starts_with("version: `v1` was already served"), "{err}");
    // v1 with its own split is a rollback, and allowed.
    first.reload(config(base())).unwrap();
    let resp = first.handle(predict("x")).await;
    assert_eq!(hdr(&resp, "x-canary-config-version"), Some("v1"));
}

#[tokio::test]
async fn a_schedule_step_in_force_sets_the_version_weights_and_split_of_every_record() {
    let mut cfg = base();
    cfg["schedule"] = json!([
        {"at": "2001-01-01T00:00:00Z", "version": "v1-step", "weights": {"control": 0, "canary": 10000}},
        {"at": "2999-01-01T00:00:00Z", "version": "v2-later", "weights": {"control": 10000, "canary": 0}}
    ]);
    let (router, fake, sink) = router_with(config(cfg.clone()), keys(1));
    for i in 0..20 {
        let resp = router.handle(predict(&format!("s-{i}"))).await;
        assert_eq!(hdr(&resp, "x-canary-config-version"), Some("v1-step"));
        assert_eq!(
            hdr(&resp, "x-canary-arm"),
            Some("canary"),
            "the step's split, not the top level's"
        );
    }
    for r in sink.records() {
        assert_eq!(r["config_version"], "v1-step");
        assert_eq!(r["weights"], json!([["control", 0], ["canary", 10000]]));
    }
    assert!(fake.calls().iter().all(|c| c.endpoint == "ep-b"));
    let health = router.handle(req(Method::GET, "/health", &[], b"")).await;
    let h = json_body(&health);
    assert_eq!(h["config_version"], "v1-step");
    assert_eq!(
        h["step"],
        json!({"version": "v1-step", "at": "2001-01-01T00:00:00Z"})
    );
    assert_eq!(
        h["next_step"],
        json!({"version": "v2-later", "at": "2999-01-01T00:00:00Z"})
    );
    assert_eq!(h["arms"][1]["weight"], 10000);

    // A later document may not re-bind a step's version to another split, even one not yet
    // in force: every instance that accepted the first document has bound it.
    let mut changed = cfg.clone();
    changed["version"] = json!("v3");
    changed["schedule"][1]["weights"] = json!({"control": 5000, "canary": 5000});
    let err = router.reload(config(changed)).unwrap_err().to_string();
    assert!(
        err.starts_with("version: `v2-later` was already served"),
        "{err}"
    );

    let (plain, ..) = router_with(config(base()), keys(1));
    let h = json_body(&plain.handle(req(Method::GET, "/health", &[], b"")).await);
    assert_eq!(
        (h["step"].clone(), h["next_step"].clone()),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn each_kind_of_target_reaches_sagemaker_and_the_record() {
    let cfg = json!({
        "experiment": "exp", "version": "v1", "salt": "exp-1",
        "arms": [
            {"name": "control", "endpoint": "ep-a", "weight": 2500, "inference_component": "ic-a"},
            {"name": "b", "endpoint": "ep-b", "weight": 2500, "target_model": "b.tar.gz"},
            {"name": "c", "endpoint": "ep-c", "weight": 2500, "target_container_hostname": "c1"},
            {"name": "d", "endpoint": "ep-d", "weight": 2500, "target_variant": "VariantD"}
        ],
        "cookie": {"secure": false}
    });
    let (router, fake, sink) = router_with(config(cfg), keys(1));
    for i in 0..200 {
        router.handle(predict(&format!("t-{i}"))).await;
    }
    for (call, record) in fake.calls().iter().zip(sink.records()) {
        let (ic, model, host) = match call.endpoint.as_str() {
            "ep-a" => (json!("ic-a"), Value::Null, Value::Null),
            "ep-b" => (Value::Null, json!("b.tar.gz"), Value::Null),
            "ep-c" => (Value::Null, Value::Null, json!("c1")),
            _ => (Value::Null, Value::Null, Value::Null),
        };
        assert_eq!(
            (
                &record["inference_component"],
                &record["target_model"],
                &record["target_container_hostname"]
            ),
            (&ic, &model, &host),
            "{record}"
        );
        let want = match call.endpoint.as_str() {
            "ep-a" => Some(Target::InferenceComponent("ic-a".into())),
            "ep-b" => Some(Target::Model("b.tar.gz".into())),
            "ep-c" => Some(Target::ContainerHostname("c1".into())),
            _ => Some(Target::Variant("VariantD".into())),
        };
        assert_eq!(call.target, want);
    }
    let h = json_body(&router.handle(req(Method::GET, "/health", &[], b"")).await);
    assert_eq!(h["arms"][0]["inference_component"], "ic-a");
    assert_eq!(h["arms"][1]["target_model"], "b.tar.gz");
    assert_eq!(h["arms"][2]["target_container_hostname"], "c1");
    assert_eq!(h["arms"][3]["target_variant"], "VariantD");
}

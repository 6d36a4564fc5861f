//! `report` on shadow records the router itself wrote (handler, fake SageMaker): per shadow,
//! calls, errors, agreement with its unit-level delta-method interval (checked against an
//! independent computation from the records), the `max_abs_diff` distribution and paired
//! latency, in JSON, table and HTML.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use canary_router::error::ErrorKind;
use canary_router::report::{self, Options};
use canary_router::router::Request;
use common::*;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};
use statrs::distribution::{ContinuousCDF, StudentsT};

fn predict(user: &str) -> Request {
    let mut h = HeaderMap::new();
    h.insert("x-user-id", HeaderValue::from_str(user).unwrap());
    h.insert("content-type", HeaderValue::from_static("application/json"));
    Request::new(
        Method::POST,
        "/predict",
        h,
        Bytes::from_static(b"{\"features\": [1, 2, 3, 4]}"),
        canary_router::router::new_request_id(),
    )
}

const SAME: &[u8] = br#"{"label":"setosa","probabilities":[0.8,0.15,0.05]}"#;
const OTHER: &[u8] = br#"{"label":"virginica","probabilities":[0.1,0.15,0.75]}"#;

async fn records() -> Vec<Value> {
    let cfg = config(json!({
        "experiment": "sh", "version": "v1", "salt": "sh-1",
        "arms": [{"name": "control", "endpoint": "ep-a", "weight": 5000},
                 {"name": "canary", "endpoint": "ep-b", "weight": 5000}],
        "cookie": {"enabled": false},
        "shadow": [{"name": "next", "endpoint": "ep-s", "share": 10000, "timeout_ms": 300}]
    }));
    let (router, fake, sink) = router_with(cfg, canary_router::identity::CookieKeys::ephemeral());
    for ep in ["ep-a", "ep-b"] {
        fake.answer(ep, SAME, Some("application/json"));
    }
    // Units 0..40 agree on both requests, 40..55 disagree on their second, 55..60 see the
    // shadow fail on their second.
    for u in 0..60 {
        let user = format!("user-{u}");
        fake.heal("ep-s");
        fake.answer("ep-s", SAME, Some("application/json"));
        router.handle(predict(&user)).await;
        match u {
            0..40 => {}
            40..55 => fake.answer("ep-s", OTHER, Some("application/json")),
            _ => fake.fail("ep-s", ErrorKind::ModelError),
        }
        router.handle(predict(&user)).await;
    }
    sink.records()
}

#[tokio::test]
async fn agreement_interval_diffs_and_latency_per_shadow() {
    let recs = records().await;
    let shadow_recs: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "shadow").collect();
    assert_eq!(shadow_recs.len(), 120);
    let r = report::analyse_records(&recs, &Options::default()).unwrap();
    let phase = &r.experiments[0].phases[0];
    assert_eq!(phase.decisions, 120, "shadow records are not decisions");
    assert_eq!(phase.shadows.len(), 1);
    let s = &phase.shadows[0];
    assert_eq!(s.shadow, "next");
    assert_eq!(s.endpoint.as_deref(), Some("ep-s"));
    assert_eq!((s.calls, s.errors, s.compared, s.units), (120, 5, 115, 60));
    assert_eq!(s.agreement, Some(100.0 / 115.0));

    // Independently: per unit x = agreed, y = compared; the ratio's variance from the
    // residuals x - r·y (the delta method, rearranged), and Student's t with n - 1 df.
    let mut per_unit: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for rec in &shadow_recs {
        if let Some(a) = rec["agrees"].as_bool() {
            let e = per_unit
                .entry(rec["unit"].as_str().unwrap().to_owned())
                .or_default();
            e.0 += f64::from(u8::from(a));
            e.1 += 1.0;
        }
    }
    let n = per_unit.len() as f64;
    let (sx, sy): (f64, f64) = per_unit
        .values()
        .fold((0.0, 0.0), |a, v| (a.0 + v.0, a.1 + v.1));
    let ratio = sx / sy;
    let ybar = sy / n;
    let resid: f64 = per_unit
        .values()
        .map(|(x, y)| (x - ratio * y).powi(2))
        .sum();
    let se = (resid / (n - 1.0) / n).sqrt() / ybar;
    let t = StudentsT::new(0.0, 1.0, n - 1.0)
        .unwrap()
        .inverse_cdf(0.975);
    let (lo, hi) = s.agreement_ci.unwrap();
    assert!(
        (lo - (ratio - t * se)).abs() < 1e-9,
        "{lo} vs {}",
        ratio - t * se
    );
    assert!((hi - (ratio + t * se).min(1.0)).abs() < 1e-9, "{hi}");
    assert!(lo < ratio && ratio < hi);

    let d = s.max_abs_diff.unwrap();
    assert_eq!(d.count, 115);
    assert!((d.zero_share - 100.0 / 115.0).abs() < 1e-12);
    assert_eq!(d.p50, 0.0);
    assert!((d.max - 0.7).abs() < 1e-9, "{d:?}");
    let (shadow_lat, arm_lat) = (s.latency_ms.unwrap(), s.primary_latency_ms.unwrap());
    assert_eq!(shadow_lat.count, 115);
    assert_eq!(arm_lat.count, 115);
    let arms: u64 = s.by_arm.iter().map(|(_, n)| n).sum();
    assert_eq!(arms, 120);

    let json: Value = serde_json::from_str(&report::render_json(&r)).unwrap();
    let js = &json["experiments"][0]["phases"][0]["shadows"][0];
    assert_eq!(js["calls"], 120);
    assert!(js["agreement_ci"].is_array());
    assert!(js["max_abs_diff"]["p99"].is_number());
    let table = report::render_table(&r);
    assert!(table.contains("Shadows"), "{table}");
    assert!(table.contains("86.96% ("), "{table}");
    let html = report::render_html(&r);
    assert!(html.contains("<h3>Shadows</h3>"));
}

#[tokio::test]
async fn a_shadow_record_counts_once_and_never_as_a_decision() {
    let mut recs = records().await;
    let dup = recs.iter().find(|r| r["kind"] == "shadow").unwrap().clone();
    recs.push(dup);
    let r = report::analyse_records(&recs, &Options::default()).unwrap();
    assert_eq!(r.input.duplicates, 1);
    assert_eq!(r.experiments[0].phases[0].shadows[0].calls, 120);
    // The arms' figures are what they are without any shadow records.
    let without: Vec<Value> = recs.into_iter().filter(|r| r["kind"] != "shadow").collect();
    let plain = report::analyse_records(&without, &Options::default()).unwrap();
    let (a, b) = (&r.experiments[0].phases[0], &plain.experiments[0].phases[0]);
    assert_eq!(a.decisions, b.decisions);
    assert_eq!(a.arms.len(), b.arms.len());
    for (x, y) in a.arms.iter().zip(&b.arms) {
        assert_eq!((x.requests, x.units), (y.requests, y.units));
    }
}

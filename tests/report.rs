//! `report` on records the router itself wrote (through the handler with a fake SageMaker),
//! in every input shape it reads: raw JSON lines, duplicates, corrupt lines, CloudWatch
//! exports, Lambda JSON logs (message as text and as object), gzip; counts checked exactly.
//! Also the sample-ratio checks and the command's exit statuses.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use canary_router::assign::bucket;
use canary_router::report::{self, Format, Input, Options, Report, ReportArgs};
use canary_router::router::Request;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

use common::*;

fn req(path: &str, user: Option<&str>, body: &[u8]) -> Request {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(u) = user {
        h.insert("x-user-id", HeaderValue::from_str(u).unwrap());
    }
    Request::new(
        Method::POST,
        path,
        h,
        Bytes::copy_from_slice(body),
        canary_router::router::new_request_id(),
    )
}

const USERS: usize = 120;

fn users() -> Vec<String> {
    (0..USERS).map(|i| format!("user-{i}")).collect()
}

fn on_canary(user: &str) -> bool {
    bucket("exp-1", user) >= 5000
}

/// Drives the router: every user predicts twice and reports `correct` for both predictions
/// (canary users are right more often), every fourth user also `click`s; a QA user pinned to
/// the canary, one malformed prediction, one feedback without identity.
async fn router_records() -> Vec<Value> {
    let cfg = config(json!({
        "experiment": "exp",
        "version": "v1",
        "salt": "exp-1",
        "arms": [
            {"name": "control", "endpoint": "ep-a", "weight": 5000},
            {"name": "canary", "endpoint": "ep-b", "weight": 5000}
        ],
        "overrides": {"users": {"canary": ["qa-user"]}},
        "cookie": {"secure": false}
    }));
    let (router, _fake, sink) = router_with(cfg, fixture_keys());
    let predict_body = br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#;
    for (i, u) in users().iter().enumerate() {
        for k in 0..2 {
            let resp = router.handle(req("/predict", Some(u), predict_body)).await;
            assert_eq!(resp.status(), 200);
            let right = if on_canary(u) {
                (i + k) % 5 != 0
            } else {
                (i + k) % 3 != 0
            };
            let fb = json!({"event": "correct", "value": if right { 1.0 } else { 0.0 }});
            let resp = router
                .handle(req("/feedback", Some(u), fb.to_string().as_bytes()))
                .await;
            assert_eq!(resp.status(), 202);
        }
        if i % 4 == 0 {
            router
                .handle(req(
                    "/feedback",
                    Some(u),
                    br#"{"event": "click", "value": 2.5}"#,
                ))
                .await;
        }
    }
    router
        .handle(req("/predict", Some("qa-user"), predict_body))
        .await;
    router
        .handle(req(
            "/feedback",
            Some("qa-user"),
            br#"{"event": "correct", "value": 1}"#,
        ))
        .await;
    let resp = router
        .handle(req("/predict", Some("user-0"), b"{\"features\": [1,"))
        .await;
    assert_eq!(resp.status(), 400);
    let resp = router
        .handle(req("/feedback", None, br#"{"event": "click"}"#))
        .await;
    assert_eq!(resp.status(), 400);
    sink.records()
}

fn lines(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

fn opts() -> Options {
    Options {
        threads: 2,
        ..Options::default()
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("canary-report-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn router_records_give_exact_counts() {
    let records = router_records().await;
    let n_canary = users().iter().filter(|u| on_canary(u)).count() as u64;
    let n_control = USERS as u64 - n_canary;
    let r = report::analyse_records(&records, &opts()).unwrap();
    assert_eq!(r.input.unique_records, records.len() as u64);
    assert_eq!((r.input.duplicates, r.input.skipped), (0, 0));
    assert_eq!(r.experiments.len(), 1);
    let p = &r.experiments[0].phases[0];
    assert_eq!(p.config_version, "v1");
    assert_eq!(
        p.weights,
        vec![("control".into(), 5000), ("canary".into(), 5000)]
    );
    assert_eq!(p.control.as_deref(), Some("control"));
    let (control, canary) = (&p.arms[0], &p.arms[1]);
    assert_eq!(
        (control.name.as_str(), canary.name.as_str()),
        ("control", "canary")
    );
    assert_eq!(control.units_analysed, n_control);
    assert_eq!(canary.units_analysed, n_canary);
    assert_eq!(canary.units, n_canary + 1, "the QA user is seen");
    assert_eq!(canary.units_override, 1);
    assert_eq!(p.data_quality.units_override, 1);
    // The malformed prediction of user-0 is a request of user-0's arm, with a 4xx.
    let user0_canary = on_canary("user-0");
    let bad = |canary: bool| u64::from(canary == user0_canary);
    assert_eq!(control.requests, 2 * n_control + bad(false));
    assert_eq!(canary.requests, 2 * n_canary + 1 + bad(true));
    assert_eq!(control.client_errors + canary.client_errors, 1);
    assert_eq!(control.errors + canary.errors, 0);
    assert_eq!(
        p.data_quality.records_without_arm, 1,
        "feedback without identity"
    );
    assert_eq!(p.data_quality.records_without_unit, 0);
    assert_eq!(p.data_quality.outcomes_not_counted, 1);
    let lat = control.latency_ms.unwrap();
    assert_eq!(lat.count, control.requests);
    assert!(lat.p50 <= lat.p95 && lat.p95 <= lat.p99 && lat.p99 <= lat.max);
    // Metrics: correct (per prediction), click conversion and value.
    let ids: Vec<&str> = p.metrics.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["click:conversion", "click:value", "correct"]);
    let correct = &canary.metrics[2];
    assert_eq!(correct.units, n_canary);
    // Predictions are decisions, the failed one included (intention to treat).
    let predictions = (2 * n_canary + bad(true)) as f64;
    assert_eq!(correct.predictions, Some(predictions));
    let want_right = users()
        .iter()
        .enumerate()
        .filter(|(_, u)| on_canary(u))
        .map(|(i, _)| (0..2).filter(|k| (i + k) % 5 != 0).count())
        .sum::<usize>() as f64;
    assert!((correct.value_sum - want_right).abs() < 1e-9);
    assert!((correct.mean - want_right / predictions).abs() < 1e-12);
    let clicks = &control.metrics[0];
    let want_clicks = users()
        .iter()
        .enumerate()
        .filter(|(i, u)| i % 4 == 0 && !on_canary(u))
        .count() as u64;
    assert_eq!(clicks.units_converted, want_clicks);
    assert!((control.metrics[1].value_sum - 2.5 * want_clicks as f64).abs() < 1e-9);
    // One comparison per metric, each with a verdict line.
    assert_eq!(p.comparisons.len(), 3);
    let v = &p
        .comparisons
        .iter()
        .find(|c| c.metric == "correct")
        .unwrap()
        .verdict;
    assert!(
        v.starts_with("canary ") && v.contains("on correct: ") && v.contains("95% CI"),
        "{v}"
    );
    let table = report::render_table(&r);
    assert!(table.contains(v.as_str()), "{table}");
}

/// The same records in every shape `report` reads, with duplicates and junk mixed in.
#[tokio::test]
async fn every_input_shape_counts_exactly() {
    let records = router_records().await;
    let text = lines(&records);
    let dir = tmp("shapes");
    let n = text.len();
    let (a, rest) = text.split_at(n / 3);
    let (b, c) = rest.split_at(rest.len() / 2);

    // 1. Raw JSON lines (stdout), every 5th line twice, a truncated line, blank lines.
    let mut plain = String::new();
    let mut dup = 0;
    for (i, l) in a.iter().enumerate() {
        plain.push_str(l);
        plain.push('\n');
        if i % 5 == 0 {
            plain.push_str(l);
            plain.push('\n');
            dup += 1;
        }
    }
    plain.push_str(&a[0][..a[0].len() / 2]);
    plain.push_str("\n\n   \n");
    std::fs::write(dir.join("a.jsonl"), &plain).unwrap();

    // 2. A CloudWatch Logs export: timestamp prefix; platform lines; gzip; a corrupt line.
    let mut cw = Vec::new();
    writeln!(
        cw,
        "2026-11-26T10:00:00.000Z START RequestId: 1 Version: $LATEST"
    )
    .unwrap();
    for l in b {
        writeln!(cw, "2026-11-26T10:00:00.000Z {l}").unwrap();
    }
    writeln!(
        cw,
        "2026-11-26T10:00:00.000Z REPORT RequestId: 1 Duration: 2 ms"
    )
    .unwrap();
    cw.extend_from_slice(b"2026-11-26T10:00:00.000Z \xff\xfe{\"kind\": \xff}\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&cw).unwrap();
    std::fs::write(dir.join("b.log.gz"), gz.finish().unwrap()).unwrap();

    // 3. Lambda JSON logs: the record as a string, or as an object; the platform's own
    // records; and the first third's lines once more (a pipeline delivering twice).
    let mut lambda = String::new();
    for (i, l) in c.iter().enumerate() {
        let rec: Value = serde_json::from_str(l).unwrap();
        let message = if i % 2 == 0 {
            Value::String(l.clone())
        } else {
            rec
        };
        let wrapped = json!({"timestamp": "2026-11-26T10:00:00Z", "level": "INFO",
                             "requestId": "x", "message": message});
        lambda.push_str(&wrapped.to_string());
        lambda.push('\n');
    }
    lambda.push_str(
        r#"{"time":"2026-11-26T10:00:00Z","type":"platform.report","record":{"requestId":"x"}}"#,
    );
    lambda.push('\n');
    lambda.push_str(r#"{"timestamp":"2026-11-26T10:00:00Z","level":"INFO","message":"listening"}"#);
    lambda.push('\n');
    for l in a {
        lambda.push_str(l);
        lambda.push('\n');
    }
    std::fs::write(dir.join("c.json"), &lambda).unwrap();

    let inputs = ["a.jsonl", "b.log.gz", "c.json"]
        .iter()
        .map(|f| Input::Path(dir.join(f)))
        .collect();
    let got = report::analyse(inputs, &opts()).unwrap();
    let i = &got.input;
    assert_eq!(i.unique_records, n as u64);
    assert_eq!(i.duplicates, dup + a.len() as u64);
    assert_eq!(i.records, n as u64 + i.duplicates);
    assert_eq!(i.corrupt, 2, "the truncated line and the binary one");
    assert_eq!(
        i.not_records, 4,
        "START, REPORT, platform.report, listening"
    );
    assert_eq!(i.blank_lines, 2);
    assert_eq!(
        i.lines,
        i.records + i.not_records + i.corrupt + i.blank_lines
    );

    // Same analysis as the clean records.
    let clean = report::analyse_records(&records, &opts()).unwrap();
    assert_eq!(strip_input(&got), strip_input(&clean));
    std::fs::remove_dir_all(&dir).ok();
}

fn strip_input(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap();
    v["input"] = Value::Null;
    v
}

/// A decision of a bucket-assigned unit.
fn decision(exp: &str, weights: &Value, unit: &str, arm: &str) -> String {
    json!({
        "kind": "decision", "ts": "2026-11-26T10:00:00.000Z",
        "request_id": format!("{exp}-{unit}"), "experiment": exp, "config_version": "v1",
        "unit": unit, "id_source": "header", "assigned_by": "bucket", "arm": arm,
        "weights": weights, "served_arm": arm, "status": 200, "error": null, "latency_ms": 3.0
    })
    .to_string()
}

/// Three experiments: a clean 50/50 split, a clear mismatch, a starved canary.
fn srm_records() -> String {
    let mut out = String::new();
    let mut add = |exp: &str, weights: Value, control: usize, canary: usize| {
        for i in 0..control {
            out += &decision(exp, &weights, &format!("c{i}"), "control");
            out.push('\n');
        }
        for i in 0..canary {
            out += &decision(exp, &weights, &format!("k{i}"), "canary");
            out.push('\n');
        }
    };
    add(
        "clean",
        json!([["control", 5000], ["canary", 5000]]),
        1000,
        1010,
    );
    add(
        "mismatch",
        json!([["control", 5000], ["canary", 5000]]),
        1100,
        900,
    );
    add(
        "starved",
        json!([["control", 9000], ["canary", 1000]]),
        300,
        0,
    );
    out
}

#[test]
fn srm_flags_a_mismatch_and_a_starved_arm_not_a_clean_split() {
    let r = report::analyse(vec![Input::Bytes(srm_records().into_bytes())], &opts()).unwrap();
    let srm = |name: &str| {
        &r.experiments
            .iter()
            .find(|e| e.name == name)
            .unwrap()
            .phases[0]
            .srm
    };
    let clean = srm("clean");
    assert!(clean.checked && !clean.flagged, "{}", clean.summary);
    assert!(clean.p_value.unwrap() > 0.5);
    let mismatch = srm("mismatch");
    assert!(mismatch.flagged, "{}", mismatch.summary);
    assert_eq!(mismatch.reasons, vec!["chi_square"]);
    // (1100-1000)²/1000 * 2 = 20.
    assert!((mismatch.chi_square.unwrap() - 20.0).abs() < 1e-12);
    let starved = srm("starved");
    assert!(starved.flagged, "{}", starved.summary);
    assert!(starved.reasons.contains(&"starved_arm".to_owned()));
    assert!(r.srm_flagged);
    assert!(report::render_table(&r).contains("SAMPLE RATIO MISMATCH"));
}

fn args(files: &[&Path], extra: impl FnOnce(&mut ReportArgs)) -> ReportArgs {
    let mut a = ReportArgs {
        files: files.iter().map(|p| p.to_path_buf()).collect(),
        format: Format::Json,
        out: None,
        control: None,
        sequential: false,
        n_star: 5000.0,
        fail_on_srm: false,
        per_prediction: vec!["correct".into()],
    };
    extra(&mut a);
    a
}

/// The exit status `main` gives a subcommand's result.
fn exit(result: Result<(), report::ReportError>) -> u8 {
    result.map_or_else(|e| e.exit_code(), |()| 0)
}

#[test]
fn exit_statuses_follow_the_contract() {
    let dir = tmp("exit");
    let data = dir.join("srm.jsonl");
    std::fs::write(&data, srm_records()).unwrap();
    let out = dir.join("report.json");
    let with_out = |a: &mut ReportArgs| a.out = Some(out.clone());

    assert_eq!(exit(report::cli_main(args(&[&data], with_out))), 0);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(doc["schema"], "canary-router/report/v1");
    assert_eq!(doc["srm_flagged"], true);
    assert_eq!(doc["experiments"].as_array().unwrap().len(), 3);

    let fail = |a: &mut ReportArgs| {
        a.out = Some(out.clone());
        a.fail_on_srm = true;
    };
    assert_eq!(
        exit(report::cli_main(args(&[&data], fail))),
        1,
        "--fail-on-srm flagged"
    );
    let clean = dir.join("clean.jsonl");
    let clean_lines: String = srm_records()
        .lines()
        .filter(|l| l.contains("\"clean\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&clean, clean_lines).unwrap();
    assert_eq!(
        exit(report::cli_main(args(&[&clean], fail))),
        0,
        "--fail-on-srm, clean"
    );

    let bad_control = |a: &mut ReportArgs| {
        a.out = Some(out.clone());
        a.control = Some("nosuch".into());
    };
    assert_eq!(exit(report::cli_main(args(&[&data], bad_control))), 2);
    let bad_n_star = |a: &mut ReportArgs| {
        a.out = Some(out.clone());
        a.n_star = 0.0;
    };
    assert_eq!(exit(report::cli_main(args(&[&data], bad_n_star))), 2);
    assert_eq!(
        exit(report::cli_main(args(
            &[&dir.join("missing.jsonl")],
            with_out
        ))),
        3
    );
    let unwritable = |a: &mut ReportArgs| a.out = Some(dir.join("no/such/dir/out.json"));
    assert_eq!(exit(report::cli_main(args(&[&data], unwritable))), 3);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn control_can_be_chosen() {
    let r = report::analyse(
        vec![Input::Bytes(srm_records().into_bytes())],
        &Options {
            control: Some("canary".into()),
            ..opts()
        },
    );
    // `starved` has a canary too (with no units), so every phase knows the arm.
    let r = r.unwrap();
    for e in &r.experiments {
        assert_eq!(e.phases[0].control.as_deref(), Some("canary"));
        assert!(e.phases[0].arms[1].is_control);
    }
}

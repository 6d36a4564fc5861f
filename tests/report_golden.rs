//! Golden tests: every statistic of `report` against values computed independently by scipy,
//! statsmodels and gbstats (GrowthBook's engine) in tests/golden/gen_report_goldens.py, on the
//! same seeded data set, fed to `report` as records.

use canary_router::report::{self, Comparison, Input, Options, Phase, Report};
use serde_json::{Value, json};

fn golden() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/report_stats.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The golden data set as records, plus units the analysis must leave out: one assigned by
/// an override and one seen in two arms, both with outcomes that would move every statistic.
fn records(doc: &Value) -> Vec<u8> {
    let weights = &doc["weights"];
    let mut out = Vec::new();
    let mut t = 0u64;
    let mut line = |kind: &str, rid: String, unit: &str, arm: &str, by: &str, extra: Value| {
        t += 1;
        let mut r = json!({
            "kind": kind,
            "ts": format!("2026-11-26T{:02}:{:02}:{:02}.000Z", 10 + t / 3600 % 10, t / 60 % 60, t % 60),
            "request_id": rid,
            "experiment": doc["experiment"],
            "config_version": doc["config_version"],
            "unit": unit,
            "id_source": "header",
            "assigned_by": by,
            "arm": arm,
            "weights": weights,
            "served_arm": arm,
            "status": if kind == "decision" { 200 } else { 202 },
            "error": null,
            "latency_ms": 5.0 + (t % 7) as f64,
        });
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        serde_json::to_writer(&mut out, &r).unwrap();
        out.push(b'\n');
    };
    let mut emit = |arm: &str, unit: &str, by: &str, u: &Value| {
        let predictions = u[0].as_u64().unwrap();
        let correct = u[1].as_u64().unwrap();
        for k in 0..predictions {
            line(
                "decision",
                format!("d-{arm}-{unit}-{k}"),
                unit,
                arm,
                by,
                json!({}),
            );
        }
        for k in 0..predictions {
            let v = if k < correct { 1.0 } else { 0.0 };
            line(
                "outcome",
                format!("c-{arm}-{unit}-{k}"),
                unit,
                arm,
                by,
                json!({"event": "correct", "value": v}),
            );
        }
        for (j, v) in u[2].as_array().unwrap().iter().enumerate() {
            line(
                "outcome",
                format!("p-{arm}-{unit}-{j}"),
                unit,
                arm,
                by,
                json!({"event": "purchase", "value": v}),
            );
        }
    };
    for (arm, units) in doc["units"].as_object().unwrap() {
        for (i, u) in units.as_array().unwrap().iter().enumerate() {
            emit(arm, &format!("{arm}-{i:05}"), "bucket", u);
        }
    }
    let loud = json!([50, 50, [1000.0, 1000.0]]);
    emit("canary", "forced-qa-user", "forced", &loud);
    emit("control", "two-arm-user", "bucket", &loud);
    emit("canary", "two-arm-user", "bucket", &json!([1, 1, []]));
    out
}

fn run(doc: &Value, sequential: bool) -> Report {
    let opts = Options {
        sequential,
        threads: 2,
        ..Options::default()
    };
    report::analyse(vec![Input::Bytes(records(doc))], &opts).unwrap()
}

fn close(got: f64, want: f64, what: &str) {
    let tol = 1e-9 * want.abs().max(1e-12);
    assert!(
        (got - want).abs() <= tol,
        "{what}: report {got:e}, golden {want:e} (diff {:e})",
        got - want
    );
}

fn comparison<'a>(p: &'a Phase, arm: &str, metric: &str) -> &'a Comparison {
    p.comparisons
        .iter()
        .find(|c| c.arm == arm && c.metric == metric)
        .unwrap_or_else(|| panic!("no comparison {arm} {metric}"))
}

fn effect_field(e: &report::Effect, field: &str) -> f64 {
    match field {
        "estimate" => e.estimate,
        "se" => e.se,
        "ci_low" => e.ci_low,
        "ci_high" => e.ci_high,
        "p_value" => e.p_value,
        "p_value_holm" => e.p_value_holm.unwrap(),
        "statistic" => e.statistic,
        "df" => e.df,
        other => panic!("unknown field {other}"),
    }
}

#[test]
fn every_statistic_matches_its_golden_value() {
    let doc = golden();
    let fixed = run(&doc, false);
    let seq = run(&doc, true);
    let phase = &fixed.experiments[0].phases[0];
    let seq_phase = &seq.experiments[0].phases[0];
    let mut checked = 0;
    for e in doc["expected"].as_array().unwrap() {
        let arm = e["arm"].as_str().unwrap();
        let metric = e["metric"].as_str().unwrap();
        let quantity = e["quantity"].as_str().unwrap();
        let want = e["value"].as_f64().unwrap();
        let what = format!(
            "{arm} {metric} {quantity} [{}]",
            e["source"].as_str().unwrap()
        );
        let got = if metric == "srm" {
            match quantity {
                "chi_square" => phase.srm.chi_square.unwrap(),
                "p_value" => phase.srm.p_value.unwrap(),
                _ => panic!("{what}"),
            }
        } else if quantity == "mean" {
            let a = phase.arms.iter().find(|a| a.name == arm).unwrap();
            a.metrics.iter().find(|m| m.metric == metric).unwrap().mean
        } else if quantity == "chance_to_win" {
            comparison(phase, arm, metric).chance_to_win.unwrap()
        } else {
            let parts: Vec<&str> = quantity.split('.').collect();
            let (p, kind, field) = match parts.as_slice() {
                ["sequential", kind, field] => (seq_phase, *kind, *field),
                [kind, field] => (phase, *kind, *field),
                _ => panic!("{what}"),
            };
            let c = comparison(p, arm, metric);
            let e = match kind {
                "absolute" => c.absolute.as_ref(),
                "relative" => c.relative.as_ref(),
                _ => panic!("{what}"),
            };
            effect_field(e.unwrap_or_else(|| panic!("{what}: no estimate")), field)
        };
        close(got, want, &what);
        checked += 1;
    }
    assert!(checked >= 150, "only {checked} golden values");
}

#[test]
fn excluded_units_are_counted_not_analysed() {
    let doc = golden();
    let r = run(&doc, false);
    let p = &r.experiments[0].phases[0];
    assert_eq!(p.data_quality.units_override, 1);
    assert_eq!(p.data_quality.units_multi_arm, 1);
    let canary = p.arms.iter().find(|a| a.name == "canary").unwrap();
    let n = doc["units"]["canary"].as_array().unwrap().len() as u64;
    assert_eq!(canary.units_analysed, n);
    assert_eq!(canary.units, n + 2);
    assert_eq!(canary.units_override, 1);
    assert_eq!(canary.units_multi_arm, 1);
    assert!(!p.srm.flagged, "{}", p.srm.summary);
    // Three arms: every p-value carries its Holm adjustment, every verdict says so.
    for c in &p.comparisons {
        assert_eq!(c.holm_family, 2);
        assert!(c.relative.unwrap().p_value_holm.is_some());
        assert!(c.verdict.contains("Holm-adjusted"), "{}", c.verdict);
    }
}

#[test]
fn parallel_and_serial_parsing_agree_exactly() {
    let doc = golden();
    let bytes = records(&doc);
    let one = report::analyse(
        vec![Input::Bytes(bytes.clone())],
        &Options {
            threads: 1,
            ..Options::default()
        },
    )
    .unwrap();
    let four = report::analyse(
        vec![Input::Bytes(bytes)],
        &Options {
            threads: 4,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(report::render_json(&one), report::render_json(&four));
}

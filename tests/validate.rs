//! `canary-router validate` as a user runs it, against the emulator on a loopback port: record
//! the control's answers, then the same model passes, a weaker model fails on agreement, a slow
//! one on p99, a flaky one on errors; bad golden files, arms and flags exit 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::process::Proc;
use serde_json::{Value, json};

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

fn config() -> String {
    fixture("tests/fixtures/configs/good/validate.json")
}

fn emulator() -> Proc {
    Proc::start(
        &[
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--models",
            &fixture("tests/fixtures/validate-models.json"),
        ],
        &[],
        "emulator on ",
    )
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("canary-validate-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every Iris row as a golden request, with no expected answer yet.
fn samples(path: &Path, n: usize) {
    let lines: Vec<String> = canary_router::emulator::iris_samples()
        .iter()
        .take(n)
        .map(|(x, _)| json!({"body": {"features": x}}).to_string())
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn validate(emu: &Proc, args: &[&str]) -> Output {
    let cfg = config();
    let mut all = vec!["validate", "--config", &cfg];
    all.extend_from_slice(args);
    Command::new(env!("CARGO_BIN_EXE_canary-router"))
        .args(&all)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", &emu.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run validate")
}

fn verdict(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

#[test]
fn record_then_the_same_model_passes_a_weaker_one_fails_a_slow_one_fails() {
    let emu = emulator();
    let d = dir("flow");
    let sample = d.join("sample.jsonl");
    let golden = d.join("golden.jsonl");
    samples(&sample, 150);
    let (s, g) = (sample.display().to_string(), golden.display().to_string());

    // Record the control's answers on the sample.
    let out = validate(
        &emu,
        &[
            "--arm", "control", "--golden", &s, "--record", &g, "--format", "json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let recorded = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(recorded.lines().count(), 150);
    let first: Value = serde_json::from_str(recorded.lines().next().unwrap()).unwrap();
    assert!(first["expect"]["label"].is_string(), "{first}");

    // The same model, at three levels: every answer matches, each level is reported.
    let out = validate(
        &emu,
        &[
            "--arm",
            "control",
            "--golden",
            &g,
            "--concurrency",
            "1,4,16",
            "--format",
            "json",
        ],
    );
    let v = verdict(&out);
    assert_eq!(code(&out), 0, "{v}");
    assert_eq!(v["requests"], 150);
    assert_eq!(v["matched"], 150);
    assert_eq!(v["agreement"], 1.0);
    assert_eq!(v["passed"], true);
    assert_eq!(v["endpoint"], "iris-b");
    let levels: Vec<u64> = v["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(levels, [1, 4, 16]);
    assert!(v["levels"][2]["requests_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["latency_ms"], v["levels"][2]["latency_ms"]);

    // The weaker model disagrees on labels: exit 1, the differing lines named.
    let out = validate(
        &emu,
        &[
            "--arm",
            "weaker",
            "--golden",
            &g,
            "--match",
            "/label",
            "--min-agreement",
            "0.95",
            "--format",
            "json",
        ],
    );
    let v = verdict(&out);
    assert_eq!(code(&out), 1, "{v}");
    assert_eq!(v["passed"], false);
    let agreement = v["agreement"].as_f64().unwrap();
    assert!(agreement < 0.95, "{v}");
    eprintln!("weaker model agreement on /label: {agreement:.4}");
    let failures = v["failures"].as_array().unwrap();
    assert!(!failures.is_empty() && failures.len() <= 20);
    assert!(
        failures[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("answer differs at /label"),
        "{v}"
    );

    // The same answers 60 ms late: fails the p99 threshold, passes agreement.
    let out = validate(
        &emu,
        &[
            "--arm",
            "slow",
            "--golden",
            &g,
            "--max-p99-ms",
            "40",
            "--concurrency",
            "4",
            "--format",
            "json",
        ],
    );
    let v = verdict(&out);
    assert_eq!(code(&out), 1, "{v}");
    assert_eq!(v["agreement"], 1.0);
    assert!(v["latency_ms"]["p99"].as_f64().unwrap() >= 60.0, "{v}");
    assert!(
        v["violations"][0]
            .as_str()
            .unwrap()
            .contains("--max-p99-ms"),
        "{v}"
    );

    // Half the calls fail: errors count as not matched and break --max-errors 0; the table says so.
    let out = validate(&emu, &["--arm", "flaky", "--golden", &g]);
    assert_eq!(code(&out), 1);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(": FAILED"), "{table}");
    assert!(table.contains("more than --max-errors 0"), "{table}");
    assert!(table.contains("model_error"), "{table}");
}

#[test]
fn bad_golden_files_arms_and_flags_exit_2_and_name_the_problem() {
    let emu = emulator();
    let d = dir("bad");
    let golden = d.join("golden.jsonl");
    let ok = json!({"body": {"features": [5.1, 3.5, 1.4, 0.2]}, "expect": {"label": "setosa"}});
    std::fs::write(
        &golden,
        format!("{ok}\n{{\"body\": \n{ok}\n{{\"body\": {{}}}}\n"),
    )
    .unwrap();
    let g = golden.display().to_string();

    // Broken lines are named by number; the others are still sent and checked.
    let out = validate(
        &emu,
        &[
            "--arm", "control", "--golden", &g, "--match", "/label", "--format", "json",
        ],
    );
    assert_eq!(code(&out), 2);
    let v = verdict(&out);
    assert_eq!(v["requests"], 2);
    assert_eq!(v["matched"], 2);
    assert_eq!(v["broken_lines"], 2);
    let lines: Vec<u64> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 4]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 unusable lines"));

    let unknown = validate(&emu, &["--arm", "nope", "--golden", &g]);
    assert_eq!(code(&unknown), 2);
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no arm `nope`") && err.contains("control, weaker"),
        "{err}"
    );

    for bad in [
        vec!["--arm", "control", "--golden", &g, "--concurrency", "0"],
        vec!["--arm", "control", "--golden", &g, "--concurrency", "4,x"],
        vec!["--arm", "control", "--golden", &g, "--min-agreement", "1.5"],
        vec!["--arm", "control", "--golden", &g, "--match", "label"],
        vec!["--arm", "control", "--golden", &g, "--tolerance", "-1"],
        vec![
            "--arm", "control", "--golden", &g, "--record", "x", "--match", "/label",
        ],
    ] {
        let out = validate(&emu, &bad);
        assert_eq!(
            code(&out),
            2,
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let empty = d.join("empty.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    let out = validate(
        &emu,
        &["--arm", "control", "--golden", &empty.display().to_string()],
    );
    assert_eq!(code(&out), 2);

    let missing = validate(
        &emu,
        &["--arm", "control", "--golden", "/nonexistent/golden.jsonl"],
    );
    assert_eq!(code(&missing), 3);
}

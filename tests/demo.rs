//! `canary-router demo` as a real process: exit 0, and the stickiness it claims, re-checked from
//! the records file it wrote (the router's own records, not the demo's summary).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

fn run_demo(out: &std::path::Path, seed: &str) -> (String, Vec<Value>) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"))
        .args([
            "demo",
            "--users",
            "300",
            "--predictions",
            "2",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let records = std::fs::read_to_string(out.join("records.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (stdout, records)
}

#[test]
fn demo_keeps_every_user_on_one_arm_per_phase_and_shows_the_random_split() {
    let out = std::env::temp_dir().join(format!("canary-demo-{}", std::process::id()));
    let (stdout, records) = run_demo(&out, "11");
    let in_phases = |r: &&Value| r["config_version"] != "demo.5";
    let decisions: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "decision")
        .filter(in_phases)
        .collect();
    let outcomes: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "outcome")
        .filter(in_phases)
        .collect();
    // 300 users × 2 predictions × 4 phases, each with its feedback.
    assert_eq!(decisions.len(), 2400);
    assert_eq!(outcomes.len(), 2400);

    // Before demo.1: validate ran on the canary against the control's recorded answers.
    assert!(
        stdout.contains("validate arm canary (endpoint iris-b) with")
            && stdout.contains(": PASSED"),
        "{stdout}"
    );
    let golden = std::fs::read_to_string(out.join("golden.jsonl")).unwrap();
    assert_eq!(golden.lines().count(), 150);
    // The shadow phase: one prediction per user, half the users shadowed by the canary's
    // endpoint, every shadow call recorded and compared.
    let shadow_phase: Vec<&Value> = records
        .iter()
        .filter(|r| r["config_version"] == "demo.5")
        .collect();
    let shadows: Vec<&&Value> = shadow_phase
        .iter()
        .filter(|r| r["kind"] == "shadow")
        .collect();
    let shadowed = shadow_phase
        .iter()
        .filter(|r| r["kind"] == "decision")
        .count();
    assert_eq!(shadowed, 300);
    assert!((100..200).contains(&shadows.len()), "{}", shadows.len());
    assert!(
        shadows
            .iter()
            .all(|s| s["endpoint"] == "iris-b" && s["agrees"].is_boolean())
    );
    assert!(stdout.contains("shadow phase demo.5:"), "{stdout}");
    assert!(decisions.iter().all(|r| r["status"] == 200));
    assert!(
        outcomes
            .iter()
            .all(|r| r["status"] == 202 && r["event"] == "correct")
    );
    let ids: BTreeSet<&str> = decisions
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert!(
        outcomes
            .iter()
            .all(|o| ids.contains(o["prediction_id"].as_str().unwrap()))
    );

    // (phase, unit) → arms, per identity source.
    let mut arms: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut sources: BTreeMap<String, usize> = BTreeMap::new();
    for r in &decisions {
        *sources
            .entry(r["id_source"].as_str().unwrap().to_owned())
            .or_default() += 1;
        arms.entry((
            r["config_version"].as_str().unwrap().to_owned(),
            r["unit"].as_str().unwrap().to_owned(),
        ))
        .or_default()
        .insert(r["arm"].as_str().unwrap().to_owned());
    }
    assert_eq!(sources["header"], 1200);
    assert_eq!(
        sources.get("cookie").copied().unwrap_or(0) + sources["minted"],
        1200
    );
    assert_eq!(
        sources["minted"], 150,
        "each cookie user is minted exactly once"
    );
    let units_per_phase = |v: &str| arms.keys().filter(|(p, _)| p == v).count();
    for v in ["demo.1", "demo.2", "demo.3", "demo.4"] {
        assert_eq!(units_per_phase(v), 300, "{v}");
    }
    assert!(
        arms.values().all(|a| a.len() == 1),
        "a unit saw two arms within a phase"
    );
    let canary = |v: &str| -> BTreeSet<&String> {
        arms.iter()
            .filter(|((p, _), a)| p == v && a.contains("canary"))
            .map(|((_, u), _)| u)
            .collect()
    };
    assert!(
        canary("demo.1").is_subset(&canary("demo.2")),
        "the ramp moved a user out of the canary"
    );
    assert_eq!(canary("demo.3").len(), 300);
    assert!(canary("demo.4").is_empty());
    let share = canary("demo.1").len() as f64 / 300.0;
    assert!(
        (0.03..0.2).contains(&share),
        "canary share in demo.1: {share}"
    );

    // The printed comparison: many users saw both variants without the router.
    let line = stdout
        .lines()
        .find(|l| l.contains("users who saw both models:"))
        .unwrap();
    let n: usize = line
        .split("users who saw both models: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 20, "{line}");
    assert!(stdout.contains("demo: checks passed"));

    // --seed makes it reproducible: same table of users, requests and accuracy.
    let out2 = std::env::temp_dir().join(format!("canary-demo-{}-again", std::process::id()));
    let (stdout2, records2) = run_demo(&out2, "11");
    let table = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("demo."))
            .map(|l| {
                l.split_whitespace()
                    .filter(|w| !w.contains('.') || w.ends_with('%'))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    assert_eq!(table(&stdout), table(&stdout2));
    let assignment = |rs: &[Value]| -> BTreeSet<(String, String, String)> {
        rs.iter()
            .filter(|r| r["kind"] == "decision")
            .map(|r| {
                (
                    r["config_version"].to_string(),
                    r["unit"].to_string(),
                    r["arm"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(assignment(&records), assignment(&records2));
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&out2);
}

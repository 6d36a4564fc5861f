//! `canary-router plan` as a process: the contract's JSON, `--max-move`, exit statuses.

use serde_json::{Value, json};

fn write(name: &str, v: &Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("canary-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

fn plan(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"))
        .arg("plan")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config(version: &str, canary: u32) -> Value {
    json!({"experiment": "imgclf-lr", "version": version, "salt": "imgclf-lr-1",
           "arms": [{"name": "control", "endpoint": "imgclf-a", "weight": 10000 - canary},
                    {"name": "canary", "endpoint": "imgclf-b", "weight": canary}]})
}

#[test]
fn plan_old_new_gives_the_contract_json_and_gates_on_max_move() {
    let old = write("old.json", &config("v1", 1000));
    let new = write("new.json", &config("v2", 2500));
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let (code, out, err) = plan(&["--format", "json", o, n]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let step = &v["steps"][0];
    assert_eq!(step["from_version"], "v1");
    assert_eq!(step["to_version"], "v2");
    assert_eq!(
        step["moves"],
        json!([{"from": "control", "to": "canary", "buckets": 1500}])
    );
    assert_eq!(step["moved_buckets"], 1500);
    assert_eq!(step["moved_share"], 0.15);
    assert_eq!(step["leaves_canary"], 0);
    assert_eq!(step["salt_changed"], false);
    assert_eq!(step["override_changes"], 0);
    assert_eq!(plan(&["--max-move", "1500", o, n]).0, Some(0));
    let (code, _, err) = plan(&["--max-move", "1499", o, n]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--max-move 1499"), "{err}");
}

#[test]
fn plan_config_plans_each_step_and_warns_about_steps_already_past() {
    let mut c = config("v0", 1000);
    c["schedule"] = json!([
        {"at": "2001-01-01T00:00:00Z", "version": "v1", "weights": {"control": 5000, "canary": 5000}},
        {"at": "2999-01-01T00:00:00Z", "version": "v2", "weights": {"control": 0, "canary": 10000}}
    ]);
    let p = write("schedule.json", &c);
    let (code, out, err) = plan(&["--format", "json", p.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let versions: Vec<_> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["from_version"].as_str().unwrap(),
                s["to_version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, [("v0", "v1"), ("v1", "v2")]);
    assert!(
        err.contains("step v1 (at 2001-01-01T00:00:00Z) is already past"),
        "{err}"
    );
    let flat = write("flat.json", &config("v0", 1000));
    let (code, out, _) = plan(&["--format", "json", flat.to_str().unwrap()]);
    assert_eq!(
        (code, serde_json::from_str::<Value>(&out).unwrap()),
        (Some(0), json!({"steps": []}))
    );
    let (_, table, _) = plan(&[p.to_str().unwrap()]);
    assert!(
        table.contains("v0 -> v1 at 2001-01-01T00:00:00Z (already past: on arrival)"),
        "{table}"
    );
}

#[test]
fn plan_refuses_invalid_configs_with_2_and_missing_files_with_3() {
    let mut bad = config("v1", 1000);
    bad["arms"][0]["weight"] = json!(1);
    let b = write("bad.json", &bad);
    let good = write("good.json", &config("v1", 1000));
    let (code, _, err) = plan(&[good.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("arms[1].weight: weights sum to 1001"), "{err}");
    assert_eq!(plan(&["/no/such/config.json"]).0, Some(3));
    assert_eq!(plan(&[]).0, Some(2), "usage");
}

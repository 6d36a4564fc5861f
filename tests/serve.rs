//! `canary-router serve` and `canary-router emulate` as real processes on loopback ports: the
//! router calls the emulator through the real AWS SDK (signing, retries, timeouts and all).

mod common;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::process::{HttpResponse, Proc, http};
use serde_json::{Value, json};
use sha2::Digest;

const KEY: &str =
    "NrryWaCxDbjgwh4UUetghjmjzu1JM0BLNfzQNQeN/qre50+jhfraU1SASMC7B0eWPYipka8XSZTNiDhuGiximQ==";
const SECRET: &str = "qa-secret";

fn emulator() -> Proc {
    let models = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/error-models.json"
    );
    Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--models", models],
        &[],
        "emulator on ",
    )
}

fn serve(emu: &Proc, config_file: &std::path::Path, extra_env: &[(&str, &str)]) -> Proc {
    let mut env = vec![
        ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", emu.url.as_str()),
        ("CANARY_COOKIE_KEY", KEY),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    env.extend_from_slice(extra_env);
    Proc::start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config_file.to_str().unwrap(),
        ],
        &env,
        "serving on ",
    )
}

fn temp_config(name: &str, config: &Value) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("canary-router-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    write_atomic(&path, config);
    path
}

fn write_atomic(path: &std::path::Path, config: &Value) {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(serde_json::to_string_pretty(config).unwrap().as_bytes())
        .unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn config() -> Value {
    let digest = canary_router::assign::hex(&sha2::Sha256::digest(SECRET.as_bytes()));
    let mut arms = vec![
        json!({"name": "control", "endpoint": "iris-a", "weight": 5000}),
        json!({"name": "canary", "endpoint": "iris-ab", "weight": 5000, "target_variant": "VariantB"}),
    ];
    for (arm, endpoint) in ERRORS.iter().map(|(a, e, _, _)| (a, e)) {
        arms.push(json!({"name": arm, "endpoint": endpoint, "weight": 0}));
    }
    json!({
        "experiment": "serve-test",
        "version": "v1",
        "salt": "serve-test-1",
        "arms": arms,
        "cookie": {"secure": false},
        "timeouts": {"attempt_ms": 400, "total_ms": 900},
        "overrides": {"forced": {"secret_sha256": digest}}
    })
}

/// (arm, emulator endpoint, router status, router error kind).
const ERRORS: [(&str, &str, u16, &str); 8] = [
    ("e-validation", "err-validation", 502, "internal"),
    ("e-model", "err-modelerror", 502, "model_error"),
    ("e-notready", "err-notready", 503, "not_ready"),
    ("e-internal", "err-internal", 502, "internal"),
    ("e-unavailable", "err-unavailable", 503, "unavailable"),
    ("e-dependency", "err-dependency", 502, "internal_dependency"),
    ("e-throttling", "err-throttling", 503, "throttled"),
    ("e-hang", "hang", 504, "timeout"),
];

fn predict(addr: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    http(
        addr,
        "POST",
        "/predict",
        &h,
        br#"{"features": [6.7, 3.0, 5.2, 2.3]}"#,
    )
}

fn user_on(arm: usize) -> String {
    (0..)
        .map(|i| format!("user-{i}"))
        .find(|u| (canary_router::assign::bucket("serve-test-1", u) >= 5000) == (arm == 1))
        .unwrap()
}

#[test]
fn routes_each_arm_to_its_endpoint_and_variant_through_the_sdk() {
    let emu = emulator();
    let srv = serve(&emu, &temp_config("routing", &config()), &[]);
    let mut per_arm = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..40 {
        let user = format!("route-{i}");
        let resp = predict(&srv.addr, &[("X-User-Id", &user)]);
        assert_eq!(resp.status, 200, "{:?} {}", resp, srv.stderr());
        let body = resp.json();
        assert!(body["label"].is_string(), "{body}");
        *per_arm
            .entry(resp.header("x-canary-arm").unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_arm.len(), 2, "{per_arm:?}");
    let records = srv.wait_records(40);
    assert_eq!(records.len(), 40);
    for r in &records {
        let (endpoint, variant) = match r["arm"].as_str().unwrap() {
            "control" => ("iris-a", "AllTraffic"),
            "canary" => ("iris-ab", "VariantB"),
            other => panic!("unexpected arm {other}"),
        };
        assert_eq!(r["endpoint"], endpoint, "{r}");
        // The emulator's x-Amzn-Invoked-Production-Variant, read back by the SDK.
        assert_eq!(r["invoked_variant"], variant, "{r}");
        assert_eq!(r["served_arm"], r["arm"]);
        assert!(r["model_latency_ms"].as_f64().unwrap() > 0.0);
        assert!(r["latency_ms"].as_f64().unwrap() >= r["model_latency_ms"].as_f64().unwrap());
    }
    // Health over HTTP.
    let health = http(&srv.addr, "GET", "/health", &[], b"").json();
    assert_eq!(health["config_version"], "v1");
}

#[test]
fn every_sagemaker_error_maps_to_its_status_and_record() {
    let emu = emulator();
    let srv = serve(&emu, &temp_config("errors", &config()), &[]);
    for (i, (arm, endpoint, status, kind)) in ERRORS.iter().enumerate() {
        let resp = predict(
            &srv.addr,
            &[
                ("X-User-Id", "qa"),
                ("X-Canary-Force-Arm", arm),
                ("X-Canary-Force-Secret", SECRET),
            ],
        );
        assert_eq!(
            resp.status,
            *status,
            "{endpoint}: {:?}",
            String::from_utf8_lossy(&resp.body)
        );
        assert_eq!(resp.json()["error"], *kind, "{endpoint}");
        assert_eq!(resp.header("x-canary-arm"), Some(*arm));
        let records = srv.wait_records(i + 1);
        let r = &records[i];
        assert_eq!(
            (r["error"].as_str(), r["status"].as_u64()),
            (Some(*kind), Some(u64::from(*status))),
            "{r}"
        );
        assert_eq!(r["assigned_by"], "forced");
        assert_eq!(r["endpoint"], *endpoint);
    }
}

#[test]
fn fallback_serves_from_the_control_endpoint() {
    let emu = emulator();
    let mut cfg = config();
    cfg["fallback"] = json!("control");
    let srv = serve(&emu, &temp_config("fallback", &cfg), &[]);
    let resp = predict(
        &srv.addr,
        &[
            ("X-User-Id", "qa"),
            ("X-Canary-Force-Arm", "e-model"),
            ("X-Canary-Force-Secret", SECRET),
        ],
    );
    assert_eq!(resp.status, 200, "{}", srv.stderr());
    assert_eq!(resp.header("x-canary-arm"), Some("e-model"));
    assert_eq!(resp.header("x-canary-served-arm"), Some("control"));
    let r = &srv.wait_records(1)[0];
    assert_eq!(
        (r["arm"].as_str(), r["served_arm"].as_str()),
        (Some("e-model"), Some("control"))
    );
    assert_eq!(r["endpoint"], "iris-a");
    assert_eq!(r["fallbacks"], 1);
}

#[test]
fn cookies_survive_a_restart_and_work_across_instances_sharing_a_key() {
    let emu = emulator();
    let path = temp_config("cookies", &config());
    let first = serve(&emu, &path, &[]);
    let minted = predict(&first.addr, &[]);
    assert_eq!(minted.status, 200);
    let cookie = minted
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let arm = minted.header("x-canary-arm").unwrap().to_owned();
    let unit = first.wait_records(1)[0]["unit"].clone();
    let second = serve(&emu, &path, &[]);
    drop(first);
    let restarted = serve(&emu, &path, &[]);
    for srv in [&second, &restarted] {
        let resp = predict(&srv.addr, &[("Cookie", &cookie)]);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("x-canary-arm"), Some(arm.as_str()));
        assert!(resp.header("set-cookie").is_none());
        let r = &srv.wait_records(1)[0];
        assert_eq!(
            (r["id_source"].as_str(), &r["unit"]),
            (Some("cookie"), &unit)
        );
    }
    // Another key: the cookie is treated as absent and replaced.
    let other_key =
        "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktb3RoZXI=";
    let other = serve(&emu, &path, &[("CANARY_COOKIE_KEY", other_key)]);
    let resp = predict(&other.addr, &[("Cookie", &cookie)]);
    assert!(resp.header("set-cookie").is_some());
    assert_eq!(other.wait_records(1)[0]["id_source"], "minted");
}

#[test]
fn the_same_user_gets_the_same_arm_through_both_front_doors() {
    use canary_router::front::lambda::{to_request, to_response};
    let emu = emulator();
    let cfg = config();
    let srv = serve(&emu, &temp_config("doors", &cfg), &[]);
    let (router, ..) = common::router_with(common::config(cfg), common::fixture_keys());
    let event = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/events/v2-predict-user-header.json"
    ))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for i in 0..30 {
        let user = format!("door-{i}");
        let via_serve = predict(&srv.addr, &[("X-User-Id", &user)]);
        let ev = event.replace("\"user-42\"", &format!("\"{user}\""));
        let req = lambda_http::request::from_str(&ev).unwrap();
        let via_lambda = rt.block_on(router.handle(to_request(req)));
        let via_lambda = to_response(via_lambda);
        assert_eq!(
            via_serve.header("x-canary-arm"),
            via_lambda
                .headers()
                .get("x-canary-arm")
                .map(|v| v.to_str().unwrap()),
            "{user}"
        );
    }
}

#[test]
fn hot_reload_swaps_valid_files_refuses_bad_ones_and_drops_no_request() {
    let emu = emulator();
    let path = temp_config("reload", &config());
    let srv = Arc::new(serve(&emu, &path, &[]));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let load = {
        let (srv, stop, failures, sent) = (
            Arc::clone(&srv),
            Arc::clone(&stop),
            Arc::clone(&failures),
            Arc::clone(&sent),
        );
        std::thread::spawn(move || {
            let mut i = 0;
            // Bounded: at most 5,000 requests, to loopback only.
            while !stop.load(Ordering::Relaxed) && i < 5_000 {
                let resp = predict(&srv.addr, &[("X-User-Id", &format!("load-{}", i % 50))]);
                if resp.status != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                sent.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    let version = || http(&srv.addr, "GET", "/health", &[], b"").json()["config_version"].clone();
    let wait_for = |want: &str| {
        for _ in 0..100 {
            if version() == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("config {want} never loaded: {}", srv.stderr());
    };
    let canary_user = user_on(1);
    // A valid ramp under a new version.
    let mut ramp = config();
    ramp["version"] = json!("v2");
    ramp["arms"][0]["weight"] = json!(1000);
    ramp["arms"][1]["weight"] = json!(9000);
    write_atomic(&path, &ramp);
    wait_for("v2");
    let resp = predict(&srv.addr, &[("X-User-Id", &canary_user)]);
    assert_eq!(
        resp.header("x-canary-arm"),
        Some("canary"),
        "the ramp keeps canary users"
    );
    assert_eq!(resp.header("x-canary-config-version"), Some("v2"));
    // Invalid JSON: refused, v2 keeps serving.
    std::fs::write(&path, "{\"experiment\": ").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(version(), "v2");
    // A changed split under the same version: refused.
    let mut same = ramp.clone();
    same["arms"][0]["weight"] = json!(5000);
    same["arms"][1]["weight"] = json!(5000);
    write_atomic(&path, &same);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(version(), "v2");
    let log = srv.stderr();
    assert!(log.contains("config refused"), "{log}");
    assert!(log.contains("version: `v2` is unchanged"), "{log}");
    // Each refused document is one `config` line, naming the version still serving.
    let refusals: Vec<Value> = srv
        .records()
        .into_iter()
        .filter(|r| r["kind"] == "config")
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(
        refusals
            .iter()
            .all(|r| r["config_version"] == "v2" && r["config_refusals"] == 1)
    );
    assert_eq!(
        refusals[0]["refused_version"],
        Value::Null,
        "invalid JSON names no version"
    );
    assert_eq!(refusals[1]["refused_version"], "v2");
    // And a valid v3 still goes through afterwards.
    let mut back = config();
    back["version"] = json!("v3");
    write_atomic(&path, &back);
    wait_for("v3");
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(
        sent.load(Ordering::Relaxed) > 10,
        "the load ran during the swaps"
    );
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no request failed during the swaps"
    );
}

#[test]
fn serve_with_no_config_runs_the_bundled_demo_against_an_embedded_emulator() {
    let srv = Proc::start(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("AWS_EC2_METADATA_DISABLED", "true")],
        "serving on ",
    );
    let log = srv.stderr();
    assert!(log.contains("bundled demo config"), "{log}");
    assert!(log.contains("ephemeral key"), "{log}");
    assert!(log.contains("curl"), "{log}");
    let resp = predict(&srv.addr, &[]);
    assert_eq!(resp.status, 200, "{resp:?}");
    let sc = resp.header("set-cookie").unwrap();
    assert!(!sc.contains("Secure"), "plain http: {sc}");
    let body = resp.json();
    assert!(body["probabilities"].is_array(), "{body}");
    let health = http(&srv.addr, "GET", "/health", &[], b"").json();
    assert_eq!(health["arms"][0]["weight"], 9000);
    assert_eq!(health["arms"][1]["weight"], 1000);
}

#[test]
fn bad_config_exits_2_and_a_busy_port_exits_3() {
    let path = temp_config(
        "bad",
        &json!({"experiment": "x", "version": "v", "salt": "s", "arms": []}),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("arms: needs at least one arm"));
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"))
        .args([
            "serve",
            "--listen",
            &addr,
            "--config",
            temp_config("busy", &config()).to_str().unwrap(),
        ])
        .env("CANARY_COOKIE_KEY", KEY)
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"))
        .args(["serve", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

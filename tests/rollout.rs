//! Rollouts without redeploys, as real processes on loopback: `serve` reading its config from
//! the AppConfig stand-in (`emulate --appconfig DIR`) under steady load — switches, refused
//! documents, rollbacks, the extension going away — start-up without a valid document, and a
//! lockstep schedule across two `serve` processes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use canary_router::config::parse_rfc3339;
use common::process::{Proc, http};
use serde_json::{Value, json};

fn models() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hardening-models.json"
    )
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("canary-rollout-{}-{name}", std::process::id()));
    std::fs::create_dir_all(d.join("canary/prod")).unwrap();
    d
}

fn doc(version: &str, canary: u32) -> Value {
    json!({"experiment": "roll", "version": version, "salt": "roll-1",
           "arms": [{"name": "control", "endpoint": "echo", "weight": 10000 - canary},
                    {"name": "canary", "endpoint": "echo", "weight": canary}],
           "cookie": {"enabled": false}})
}

fn publish(dir: &std::path::Path, text: &str) {
    let path = dir.join("canary/prod/router.json");
    let tmp = dir.join("canary/prod/.router.json.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn stand_in(dir: &std::path::Path, port: u16) -> Proc {
    Proc::start(
        &[
            "emulate",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--models",
            models(),
            "--appconfig",
            dir.to_str().unwrap(),
        ],
        &[],
        "emulator on ",
    )
}

fn sdk_env(emu: &Proc) -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME".into(), emu.url.clone()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "AKIDTEST".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]
}

fn serve_appconfig(emu: &Proc, appconfig_port: u16) -> Proc {
    let mut env = sdk_env(emu);
    env.push(("CANARY_APPCONFIG".into(), "canary/prod/router".into()));
    env.push((
        "AWS_APPCONFIG_EXTENSION_HTTP_PORT".into(),
        appconfig_port.to_string(),
    ));
    env.push(("CANARY_CONFIG_REFRESH_MS".into(), "250".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Proc::start(&["serve", "--listen", "127.0.0.1:0"], &env, "serving on ")
}

/// Requests from a background thread until stopped; counts what was not a 200.
struct Load {
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicUsize>,
    sent: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: &str) -> Load {
        let (stop, failed, sent) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let (s, f, n, addr) = (stop.clone(), failed.clone(), sent.clone(), addr.to_owned());
        let thread = std::thread::spawn(move || {
            let mut i = 0;
            while !s.load(Ordering::Relaxed) && i < 20_000 {
                let r = http(
                    &addr,
                    "POST",
                    "/predict",
                    &[
                        ("X-User-Id", &format!("u-{}", i % 200)),
                        ("Content-Type", "application/json"),
                    ],
                    b"{\"x\": 1}",
                );
                if r.status != 200 {
                    f.fetch_add(1, Ordering::Relaxed);
                }
                n.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        });
        Load {
            stop,
            failed,
            sent,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

fn version(addr: &str) -> String {
    http(addr, "GET", "/health", &[], b"").json()["config_version"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// How long until /health shows `want`, or `None` within `limit`.
fn time_to(addr: &str, want: &str, limit: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if version(addr) == want {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn appconfig_switches_refusals_rollbacks_and_an_extension_that_goes_away() {
    let d = dir("switch");
    publish(&d, &doc("v1", 1000).to_string());
    let port = free_port();
    let mut ext = stand_in(&d, port);
    // SageMaker is another emulator: the AppConfig stand-in goes away below, SageMaker does not.
    let emu = Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--models", models()],
        &[],
        "emulator on ",
    );
    let srv = serve_appconfig(&emu, port);
    assert_eq!(version(&srv.addr), "v1");
    let load = Load::start(&srv.addr);
    std::thread::sleep(Duration::from_millis(300));

    // A switch takes effect within the refresh interval (250 ms) plus 1 s.
    publish(&d, &doc("v2", 5000).to_string());
    let took =
        time_to(&srv.addr, "v2", Duration::from_millis(1250)).expect("v2 within refresh + 1 s");
    eprintln!("switch latency: {took:?}");

    // Refused: not JSON; a wrong split; v2's version with another split. v2 keeps serving, and
    // each refused document is logged and recorded once although it is fetched every 250 ms.
    publish(&d, "{\"experiment\": ");
    std::thread::sleep(Duration::from_millis(800));
    let mut bad = doc("v3", 5000);
    bad["arms"][1]["weight"] = json!(4000);
    publish(&d, &bad.to_string());
    std::thread::sleep(Duration::from_millis(800));
    publish(&d, &doc("v2", 9000).to_string());
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(version(&srv.addr), "v2");

    // Rollback to v1 (its own split): accepted.
    publish(&d, &doc("v1", 1000).to_string());
    assert!(time_to(&srv.addr, "v1", Duration::from_millis(1250)).is_some());

    // The extension goes away and comes back: clients see nothing of it.
    drop(ext);
    std::thread::sleep(Duration::from_millis(1000));
    ext = stand_in(&d, port);
    publish(&d, &doc("v4", 2000).to_string());
    assert!(
        time_to(&srv.addr, "v4", Duration::from_millis(2000)).is_some(),
        "{}",
        srv.stderr()
    );
    let (sent, failed) = load.finish();
    drop(ext);
    assert!(sent > 50, "the load ran: {sent}");
    assert_eq!(
        failed, 0,
        "no request failed during switches, refusals, a rollback and an outage"
    );

    let records = srv.records();
    let refusals: Vec<&Value> = records.iter().filter(|r| r["kind"] == "config").collect();
    assert_eq!(
        refusals.len(),
        3,
        "one line per refused document: {refusals:?}"
    );
    assert_eq!(refusals[2]["refused_version"], "v2");
    assert!(refusals.iter().all(|r| r["config_version"] == "v2"));
    let decisions: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    let served: BTreeSet<&str> = decisions
        .iter()
        .filter_map(|r| r["config_version"].as_str())
        .collect();
    assert!(
        served.iter().all(|v| ["v1", "v2", "v4"].contains(v)),
        "{served:?}"
    );
    let log = srv.stderr();
    assert_eq!(log.matches("config refused").count(), 3, "{log}");
    assert_eq!(
        log.matches("config refresh failed").count(),
        1,
        "an outage is logged once: {log}"
    );
}

#[test]
fn no_valid_document_at_start_is_exit_2_and_no_extension_exit_3() {
    let emu = Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--models", models()],
        &[],
        "emulator on ",
    );
    let d = dir("start");
    publish(&d, "{\"experiment\": \"x\"}");
    let port = free_port();
    let ext = stand_in(&d, port);
    let run = |target: &str, port: u16| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"));
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("CANARY_CONFIG")
            .env_remove("CANARY_CONFIG_FILE")
            .env("CANARY_APPCONFIG", target)
            .env("AWS_APPCONFIG_EXTENSION_HTTP_PORT", port.to_string());
        for (k, v) in sdk_env(&emu) {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("canary/prod/router", port);
    assert_eq!(code, Some(2), "an invalid document: {err}");
    assert!(err.contains("missing field"), "{err}");
    let (code, err) = run("canary/prod/nosuch", port);
    assert_eq!(code, Some(2), "an unknown profile: {err}");
    assert!(err.contains("404"), "{err}");
    drop(ext);
    let t0 = Instant::now();
    let (code, err) = run("canary/prod/router", free_port());
    assert_eq!(code, Some(3), "no extension: {err}");
    assert!(err.contains("cannot be reached"), "{err}");
    assert!(
        t0.elapsed() >= Duration::from_secs(4),
        "it waited for a starting extension"
    );
    // An extension that accepts and never answers: the fetch times out, the start fails.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let hport = hanging.local_addr().unwrap().port();
    let (code, err) = run("canary/prod/router", hport);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("did not answer within"), "{err}");
}

#[test]
fn two_instances_switch_together_on_a_schedule() {
    let emu = Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--models", models()],
        &[],
        "emulator on ",
    );
    let now = SystemTime::now();
    let at = |secs: u64| {
        let t = time::OffsetDateTime::from(now + Duration::from_secs(secs));
        let t = t.replace_millisecond(0).unwrap();
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let mut cfg = doc("s0", 1000);
    cfg["schedule"] = json!([
        {"at": at(2), "version": "s1", "weights": {"control": 5000, "canary": 5000}},
        {"at": at(4), "version": "s2", "weights": {"control": 0, "canary": 10000}}
    ]);
    let d = dir("schedule");
    let path = d.join("config.json");
    std::fs::write(&path, cfg.to_string()).unwrap();
    let env = sdk_env(&emu);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        path.to_str().unwrap(),
    ];
    let a = Proc::start(&args, &env, "serving on ");
    let b = Proc::start(&args, &env, "serving on ");
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < Duration::from_millis(5500) {
        let addr = if i % 2 == 0 { &a.addr } else { &b.addr };
        let r = http(
            addr,
            "POST",
            "/predict",
            &[
                ("X-User-Id", &format!("u-{}", i % 60)),
                ("Content-Type", "application/json"),
            ],
            b"{}",
        );
        assert_eq!(r.status, 200);
        i += 1;
    }
    let steps: Vec<(SystemTime, &str)> = [(at(2), "s1"), (at(4), "s2")]
        .iter()
        .map(|(t, v)| (parse_rfc3339(t).unwrap(), *v))
        .collect();
    let order = |v: &str| ["s0", "s1", "s2"].iter().position(|x| *x == v).unwrap();
    let mut arms: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for r in a
        .records()
        .iter()
        .chain(b.records().iter())
        .filter(|r| r["kind"] == "decision")
    {
        let ts = parse_rfc3339(r["ts"].as_str().unwrap()).unwrap();
        let v = r["config_version"].as_str().unwrap();
        let due = steps
            .iter()
            .filter(|(t, _)| ts >= *t)
            .map(|(_, v)| order(v))
            .max()
            .unwrap_or(0);
        assert!(
            order(v) >= due,
            "a record at {} carries {v}, earlier than its step",
            r["ts"]
        );
        assert!(
            order(v) <= due,
            "a record at {} carries {v} before its step",
            r["ts"]
        );
        seen.insert(v.to_owned());
        arms.entry((r["unit"].as_str().unwrap().to_owned(), v.to_owned()))
            .or_default()
            .insert(r["arm"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 3, "every step was served: {seen:?}");
    assert!(
        arms.values().all(|a| a.len() == 1),
        "a unit saw two arms within a step"
    );
}

//! `serve` under hostile and careless clients, as real processes on loopback: clients that hang
//! up, send half their headers, idle, overrun the connection cap, cut their bodies short or
//! send huge headers; shutdown with requests in flight; blank and missing configs; logs at
//! `trace`. Each test is the defect report it fixes.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::process::{HttpResponse, Proc, http, parse_response};
use serde_json::{Value, json};

fn emulator() -> Proc {
    let models = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hardening-models.json"
    );
    Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--models", models],
        &[],
        "emulator on ",
    )
}

fn config(endpoint: &str) -> Value {
    json!({
        "experiment": "hard",
        "version": "v1",
        "salt": "hard-1",
        "arms": [{"name": "control", "endpoint": endpoint, "weight": 10000}],
        "cookie": {"enabled": false},
        "timeouts": {"attempt_ms": 600, "total_ms": 900}
    })
}

fn config_file(name: &str, config: &Value) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "canary-router-hardening-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn serve(emu: &Proc, name: &str, endpoint: &str, flags: &[&str], env: &[(&str, &str)]) -> Proc {
    let path = config_file(name, &config(endpoint));
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        path.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let mut all_env = vec![
        ("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", emu.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    all_env.extend_from_slice(env);
    Proc::start(&args, &all_env, "serving on ")
}

fn predict_head(addr: &str, extra: &str, content_length: usize) -> String {
    format!(
        "POST /predict HTTP/1.1\r\nHost: {addr}\r\nX-User-Id: u-1\r\nContent-Type: application/json\r\n{extra}Content-Length: {content_length}\r\n\r\n"
    )
}

/// Sends raw bytes, optionally closes the write side, and reads until the server closes.
fn exchange(addr: &str, bytes: &[u8], half_close: bool) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    if half_close {
        s.shutdown(Shutdown::Write).unwrap();
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    raw
}

/// Whether the server has closed `s` (EOF or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn decisions(records: &[Value]) -> Vec<&Value> {
    records.iter().filter(|r| r["kind"] == "decision").collect()
}

fn invocations(emu: &Proc, endpoint: &str) -> u64 {
    let v = http(&emu.addr, "GET", "/endpoints", &[], b"").json();
    v["endpoints"]
        .as_array()
        .and_then(|eps| eps.iter().find(|e| e["name"] == endpoint))
        .and_then(|e| e["variants"][0]["invocations"].as_u64())
        .unwrap_or_else(|| panic!("no invocation count for {endpoint} in {v}"))
}

#[test]
fn a_client_that_hangs_up_still_leaves_its_record_with_the_status_it_would_have_had() {
    let emu = emulator();
    let srv = serve(&emu, "hangup", "hang", &[], &[]);
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                let body = br#"{"features": [1, 2, 3, 4]}"#;
                let head = predict_head(&addr, &format!("X-Request: {i}\r\n"), body.len())
                    .replace("u-1", &format!("u-{i}"));
                s.write_all(head.as_bytes()).unwrap();
                s.write_all(body).unwrap();
                // The client gives up long before the router's 900 ms total timeout.
                std::thread::sleep(Duration::from_millis(200));
                drop(s);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let records = srv.wait_records(20);
    let d = decisions(&records);
    assert_eq!(d.len(), 20, "one record per request: {records:?}");
    for r in d {
        assert_eq!(r["status"], 504, "{r}");
        assert_eq!(r["error"], "timeout", "{r}");
        assert_eq!(r["client_closed"], true, "{r}");
        assert_eq!(r["arm"], "control", "{r}");
    }
}

#[test]
fn half_sent_headers_and_idle_connections_are_closed_and_keep_alive_survives_the_header_timer() {
    let emu = emulator();
    let srv = serve(
        &emu,
        "timeouts",
        "echo",
        &["--header-timeout-ms", "400", "--idle-timeout-ms", "1500"],
        &[],
    );
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(&srv.addr).unwrap();
            s.write_all(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-User-Id: a")
                .unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    for s in &mut slow {
        assert!(
            closed_within(s, Duration::from_secs(3)),
            "a half-sent header block was held open"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(3));

    // A keep-alive connection: a request, a pause longer than the header timeout but shorter
    // than the idle timeout, a second request on the same connection, then idle until closed.
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = br#"{"features": [1, 2, 3, 4]}"#;
    for round in 0..2 {
        s.write_all(predict_head(&srv.addr, "", body.len()).as_bytes())
            .unwrap();
        s.write_all(body).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 200"), "round {round}: {head}");
        std::thread::sleep(Duration::from_millis(700));
    }
    let idle_from = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(5)));
    let idled = idle_from.elapsed() + Duration::from_millis(700);
    assert!(
        idled >= Duration::from_millis(1400) && idled < Duration::from_secs(4),
        "closed after {idled:?} idle"
    );
    // The server still answers.
    let ok = http(
        &srv.addr,
        "POST",
        "/predict",
        &[("X-User-Id", "u-2"), ("Content-Type", "application/json")],
        body,
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn past_the_connection_cap_a_new_connection_gets_503_unavailable_and_is_closed() {
    let emu = emulator();
    let srv = serve(&emu, "cap", "echo", &["--max-connections", "3"], &[]);
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&srv.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let body = br#"{"features": [1, 2, 3, 4]}"#;
    let mut req = predict_head(&srv.addr, "", body.len()).into_bytes();
    req.extend_from_slice(body);
    let refused = parse_response(&exchange(&srv.addr, &req, false));
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.json()["error"], "unavailable");
    assert!(refused.json()["request_id"].is_string());
    assert_eq!(refused.header("connection"), Some("close"));
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let ok = parse_response(&exchange(&srv.addr, &req, false));
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[test]
fn a_body_cut_short_is_a_400_with_its_record_and_never_reaches_the_model() {
    let emu = emulator();
    let srv = serve(&emu, "cut", "echo", &[], &[]);
    let before = invocations(&emu, "echo");
    let mut short = predict_head(&srv.addr, "", 1000).into_bytes();
    short.extend_from_slice(b"{\"features");
    let resp = parse_response(&exchange(&srv.addr, &short, true));
    assert_eq!(resp.status, 400, "{resp:?}");
    assert_eq!(resp.json()["error"], "bad_request");
    let chunked = format!(
        "POST /predict HTTP/1.1\r\nHost: {}\r\nX-User-Id: u-1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{{\"fea\r\n",
        srv.addr
    );
    let resp = parse_response(&exchange(&srv.addr, chunked.as_bytes(), true));
    assert_eq!(resp.status, 400, "{resp:?}");
    // A client that leaves mid-body entirely still leaves a record.
    let mut gone = TcpStream::connect(&srv.addr).unwrap();
    gone.write_all(&short).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(gone);
    let records = srv.wait_records(3);
    let d = decisions(&records);
    assert_eq!(d.len(), 3, "{records:?}");
    for r in &d {
        assert_eq!(
            (r["status"].as_u64(), r["error"].as_str()),
            (Some(400), Some("bad_request")),
            "{r}"
        );
    }
    assert_eq!(
        invocations(&emu, "echo"),
        before,
        "a cut body reached the model"
    );
}

fn with_cookies(srv: &Proc, count: usize, size: usize) -> HttpResponse {
    let cookies: Vec<(String, String)> = (0..count)
        .map(|i| ("Cookie".to_owned(), format!("c{i}={}", "v".repeat(size))))
        .collect();
    let mut headers: Vec<(&str, &str)> =
        vec![("X-User-Id", "u-1"), ("Content-Type", "application/json")];
    headers.extend(cookies.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    http(
        &srv.addr,
        "POST",
        "/predict",
        &headers,
        br#"{"features": [1, 2, 3, 4]}"#,
    )
}

#[test]
fn many_and_large_headers_get_answers_a_client_can_read() {
    let emu = emulator();
    let srv = serve(&emu, "headers", "echo", &[], &[]);
    // 100 Cookie headers were refused by hyper's default limit with a bare error.
    assert_eq!(with_cookies(&srv, 150, 20).status, 200);
    // Over the router's 64 KB: its own JSON 431, with a record.
    let big = with_cookies(&srv, 100, 1000);
    assert_eq!(big.status, 431, "{big:?}");
    assert_eq!(big.json()["error"], "bad_request");
    let records = srv.wait_records(2);
    assert_eq!(decisions(&records)[1]["status"], 431);
    // Past hyper's own limits the answer is hyper's bare 431, and no record (documented).
    let huge = with_cookies(&srv, 300, 1000);
    assert_eq!(huge.status, 431);
    assert_eq!(
        with_cookies(&srv, 1, 10).status,
        200,
        "the server still answers"
    );
}

#[test]
fn stopping_lets_requests_in_flight_finish_with_their_records() {
    let emu = emulator();
    let mut srv = serve(&emu, "drain", "slow", &[], &[]);
    let addr = srv.addr.clone();
    let inflight = std::thread::spawn(move || {
        http(
            &addr,
            "POST",
            "/predict",
            &[("X-User-Id", "u-1"), ("Content-Type", "application/json")],
            br#"{"features": [1, 2, 3, 4]}"#,
        )
    });
    std::thread::sleep(Duration::from_millis(200));
    let status = srv
        .terminate(Duration::from_secs(10))
        .expect("serve stopped");
    assert!(status.success(), "{status}");
    let resp = inflight.join().unwrap();
    assert_eq!(resp.status, 200, "{resp:?}");
    let records = srv.records();
    assert_eq!(decisions(&records).len(), 1, "{records:?}");
    assert_eq!(decisions(&records)[0]["status"], 200);
}

#[test]
fn a_blank_config_is_refused_and_a_missing_file_is_an_io_error() {
    for blank in ["", "   \n"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("CANARY_CONFIG", blank)
            .env_remove("CANARY_CONFIG_FILE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("CANARY_CONFIG is set but empty"), "{err}");
        assert!(!err.contains("bundled demo"), "{err}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "/no/such/config.json",
        ])
        .env_remove("CANARY_CONFIG")
        .env_remove("CANARY_CONFIG_FILE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot read config file /no/such/config.json"),
        "{err}"
    );
}

#[test]
fn trace_logging_never_shows_request_or_answer_bodies() {
    let emu = emulator();
    let srv = serve(&emu, "trace", "echo", &[], &[("RUST_LOG", "trace")]);
    let resp = http(
        &srv.addr,
        "POST",
        "/predict",
        &[
            ("X-User-Id", "trace-user-77"),
            ("Content-Type", "application/json"),
        ],
        br#"{"features": [1, 2, 3, 4], "marker": "BODY-MARKER-123"}"#,
    );
    assert_eq!(resp.status, 200);
    assert!(
        String::from_utf8_lossy(&resp.body).contains("BODY-MARKER-123"),
        "echo answers it"
    );
    srv.wait_records(1);
    std::thread::sleep(Duration::from_millis(200));
    let log = srv.stderr();
    assert!(log.contains("TRACE"), "trace logging is on");
    assert!(!log.contains("BODY-MARKER-123"), "a body reached the logs");
    assert!(
        !log.contains("trace-user-77"),
        "a raw user ID reached the logs"
    );
}

#[test]
fn a_deleted_config_file_is_logged_once_and_a_restored_one_is_picked_up() {
    let emu = emulator();
    let srv = serve(&emu, "deleted", "echo", &[], &[]);
    let path = config_file("deleted", &config("echo"));
    std::fs::remove_file(&path).unwrap();
    // The watcher looks every 500 ms: six looks at a missing file.
    std::thread::sleep(Duration::from_millis(3200));
    let mut next = config("echo");
    next["version"] = json!("v2");
    std::fs::write(&path, next.to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !srv.stderr().contains("config reloaded") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = srv.stderr();
    assert_eq!(log.matches("config file unreadable").count(), 1, "{log}");
    assert!(log.contains("config reloaded"), "{log}");
    let health = http(&srv.addr, "GET", "/health", &[], b"").json();
    assert_eq!(health["config_version"], "v2");
}

#[test]
fn the_log_ceiling_for_the_sdk_is_a_ceiling_not_a_level() {
    // At the default (info) the SDK and hyper must stay quiet: capping them at debug once
    // switched them *on* at debug (36 MB of stderr for a small demo).
    let emu = emulator();
    let srv = serve(&emu, "ceiling", "echo", &[], &[("RUST_LOG", "info")]);
    let resp = http(
        &srv.addr,
        "POST",
        "/predict",
        &[("X-User-Id", "u-1"), ("Content-Type", "application/json")],
        b"{\"features\": [1, 2, 3, 4]}",
    );
    assert_eq!(resp.status, 200);
    srv.wait_records(1);
    std::thread::sleep(Duration::from_millis(200));
    let log = srv.stderr();
    assert!(!log.contains("DEBUG"), "{log}");
}

//! Streams end to end on loopback: a client, `serve`, the real AWS SDK's
//! InvokeEndpointWithResponseStream, and the emulator's event-stream frames. Chunks reach the
//! client before the model has even generated the rest (the emulator holds its later tokens
//! until the test has read the first chunk), the bytes are the model's, and every mid-stream
//! failure and client disconnect leaves exactly one record with the stream fields.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use canary_router::emulator::tokens::{TokenFormat, TokenModel};
use common::process::{Proc, http};
use serde_json::{Value, json};

const ARMS: [(&str, &str); 9] = [
    ("tgi", "llm"),
    ("lmi", "llm-lmi"),
    ("model-error", "llm-error"),
    ("stream-failure", "llm-failure"),
    ("truncated", "llm-truncate"),
    ("bad-crc", "llm-crc"),
    ("down", "llm-down"),
    ("held", "llm-held"),
    ("iris", "iris"),
];

fn setup() -> (Proc, Proc) {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/streaming-models.json");
    let emu = Proc::start(
        &[
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--models",
            &models.display().to_string(),
        ],
        &[],
        "emulator on ",
    );
    // Every arm but the first at weight 0, each reached by its own listed user.
    let arms: Vec<Value> = ARMS
        .iter()
        .enumerate()
        .map(|(i, (name, ep))| {
            json!({"name": name, "endpoint": ep, "weight": if i == 0 { 10000 } else { 0 }})
        })
        .collect();
    let users: serde_json::Map<String, Value> = ARMS
        .iter()
        .map(|(name, _)| ((*name).to_owned(), json!([format!("user-{name}")])))
        .collect();
    let cfg = json!({
        "experiment": "llm", "version": "v1", "salt": "llm-1",
        "arms": arms,
        "overrides": {"users": users},
        "cookie": {"enabled": false},
        "timeouts": {"attempt_ms": 5000, "total_ms": 10000, "first_byte_ms": 5000, "stream_idle_ms": 10000}
    })
    .to_string();
    let srv = Proc::serve_inline(&emu, &cfg);
    (emu, srv)
}

/// A streamed answer read chunk by chunk off the wire.
struct Streamed {
    reader: BufReader<TcpStream>,
    status: u16,
    headers: Vec<(String, String)>,
}

impl Streamed {
    fn open(addr: &str, arm: &str) -> Streamed {
        Streamed::open_with(
            addr,
            arm,
            br#"{"inputs": "Why do canaries sing?"}"#,
            "text/event-stream",
        )
    }

    fn open_with(addr: &str, arm: &str, body: &[u8], accept: &str) -> Streamed {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let req = format!(
            "POST /predict HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: {accept}\r\nX-User-Id: user-{arm}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut w = s.try_clone().unwrap();
        w.write_all(req.as_bytes()).unwrap();
        w.write_all(body).unwrap();
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
        }
        Streamed {
            reader,
            status,
            headers,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The next chunk of a chunked body; None at its end.
    fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut size = String::new();
        self.reader.read_line(&mut size).ok()?;
        let n = usize::from_str_radix(size.trim(), 16).ok()?;
        let mut data = vec![0; n + 2];
        self.reader.read_exact(&mut data).ok()?;
        data.truncate(n);
        (n > 0).then_some(data)
    }

    fn rest(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(c) = self.chunk() {
            all.extend(c);
        }
        all
    }
}

fn decision(srv: &Proc, n: usize, arm: &str) -> Value {
    let records = srv.wait_records(n);
    let mine: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "decision" && r["arm"] == arm)
        .collect();
    assert_eq!(mine.len(), 1, "{records:?}");
    mine[0].clone()
}

fn tgi(tokens: u32) -> TokenModel {
    TokenModel {
        format: TokenFormat::Tgi,
        tokens,
        delay_ms: 0.0,
        token_bytes: 0,
        hold_after: None,
    }
}

#[test]
fn chunks_arrive_before_the_model_has_finished_and_the_bytes_are_the_models() {
    let (emu, srv) = setup();
    let mut s = Streamed::open(&srv.addr, "tgi");
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("text/event-stream"));
    assert_eq!(s.header("transfer-encoding"), Some("chunked"));
    // The emulator holds every token after the first until the gate opens: this chunk can
    // only have come through while the model was still "generating".
    let first = s.chunk().expect("a first chunk");
    let model = tgi(20);
    assert_eq!(first, model.event(0).to_vec());
    let opened = http(&emu.addr, "POST", "/emulator/gates/llm", &[], b"");
    assert_eq!(opened.status, 204);
    let mut body = first;
    body.extend(s.rest());
    assert_eq!(
        body,
        model.stream_bytes(),
        "the client got the model's bytes"
    );
    let r = decision(&srv, 1, "tgi");
    assert_eq!(r["status"], 200);
    assert_eq!(r["streamed"], true);
    assert_eq!(r["tokens"], 20);
    assert_eq!(r["finish_reason"], "length");
    assert_eq!(r["response_bytes"], body.len());
    assert!(r["first_byte_ms"].as_f64().unwrap() > 0.0);
    assert!(r["error"].is_null());

    // The report reads the stream fields: time to first byte, tokens per second of generation.
    let report = canary_router::report::analyse_records(
        &srv.records(),
        &canary_router::report::Options::default(),
    )
    .unwrap();
    let arm = report.experiments[0].phases[0]
        .arms
        .iter()
        .find(|a| a.name == "tgi")
        .unwrap();
    let stream = arm.stream.expect("stream figures");
    assert_eq!((stream.streams, stream.tokens), (1, 20));
    let first = r["first_byte_ms"].as_f64().unwrap();
    let p50 = stream.first_byte_ms.unwrap().p50;
    assert!(
        (p50 - first).abs() <= first * 0.002 + 0.001,
        "{p50} vs {first}"
    );
    let seconds = (r["latency_ms"].as_f64().unwrap() - first) / 1000.0;
    let rate = stream.tokens_per_s.unwrap();
    assert!((rate - 20.0 / seconds).abs() <= 1e-3 * rate, "{rate}");
    assert!(canary_router::report::render_table(&report).contains("Streams ("));
}

#[test]
fn lmi_lines_and_a_model_that_does_not_stream() {
    let (_emu, srv) = setup();
    let mut s = Streamed::open(&srv.addr, "lmi");
    assert_eq!(s.header("content-type"), Some("application/jsonlines"));
    let body = s.rest();
    let model = TokenModel {
        format: TokenFormat::Lmi,
        ..tgi(5)
    };
    assert_eq!(body, model.stream_bytes());
    let r = decision(&srv, 1, "lmi");
    assert_eq!(
        (r["tokens"].as_u64(), r["finish_reason"].as_str()),
        (Some(5), Some("length"))
    );

    // Iris answers a stream request in one part, with its own content type (the client's
    // Accept goes to the model, which answers JSON).
    let mut s = Streamed::open_with(
        &srv.addr,
        "iris",
        br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#,
        "text/event-stream, application/json",
    );
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&s.rest()).unwrap_or(Value::Null);
    assert_eq!(body["label"], "setosa", "{body}");
    let r = decision(&srv, 2, "iris");
    assert_eq!(r["streamed"], true);
    assert!(r["tokens"].is_null());
}

#[test]
fn mid_stream_failures_end_with_the_error_event_and_one_record_each() {
    let (_emu, srv) = setup();
    let model = tgi(10);
    let three: Vec<u8> = (0..3).flat_map(|i| model.event(i).to_vec()).collect();
    let mut n = 0;
    for arm in ["model-error", "stream-failure", "truncated", "bad-crc"] {
        let mut s = Streamed::open(&srv.addr, arm);
        assert_eq!(s.status, 200, "{arm}");
        let body = s.rest();
        assert!(
            body.starts_with(&three),
            "{arm}: {}",
            String::from_utf8_lossy(&body)
        );
        let tail = String::from_utf8_lossy(&body[three.len()..]).into_owned();
        assert!(
            tail.starts_with("\n\nevent: error\ndata: {"),
            "{arm}: {tail:?}"
        );
        let event: Value =
            serde_json::from_str(tail.trim().strip_prefix("event: error\ndata: ").unwrap())
                .unwrap();
        n += 1;
        let r = decision(&srv, n, arm);
        assert_eq!(r["status"], 200, "{arm}");
        assert_eq!(r["streamed"], true);
        assert_eq!(r["error"], event["error"], "{arm}");
        assert_eq!(event["request_id"], r["request_id"]);
        // The model's payload bytes; the router's error event is not counted.
        assert_eq!(r["response_bytes"], three.len() as u64, "{arm}");
        eprintln!("{arm}: error kind {}", r["error"]);
    }

    // Before the first byte, an ordinary error answer.
    let s = Streamed::open(&srv.addr, "down");
    assert_eq!(s.status, 502);
    assert_eq!(s.header("content-type"), Some("application/json"));
    let r = decision(&srv, n + 1, "down");
    assert_eq!(r["error"], "model_error");
    assert_eq!(r["status"], 502);
}

#[test]
fn a_client_that_leaves_mid_stream_cancels_it_and_leaves_its_record() {
    let (emu, srv) = setup();
    let mut s = Streamed::open(&srv.addr, "held");
    let model = tgi(10);
    let mut got = Vec::new();
    while got.len() < model.event(0).len() + model.event(1).len() {
        got.extend(s.chunk().expect("the first two tokens"));
    }
    drop(s);
    // The model would go on now; the router must have let go of the stream already.
    std::thread::sleep(Duration::from_millis(200));
    http(&emu.addr, "POST", "/emulator/gates/llm-held", &[], b"");
    let r = decision(&srv, 1, "held");
    assert_eq!(r["client_closed"], true, "{r}");
    assert_eq!(r["streamed"], true);
    let sent = r["response_bytes"].as_u64().unwrap();
    assert!(sent < model.stream_bytes().len() as u64, "{r}");
    std::thread::sleep(Duration::from_millis(300));
    let decisions = srv
        .records()
        .iter()
        .filter(|r| r["kind"] == "decision")
        .count();
    assert_eq!(decisions, 1, "exactly one record");
}

/// A user's own streaming container (as a TGI or vLLM container answers: chunked HTTP) behind
/// the emulator's `container` model: its chunks reach the client as the container writes
/// them, the second only after the client has read the first.
#[test]
fn a_streaming_containers_chunks_pass_through_as_they_are_written() {
    use std::net::TcpListener;
    use std::sync::mpsc;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go_on, wait) = mpsc::channel::<()>();
    let first = b"data: {\"token\": {\"text\": \"Hello\"}}\n\n".to_vec();
    let second = b"data: {\"token\": {\"text\": \" world\"}, \"details\": {\"finish_reason\": \"eos_token\", \"generated_tokens\": 2}}\n\n".to_vec();
    let (f, s2) = (first.clone(), second.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let ping = line.starts_with("GET /ping");
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            if ping {
                conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
                continue;
            }
            let chunk = |b: &[u8]| {
                [
                    format!("{:x}\r\n", b.len()).into_bytes(),
                    b.to_vec(),
                    b"\r\n".to_vec(),
                ]
                .concat()
            };
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
            conn.write_all(&chunk(&f)).unwrap();
            conn.flush().unwrap();
            let _ = wait.recv_timeout(Duration::from_secs(20));
            conn.write_all(&chunk(&s2)).unwrap();
            conn.write_all(b"0\r\n\r\n").unwrap();
            return;
        }
    });
    let dir = std::env::temp_dir().join(format!("canary-container-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let models = dir.join("models.json");
    std::fs::write(
        &models,
        json!({"endpoints": {"mine": {"variants": [{"name": "AllTraffic",
            "model": {"type": "container", "url": format!("http://127.0.0.1:{port}")}}]}}})
        .to_string(),
    )
    .unwrap();
    let emu = Proc::start(
        &[
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--models",
            &models.display().to_string(),
        ],
        &[],
        "emulator on ",
    );
    let cfg = json!({"experiment": "own", "version": "v1", "salt": "own-1",
        "arms": [{"name": "mine", "endpoint": "mine", "weight": 10000}],
        "cookie": {"enabled": false}})
    .to_string();
    let srv = Proc::serve_inline(&emu, &cfg);
    let mut s = Streamed::open(&srv.addr, "mine");
    assert_eq!(s.status, 200);
    assert_eq!(s.header("content-type"), Some("text/event-stream"));
    let got_first = s.chunk().expect("the container's first chunk");
    assert_eq!(
        got_first, first,
        "the first chunk came through before the second was written"
    );
    go_on.send(()).unwrap();
    let mut body = got_first;
    body.extend(s.rest());
    assert_eq!(body, [first, second].concat());
    let r = decision(&srv, 1, "mine");
    assert_eq!(
        (r["tokens"].as_u64(), r["finish_reason"].as_str()),
        (Some(2), Some("eos_token"))
    );
}

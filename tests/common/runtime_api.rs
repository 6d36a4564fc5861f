//! A Lambda Runtime API on loopback, for the response-streaming mode that aws-lambda-rie and
//! `sam local` do not implement: it hands out events, and for each response it records the
//! response-mode header and, for a streamed response, splits the prelude (JSON, then eight NUL
//! bytes) from the body, re-assembled from HTTP chunks with the time each chunk arrived.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

/// One response the function sent.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub mode: Option<String>,
    pub prelude: Option<serde_json::Value>,
    /// The body after the prelude (streamed) or the whole body (buffered).
    pub body: Vec<u8>,
    /// Offsets in `body` at which chunks arrived, with when.
    pub chunks: Vec<(usize, Instant)>,
    pub error_type: Option<String>,
}

/// The fake Runtime API: `addr` goes into `AWS_LAMBDA_RUNTIME_API`.
pub struct RuntimeApi {
    pub addr: String,
    events: Sender<(String, String)>,
    pub responses: Receiver<Invocation>,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (events, events_rx) = channel::<(String, String)>();
        let (resp_tx, responses) = channel();
        let events_rx = std::sync::Arc::new(std::sync::Mutex::new(events_rx));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (events_rx, resp_tx) = (events_rx.clone(), resp_tx.clone());
                std::thread::spawn(move || serve_conn(conn, &events_rx, &resp_tx));
            }
        });
        RuntimeApi {
            addr,
            events,
            responses,
        }
    }

    /// Queues an event; `next` hands it to the function.
    pub fn invoke(&self, request_id: &str, event: &str) {
        self.events
            .send((request_id.to_owned(), event.to_owned()))
            .unwrap();
    }

    pub fn response(&self, within: Duration) -> Invocation {
        self.responses
            .recv_timeout(within)
            .expect("the function answered")
    }
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn serve_conn(
    conn: TcpStream,
    events: &std::sync::Mutex<Receiver<(String, String)>>,
    responses: &Sender<Invocation>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end().to_owned();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        if method == "GET" && path.ends_with("/invocation/next") {
            let next = events.lock().unwrap().recv();
            let Ok((id, event)) = next else { return };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 60_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:router\r\nContent-Length: {}\r\n\r\n",
                event.len()
            );
            conn.write_all(head.as_bytes()).unwrap();
            conn.write_all(event.as_bytes()).unwrap();
            continue;
        }
        if method == "POST" && (path.ends_with("/response") || path.ends_with("/error")) {
            let id = path.split('/').nth(4).unwrap_or("").to_owned();
            let mut body = Vec::new();
            let mut chunks = Vec::new();
            if header(&headers, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size).unwrap();
                    let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                        .unwrap_or(0);
                    if n == 0 {
                        // Trailers, then the blank line.
                        loop {
                            let mut t = String::new();
                            reader.read_line(&mut t).unwrap();
                            if t.trim().is_empty() {
                                break;
                            }
                            if let Some((k, v)) = t.trim().split_once(':') {
                                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                            }
                        }
                        break;
                    }
                    let mut chunk = vec![0u8; n];
                    reader.read_exact(&mut chunk).unwrap();
                    let mut crlf = [0u8; 2];
                    reader.read_exact(&mut crlf).unwrap();
                    chunks.push((body.len(), Instant::now()));
                    body.extend_from_slice(&chunk);
                }
            } else {
                let n: usize = header(&headers, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                body = vec![0u8; n];
                reader.read_exact(&mut body).unwrap();
            }
            let mode = header(&headers, "lambda-runtime-function-response-mode");
            let (prelude, rest) = match body.windows(8).position(|w| w == [0u8; 8]) {
                Some(i) if mode.as_deref() == Some("streaming") => (
                    serde_json::from_slice(&body[..i]).ok(),
                    body[i + 8..].to_vec(),
                ),
                _ => (None, body.clone()),
            };
            let prelude_len = body.len() - rest.len();
            let chunks = chunks
                .into_iter()
                .filter(|(o, _)| *o >= prelude_len)
                .map(|(o, t)| (o - prelude_len, t))
                .collect();
            conn.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            let _ = responses.send(Invocation {
                request_id: id,
                error_type: header(&headers, "lambda-runtime-function-error-type"),
                mode,
                prelude,
                body: rest,
                chunks,
            });
            continue;
        }
        conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    }
}

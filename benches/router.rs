//! The router's own cost next to the SageMaker call it wraps, measured side by side in one run:
//! - `handler/*`: one request through the handler (identity, assignment, pre-processing, record
//!   serialisation) with an endpoint that answers instantly: the router's own work;
//! - `sdk/*`: one InvokeEndpoint through the AWS SDK to the emulator's `echo` on loopback, on a
//!   multi-thread and on a current-thread tokio runtime;
//! - `raw_http/echo`: the same call as a raw HTTP/1.1 request, the floor under the SDK.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use canary_router::config::Config;
use canary_router::emulator::{self, Emulator};
use canary_router::identity::CookieKeys;
use canary_router::record::{Line, RecordSink};
use canary_router::router::{Request, Router};
use canary_router::sagemaker::{self, Invocation, InvokeError, Invoker, ModelAnswer, SdkInvoker};

/// Serialises each record like the stdout sink, then drops it.
struct NullSink;
impl RecordSink for NullSink {
    fn write(&self, record: &Line<'_>) {
        let line = serde_json::to_vec(record).expect("record serialises");
        std::hint::black_box(line);
    }
}

/// An endpoint that answers at once.
struct Instant;
impl Invoker for Instant {
    async fn invoke(&self, _call: Invocation<'_>) -> Result<ModelAnswer, InvokeError> {
        Ok(ModelAnswer {
            body: Bytes::from_static(br#"{"label":"setosa","probabilities":[0.9,0.05,0.05]}"#),
            content_type: Some("application/json".into()),
            invoked_variant: Some("AllTraffic".into()),
        })
    }
}

const CONFIG: &str = r#"{"experiment": "bench", "version": "v1", "salt": "bench-1",
  "arms": [{"name": "control", "endpoint": "echo", "weight": 9000},
           {"name": "canary", "endpoint": "echo", "weight": 1000}],
  "preprocess": {"require": ["features"]}}"#;

fn request(user: &str) -> Request {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-user-id", HeaderValue::from_str(user).expect("ascii"));
    Request::new(
        Method::POST,
        "/predict",
        headers,
        Bytes::from_static(br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#),
        "bench-request",
    )
}

fn start_emulator(rt: &tokio::runtime::Runtime) -> std::net::SocketAddr {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let emu = Arc::new(Emulator::new(emulator::demo_models()).expect("models"));
        tokio::spawn(emulator::run(emu, listener, std::future::pending()));
        addr
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let config = Config::parse(CONFIG).expect("config");
    let router = Router::new(config.clone(), CookieKeys::ephemeral(), Instant, NullSink);
    c.bench_function("handler/predict_header_user", |b| {
        b.iter(|| rt.block_on(router.handle(request("user-42"))))
    });
    c.bench_function("handler/predict_minted_cookie", |b| {
        b.iter(|| {
            let mut r = request("x");
            r.headers.remove("x-user-id");
            rt.block_on(router.handle(r))
        })
    });

    // The emulator on its own runtime, so the client runtimes below are what is compared.
    let emu_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let addr = start_emulator(&emu_rt);
    let url = format!("http://{addr}");
    let call = || Invocation {
        endpoint: "echo",
        target: None,
        body: Bytes::from_static(br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#),
        content_type: "application/json",
        accept: None,
        inference_id: "bench",
        custom_attributes: "experiment=bench;arm=control",
        timeouts: config.timeouts(),
    };
    let sdk = rt.block_on(sagemaker::local_sdk_config(&url));
    let invoker = SdkInvoker::new(&sdk);
    c.bench_function("sdk/invoke_echo_multi_thread", |b| {
        b.iter(|| rt.block_on(invoker.invoke(call())).expect("echo answers"))
    });
    let ct = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let sdk = ct.block_on(sagemaker::local_sdk_config(&url));
    let invoker_ct = SdkInvoker::new(&sdk);
    c.bench_function("sdk/invoke_echo_current_thread", |b| {
        b.iter(|| {
            ct.block_on(invoker_ct.invoke(call()))
                .expect("echo answers")
        })
    });

    let body = r#"{"features": [5.1, 3.5, 1.4, 0.2]}"#;
    let req = format!(
        "POST /endpoints/echo/invocations HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = ct.block_on(async {
        let s = TcpStream::connect(addr).await.expect("connect");
        s.set_nodelay(true).expect("nodelay");
        s
    });
    let mut buf = vec![0u8; 4096];
    c.bench_function("raw_http/echo", |b| {
        b.iter(|| {
            ct.block_on(async {
                stream.write_all(req.as_bytes()).await.expect("write");
                let mut got = 0;
                loop {
                    got += stream.read(&mut buf[got..]).await.expect("read");
                    if let Some(end) = buf[..got].windows(4).position(|w| w == b"\r\n\r\n")
                        && got >= end + 4 + body.len()
                    {
                        break;
                    }
                }
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

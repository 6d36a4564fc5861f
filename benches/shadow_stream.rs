//! What shadows and streaming add to a request, side by side in one run, with p50 and p99 (the
//! tails are the point, so this is a timing loop rather than criterion's means):
//! - `shadow`: `/predict` through the handler and the real AWS SDK to the in-process emulator's
//!   `echo`, without a shadow, with a fast shadow awaited after the answer (as Lambda runs,
//!   current-thread runtime) and with a detached one (as `serve` runs, multi-thread runtime).
//!   The shadow endpoint is a second emulator on its own thread, as a shadow is another
//!   endpoint in SageMaker; on a 2-core machine the two still share the cores;
//! - `first byte`: time to the first payload byte of a `tokens` stream, through the router
//!   (`Accept: text/event-stream`, head and first chunk) and straight from the SDK's
//!   InvokeEndpointWithResponseStream, on the same runtime.
//!
//! `cargo bench --bench shadow_stream` (release). Requests are interleaved so that drift and
//! noise fall on every variant alike.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::BodyExt;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use canary_router::config::Config;
use canary_router::emulator::{self, Emulator, parse_models};
use canary_router::identity::CookieKeys;
use canary_router::quantile::quantile;
use canary_router::record::{Line, RecordSink};
use canary_router::router::{Request, Router, StreamOut, Wire};
use canary_router::sagemaker::{self, Invocation, Invoker, SdkInvoker};

/// Samples per variant under `cargo bench`; `cargo test --all-targets` runs a smoke pass.
const N_BENCH: usize = 3000;
const N_SMOKE: usize = 20;

/// The SDK to the arm's emulator, and to the shadow's for `echo-shadow`.
struct TwoEndpoints {
    arm: SdkInvoker,
    shadow: SdkInvoker,
}

impl Invoker for TwoEndpoints {
    fn invoke(
        &self,
        call: Invocation<'_>,
    ) -> impl std::future::Future<Output = Result<sagemaker::ModelAnswer, sagemaker::InvokeError>> + Send
    {
        let which = if call.endpoint == "echo-shadow" {
            &self.shadow
        } else {
            &self.arm
        };
        which.invoke(call)
    }
}

/// Serialises each record like the stdout sink, then drops it.
struct NullSink;
impl RecordSink for NullSink {
    fn write(&self, record: &Line<'_>) {
        let line = serde_json::to_vec(record).expect("record serialises");
        std::hint::black_box(line);
    }
}

const MODELS: &str = r#"{"endpoints": {
  "echo": {"variants": [{"name": "AllTraffic", "model": {"type": "echo"}}]},
  "echo-shadow": {"variants": [{"name": "AllTraffic", "model": {"type": "echo"}}]},
  "llm": {"variants": [{"name": "AllTraffic", "model": {"type": "tokens", "tokens": 4}}]}}}"#;

fn config(shadow: bool) -> Config {
    let shadows = if shadow {
        r#"[{"name": "next", "endpoint": "echo-shadow", "share": 10000, "timeout_ms": 1000}]"#
    } else {
        "[]"
    };
    Config::parse(&format!(
        r#"{{"experiment": "bench", "version": "v1", "salt": "bench-1",
           "arms": [{{"name": "control", "endpoint": "echo", "weight": 10000}},
                    {{"name": "llm", "endpoint": "llm", "weight": 0}}],
           "overrides": {{"users": {{"llm": ["llm-user"]}}}},
           "cookie": {{"enabled": false}},
           "shadow": {shadows}}}"#
    ))
    .expect("config")
}

fn request(user: &str, accept: Option<&'static str>) -> Request {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-user-id", HeaderValue::from_str(user).expect("ascii"));
    if let Some(a) = accept {
        headers.insert("accept", HeaderValue::from_static(a));
    }
    Request::new(
        Method::POST,
        "/predict",
        headers,
        Bytes::from_static(br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#),
        "bench-request",
    )
}

fn start_emulator(rt: &tokio::runtime::Runtime) -> String {
    start_emulator_with(rt, MODELS)
}

fn start_emulator_with(rt: &tokio::runtime::Runtime, models: &str) -> String {
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let emu = Arc::new(Emulator::new(parse_models(models).expect("models")).expect("models"));
        tokio::spawn(emulator::run(emu, listener, std::future::pending()));
        format!("http://{addr}")
    })
}

fn row(name: &str, base: Option<(f64, f64)>, mut us: Vec<f64>) -> (f64, f64) {
    us.sort_by(f64::total_cmp);
    let (p50, p99) = (quantile(&us, 0.5), quantile(&us, 0.99));
    match base {
        Some((b50, b99)) => println!(
            "{name:<44} p50 {p50:>8.1} µs  p99 {p99:>8.1} µs   added p50 {:>+7.1} µs  p99 {:>+7.1} µs",
            p50 - b50,
            p99 - b99
        ),
        None => println!("{name:<44} p50 {p50:>8.1} µs  p99 {p99:>8.1} µs"),
    }
    (p50, p99)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` does not, and gets a quick smoke run.
    let n = if std::env::args().any(|a| a == "--bench") {
        N_BENCH
    } else {
        N_SMOKE
    };
    let warm = n / 15;
    let emu_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let url = start_emulator(&emu_rt);
    let shadow_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt");
    let shadow_url = start_emulator_with(&shadow_rt, MODELS);

    for (mode, rt) in [
        (
            "Lambda (current thread, shadow awaited)",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt"),
        ),
        (
            "serve (multi thread, shadow detached)",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("rt"),
        ),
    ] {
        let sdk = rt.block_on(sagemaker::local_sdk_config(&url));
        let shadow_sdk = rt.block_on(sagemaker::local_sdk_config(&shadow_url));
        let two = || TwoEndpoints {
            arm: SdkInvoker::new(&sdk),
            shadow: SdkInvoker::new(&shadow_sdk),
        };
        let plain = Router::new(config(false), CookieKeys::ephemeral(), two(), NullSink);
        let mut shadowed = Router::new(config(true), CookieKeys::ephemeral(), two(), NullSink);
        let tasks = TaskTracker::new();
        if mode.starts_with("serve") {
            shadowed = shadowed.with_detached_shadows(tasks.clone());
        }
        let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in 0..n + warm {
            let user = format!("user-{i}");
            let t = Instant::now();
            let r = rt.block_on(plain.handle(request(&user, None)));
            let ta = t.elapsed();
            assert_eq!(r.status(), 200);
            let t = Instant::now();
            let r = rt.block_on(shadowed.handle(request(&user, None)));
            let tb = t.elapsed();
            assert_eq!(r.status(), 200);
            // Let a detached shadow finish before the next pair, as between real requests.
            rt.block_on(async {
                while !tasks.is_empty() {
                    tokio::task::yield_now().await
                }
            });
            if i >= warm {
                a.push(ta.as_secs_f64() * 1e6);
                b.push(tb.as_secs_f64() * 1e6);
            }
        }
        println!("{mode}:");
        let base = row("  /predict, no shadow", None, a);
        row(
            "  /predict, shadowed (fast shadow, share 100%)",
            Some(base),
            b,
        );
    }

    // Time to first byte: the router against the SDK alone.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let sdk = rt.block_on(sagemaker::local_sdk_config(&url));
    let router = Arc::new(Router::new(
        config(false),
        CookieKeys::ephemeral(),
        SdkInvoker::new(&sdk),
        NullSink,
    ));
    let invoker = SdkInvoker::new(&sdk);
    let timeouts = router.config().timeouts();
    let (mut direct, mut routed) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n + warm {
        let t = Instant::now();
        let first = rt.block_on(async {
            let call = Invocation {
                endpoint: "llm",
                target: None,
                body: Bytes::from_static(br#"{"inputs": "hi"}"#),
                content_type: "application/json",
                accept: Some("text/event-stream"),
                inference_id: "bench",
                custom_attributes: "",
                timeouts,
            };
            let mut s = invoker.invoke_stream(call).await.expect("stream");
            let first = s.parts.recv().await.expect("a part").expect("ok");
            let took = t.elapsed();
            while s.parts.recv().await.is_some() {}
            (took, first.len())
        });
        let t = Instant::now();
        let r = Arc::clone(&router);
        let got = rt.block_on(async move {
            let (out, mut stream_in) = StreamOut::channel();
            let task = tokio::spawn(async move {
                r.answer(
                    request("llm-user", Some("text/event-stream")),
                    Wire::Streamed(out),
                )
                .await
            });
            let head = stream_in.head.await.expect("a head");
            assert_eq!(head.status, 200);
            let chunk = stream_in.body.frame().await.expect("a chunk").expect("ok");
            let took = t.elapsed();
            assert!(chunk.is_data());
            while stream_in.body.frame().await.is_some() {}
            let _ = task.await;
            took
        });
        if i >= warm {
            direct.push(first.0.as_secs_f64() * 1e6);
            routed.push(got.as_secs_f64() * 1e6);
        }
    }
    println!("time to first payload byte (tokens stream, current thread):");
    let base = row("  SDK InvokeEndpointWithResponseStream", None, direct);
    row(
        "  through the router (head + first chunk)",
        Some(base),
        routed,
    );
}

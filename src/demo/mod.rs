//! `canary-router demo`: the whole story on one machine. The emulator and the router (`serve`'s
//! code, phases applied through the same reload path) run in this process; a few thousand
//! synthetic users, half identified by `X-User-Id` and half only by the router's cookie, send
//! predictions and feedback through real HTTP and the real AWS SDK.

mod pretraffic;
mod summary;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::assign::hex;
use crate::config::{Config, ConfigError, ProcessEnv};
use crate::emulator::{self, Emulator};
use crate::front::server::Limits;
use crate::front::{serve, watch};
use crate::identity::CookieKeys;
use crate::record::FileSink;
use crate::router::Router;
use crate::sagemaker::{Invocation, Invoker, SdkInvoker, local_sdk_config};
use summary::{IdKind, Observation, Phase};

/// The bundled demo config: phase `demo.1`, and what `serve` uses when given no config.
pub const DEMO_CONFIG: &str = include_str!("config.json");

/// Options of `canary-router demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Synthetic users (half by header, half by cookie).
    #[arg(long, default_value_t = 2000)]
    pub users: usize,
    /// Predictions per user and phase (each followed by a `correct` feedback event).
    #[arg(long, default_value_t = 3)]
    pub predictions: usize,
    /// Seed: the same seed gives the same assignments, counts and accuracies.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Output folder for records.jsonl and the phase configs.
    #[arg(long, default_value = "demo-out")]
    pub out: PathBuf,
    /// Users in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
}

/// Why the demo could not run (its checks failing is not an error: exit 1).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file or socket failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The bundled models did not load.
    #[error("demo models: {0}")]
    Models(String),
    /// A phase config was refused.
    #[error("demo config: {0}")]
    Config(#[from] ConfigError),
    /// A request to the router failed at the HTTP level.
    #[error("request to the router failed: {0}")]
    Http(String),
    /// The demo ran, and a stickiness check failed.
    #[error("a stickiness check FAILED (see above)")]
    ChecksFailed,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let context = context.into();
    move |source| DemoError::Io { context, source }
}

/// The phases: each a config version.
pub(crate) fn phases() -> Vec<Phase> {
    [
        ("demo.1", "canary 10%", 1000),
        ("demo.2", "ramp to 50%", 5000),
        ("demo.3", "blue-green switch to canary", 10000),
        ("demo.4", "switch back to control", 0),
    ]
    .iter()
    .map(|(v, t, w)| Phase {
        version: (*v).to_owned(),
        title: (*t).to_owned(),
        canary_weight: *w,
    })
    .collect()
}

/// The demo config of one phase.
pub(crate) fn phase_config(phase: &Phase) -> Result<String, DemoError> {
    let mut v: Value = serde_json::from_str(DEMO_CONFIG)
        .map_err(|e| DemoError::Config(ConfigError::invalid("config", e.to_string())))?;
    v["version"] = json!(phase.version);
    v["arms"][0]["weight"] = json!(10_000 - phase.canary_weight);
    v["arms"][1]["weight"] = json!(phase.canary_weight);
    serde_json::to_string_pretty(&v)
        .map_err(|e| DemoError::Config(ConfigError::invalid("config", e.to_string())))
}

/// Runs the demo: success when every check passed, a failed check otherwise.
pub async fn cli_main(args: DemoArgs) -> Result<(), DemoError> {
    if run(&args).await? {
        Ok(())
    } else {
        Err(DemoError::ChecksFailed)
    }
}

impl DemoError {
    /// The contract's exit status: 1 for a failed check, 2 for the demo's own config or
    /// models, 3 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            DemoError::ChecksFailed => 1,
            DemoError::Config(_) | DemoError::Models(_) => 2,
            _ => 3,
        }
    }
}

/// A deterministic 64-bit mix (splitmix64), for seeded choices.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

struct User {
    index: usize,
    kind: IdKind,
    header_id: String,
    jar: Mutex<Option<String>>,
}

struct Driver {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    seed: u64,
}

async fn run(args: &DemoArgs) -> Result<bool, DemoError> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .map_err(io(format!("cannot create {}", args.out.display())))?;
    let records_path = args.out.join("records.jsonl");
    let config_path = args.out.join("config.json");
    let sink = Arc::new(
        FileSink::create(&records_path)
            .map_err(io(format!("cannot create {}", records_path.display())))?,
    );

    // The emulator, in this process, with the bundled models and the demo's seed.
    let mut models = emulator::demo_models();
    models.seed = args.seed;
    let emu = Arc::new(Emulator::new(models).map_err(|e| DemoError::Models(e.to_string()))?);
    let emu_listener = bind().await?;
    let emu_url = format!("http://{}", local(&emu_listener)?);
    let (stop_emu, emu_stopped) = oneshot::channel::<()>();
    let emu_task = tokio::spawn(emulator::run(emu, emu_listener, async {
        let _ = emu_stopped.await;
    }));

    // The router: serve's front door, the real SDK pointed at the emulator.
    let phases = phases();
    write(&config_path, &phase_config(&phases[0])?)?;
    let config = Config::parse(&phase_config(&phases[0])?)?;
    let sdk = local_sdk_config(&emu_url).await;
    let minted = Mutex::new(args.seed);
    let router = Router::new(
        config,
        CookieKeys::ephemeral(),
        SdkInvoker::new(&sdk),
        Arc::clone(&sink),
    )
    .with_minter(Box::new(move || {
        let mut state = minted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *state = mix(*state);
        let a = *state;
        *state = mix(*state);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_be_bytes());
        bytes[8..].copy_from_slice(&state.to_be_bytes());
        hex(&bytes)
    }))
    // As `serve` runs: answers go out before their shadow calls finish.
    .with_detached_shadows(tokio_util::task::TaskTracker::new());
    let router = Arc::new(router);
    let listener = bind().await?;
    let router_addr = local(&listener)?;
    let (stop_router, router_stopped) = oneshot::channel::<()>();
    let router_task = tokio::spawn(serve::run(
        Arc::clone(&router),
        listener,
        async {
            let _ = router_stopped.await;
        },
        Limits::default(),
    ));
    println!(
        "demo: emulator on {emu_url}, router on http://{router_addr}; {} users ({} by X-User-Id, {} by cookie), {} predictions each per phase, seed {}",
        args.users,
        args.users.div_ceil(2),
        args.users / 2,
        args.predictions,
        args.seed
    );

    let users: Vec<Arc<User>> = (0..args.users)
        .map(|i| {
            Arc::new(User {
                index: i,
                kind: if i.is_multiple_of(2) {
                    IdKind::Header
                } else {
                    IdKind::Cookie
                },
                header_id: format!("demo-{}-{i}", args.seed),
                jar: Mutex::new(None),
            })
        })
        .collect();
    let mut connector = HttpConnector::new();
    // Without TCP_NODELAY, a request written in two parts waits for a delayed ACK (~40 ms).
    connector.set_nodelay(true);
    let driver = Arc::new(Driver {
        client: Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(args.concurrency.max(1))
            .build(connector),
        base: format!("http://{router_addr}"),
        seed: args.seed,
    });

    // Before any user meets the canary: its answers against the control's, and its speed.
    let golden_path = args.out.join("golden.jsonl");
    let validated = pretraffic::validate_canary(&router, &golden_path)
        .await
        .map_err(io(format!("cannot write {}", golden_path.display())))?;
    println!("\nbefore demo.1, validate the canary against the control's recorded answers:");
    print!("{}", validated.text);

    let mut observations = Vec::new();
    for (p, phase) in phases.iter().enumerate() {
        if p > 0 {
            write(&config_path, &phase_config(phase)?)?;
            let version = watch::reload_file(&router, &ProcessEnv, &config_path)?;
            debug_assert_eq!(version, phase.version);
        }
        let mut first = 0;
        if p == 0 {
            // Cookie users meet the router one at a time first, so the seeded minter hands out
            // the same IDs in the same order on every run.
            for user in users.iter().filter(|u| u.kind == IdKind::Cookie) {
                observations.push(driver.predict(user, p, 0).await?);
            }
            first = 1;
        }
        let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for user in &users {
            let (user, driver, gate) = (Arc::clone(user), Arc::clone(&driver), Arc::clone(&gate));
            let predictions = args.predictions;
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let mut seen = Vec::new();
                let start = if user.kind == IdKind::Cookie {
                    first
                } else {
                    0
                };
                for k in start..predictions {
                    seen.push(driver.predict(&user, p, k).await?);
                }
                Ok::<_, DemoError>(seen)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let seen = done.map_err(|e| DemoError::Http(e.to_string()))??;
            observations.extend(seen);
        }
    }

    // The shadow phase: the last split, and the canary's endpoint shadowing half the users.
    let last = phase_config(&phases[phases.len() - 1])?;
    let shadowed = pretraffic::shadow_config(&last)
        .map_err(|e| DemoError::Config(ConfigError::invalid("shadow", e.to_string())))?;
    write(&config_path, &shadowed)?;
    watch::reload_file(&router, &ProcessEnv, &config_path)?;
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for user in &users {
        let (user, driver, gate) = (Arc::clone(user), Arc::clone(&driver), Arc::clone(&gate));
        let p = phases.len();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            driver.predict(&user, p, 0).await.map(drop)
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| DemoError::Http(e.to_string()))??;
    }

    // The same users bypassing the router: one endpoint, SageMaker's own random variant split.
    let bypass_invoker = SdkInvoker::new(&sdk);
    let timeouts = router.config().timeouts();
    let mut bypass_calls = Vec::new();
    for user in &users {
        for k in 0..args.predictions {
            let sample = driver.sample(user.index, 0, k);
            let body = serde_json::to_vec(&json!({"features": sample.0})).unwrap_or_default();
            let call = Invocation {
                endpoint: "iris-ab",
                target: None,
                body: Bytes::from(body),
                content_type: "application/json",
                accept: None,
                inference_id: "demo-bypass",
                custom_attributes: "demo=bypass",
                timeouts,
            };
            if let Ok(answer) = bypass_invoker.invoke(call).await {
                bypass_calls.push((user.index, answer.invoked_variant.unwrap_or_default()));
            }
        }
    }

    let _ = stop_router.send(());
    let _ = stop_emu.send(());
    let _ = router_task.await;
    let _ = emu_task.await;
    sink.flush()
        .map_err(io(format!("cannot write {}", records_path.display())))?;

    observations.sort_by_key(|o| (o.phase, o.user));
    let s = summary::summarise(&phases, &observations);
    let bypass = summary::summarise_bypass(&bypass_calls);
    println!();
    print!("{}", summary::render(&phases, &s, &bypass, args.users));
    println!(
        "\nrecords: {} ({} requests through the router, predictions and feedback of the five phases, in {:.1} s, validate included)",
        records_path.display(),
        (observations.len() + users.len()) * 2,
        started.elapsed().as_secs_f64()
    );
    // The experiment's analysis, from the records the router just wrote.
    match crate::report::analyse(
        vec![crate::report::Input::Path(records_path.clone())],
        &crate::report::Options::default(),
    ) {
        Ok(report) => {
            println!("\nreport of {}:\n", records_path.display());
            print!("{}", crate::report::render_table(&report));
            print!("\n{}", pretraffic::shadow_line(&report));
        }
        Err(e) => eprintln!("demo: cannot report on {}: {e}", records_path.display()),
    }
    let passed = s.checks.passed() && validated.passed;
    if !validated.passed {
        println!("demo: the canary did not pass validate (see above)");
    }
    println!("demo: checks {}", if passed { "passed" } else { "FAILED" });
    Ok(passed)
}

impl Driver {
    /// The Iris sample a user sends for its k-th prediction in a phase: (features, true label).
    fn sample(&self, user: usize, phase: usize, k: usize) -> &'static ([f64; 4], usize) {
        let all = emulator::iris_samples();
        let h = mix(self.seed ^ mix(user as u64 ^ mix(((phase as u64) << 32) | k as u64)));
        &all[(h % all.len() as u64) as usize]
    }

    async fn predict(&self, user: &User, phase: usize, k: usize) -> Result<Observation, DemoError> {
        let (features, truth) = self.sample(user.index, phase, k);
        let body = serde_json::to_vec(&json!({"features": features})).unwrap_or_default();
        let t0 = Instant::now();
        let (status, headers, answer) = self.send(user, "/predict", body).await?;
        let latency = t0.elapsed();
        let arm = header(&headers, "x-canary-arm");
        let request_id = header(&headers, "x-canary-request-id");
        let label: Option<String> = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v["label"].as_str().map(str::to_owned));
        let correct = label.map(|l| l == emulator::IRIS_LABELS[*truth]);
        if let (Some(correct), Some(rid)) = (correct, request_id) {
            let feedback = json!({"event": "correct", "value": if correct { 1.0 } else { 0.0 }, "prediction_id": rid});
            let body = serde_json::to_vec(&feedback).unwrap_or_default();
            self.send(user, "/feedback", body).await?;
        }
        Ok(Observation {
            phase,
            user: user.index,
            kind: user.kind,
            arm,
            status,
            latency,
            correct,
        })
    }

    async fn send(
        &self,
        user: &User,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, http::HeaderMap, Bytes), DemoError> {
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{}{path}", self.base))
            .header(http::header::CONTENT_TYPE, "application/json");
        match user.kind {
            IdKind::Header => req = req.header("x-user-id", &user.header_id),
            IdKind::Cookie => {
                let jar = user.jar.lock().map(|j| j.clone()).unwrap_or_default();
                if let Some(cookie) = jar {
                    req = req.header(http::header::COOKIE, cookie);
                }
            }
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DemoError::Http(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| DemoError::Http(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        if let Some(set) = parts
            .headers
            .get(http::header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
        {
            // A browser keeps the name=value part and sends it back.
            if let (Some(pair), Ok(mut jar)) = (set.split(';').next(), user.jar.lock()) {
                *jar = Some(pair.to_owned());
            }
        }
        let bytes = body
            .collect()
            .await
            .map_err(|e| DemoError::Http(e.to_string()))?
            .to_bytes();
        Ok((parts.status.as_u16(), parts.headers, bytes))
    }
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn bind() -> Result<TcpListener, DemoError> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io("cannot listen on a loopback port"))
}

fn local(listener: &TcpListener) -> Result<SocketAddr, DemoError> {
    listener.local_addr().map_err(io("no local address"))
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    // Write then rename, so a reader never sees half a config.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io(format!("cannot write {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_phase_config_is_valid_and_versions_differ() {
        let mut versions = std::collections::BTreeSet::new();
        for p in phases() {
            let c = Config::parse(&phase_config(&p).unwrap()).unwrap();
            assert_eq!(c.arms()[1].weight(), p.canary_weight);
            assert!(
                !c.cookie().secure,
                "plain http locally: a Secure cookie would never come back"
            );
            versions.insert(c.version().to_owned());
        }
        assert_eq!(versions.len(), 4);
    }
}

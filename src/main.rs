//! The `canary-router` binary: the Lambda function when `AWS_LAMBDA_RUNTIME_API` is set, a
//! command-line tool otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use canary_router::app::{self, CliError, MissingKey, SageMaker, SdkRouter};
use canary_router::config::{self, ConfigError, ProcessEnv, Source};
use canary_router::emulator::{self, Emulator};
use canary_router::front::refresh::{self, Applier};
use canary_router::front::server::Limits;
use canary_router::front::{lambda, serve, validator, watch};
use tokio_util::task::TaskTracker;

#[derive(Parser)]
#[command(
    name = "canary-router",
    version,
    about = "Sticky canary, blue-green and A/B routing for SageMaker endpoints"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `serve`'s connection limits.
#[derive(clap::Args, Debug, Clone, Copy)]
struct ServeLimits {
    /// Time a client has to send a request's headers (and then its body), in ms.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// How long a keep-alive connection may stay open with no request, in ms.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// Open connections; past it a new connection gets a 503 and is closed.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
}

impl ServeLimits {
    fn limits(self) -> Limits {
        Limits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            ..Limits::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the router as a local HTTP server against the SageMaker Runtime the SDK points at.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: SocketAddr,
        /// Router config file (reloaded when it changes); else CANARY_CONFIG or CANARY_CONFIG_FILE.
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        limits: ServeLimits,
    },
    /// Run a local SageMaker Runtime API emulator (for development and tests).
    Emulate {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Models file (endpoints, variants, models, faults); the bundled demo models when absent.
        #[arg(long)]
        models: Option<PathBuf>,
        /// Also answer as the AppConfig extension, with documents from DIR/APP/ENV/PROFILE.json.
        #[arg(long, value_name = "DIR")]
        appconfig: Option<PathBuf>,
    },
    /// Run the whole story end to end on this machine: emulator, router, synthetic users, checks.
    Demo(canary_router::demo::DemoArgs),
    /// A/B analysis of decision and outcome records.
    Report(canary_router::report::ReportArgs),
    /// Which users a config change moves: `plan OLD NEW`, or `plan CONFIG` for its schedule.
    Plan(canary_router::plan::PlanArgs),
    /// Pre-traffic checks of one arm against a golden set: answers, latency, throughput.
    Validate(canary_router::validate::ValidateArgs),
}

fn main() -> ExitCode {
    drop_empty_endpoint_overrides();
    init_tracing();
    let lambda_mode = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let command = if lambda_mode {
        None
    } else {
        Some(Cli::parse().command)
    };
    match run(command, lambda_mode) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(command: Option<Command>, lambda_mode: bool) -> Result<(), CliError> {
    // The report and the plan run no async I/O: no runtime needed.
    let command = match command {
        Some(Command::Report(args)) => return Ok(canary_router::report::cli_main(args)?),
        Some(Command::Plan(args)) => return Ok(canary_router::plan::cli_main(args)?),
        other => other,
    };
    // Lambda sends one event at a time to an instance: a current-thread runtime is all it needs,
    // and it makes each SageMaker call measurably cheaper (benches/router.rs, sdk/*).
    let mut builder = if lambda_mode {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(CliError::io("cannot start the async runtime"))?;
    runtime.block_on(async {
        match command {
            None if std::env::var("CANARY_MODE").is_ok_and(|m| m == "appconfig-validator") => {
                validator::run()
                    .await
                    .map_err(|e| CliError::Runtime(format!("the Lambda runtime stopped: {e}")))
            }
            None => run_lambda().await,
            Some(Command::Serve {
                listen,
                config,
                limits,
            }) => run_serve(listen, config, limits.limits()).await,
            Some(Command::Emulate {
                listen,
                models,
                appconfig,
            }) => Ok(emulator::cli_main(listen, models, appconfig).await?),
            Some(Command::Demo(args)) => Ok(canary_router::demo::cli_main(args).await?),
            Some(Command::Validate(args)) => canary_router::validate::cli_main(args).await,
            Some(Command::Report(_) | Command::Plan(_)) => Ok(()),
        }
    })
}

async fn run_lambda() -> Result<(), CliError> {
    let env = ProcessEnv;
    let loaded = app::load_config(&env, None)
        .await?
        .ok_or(ConfigError::Missing)?;
    let router =
        app::build_router(&env, &loaded.text, MissingKey::Refuse, SageMaker::FromEnv).await?;
    let router = Arc::new(router);
    if let Some(client) = loaded.appconfig {
        tokio::spawn(refresh::refresh_appconfig(
            Arc::clone(&router),
            client,
            Applier::starting_with(&loaded.text),
        ));
    }
    let streaming =
        config::Env::var(&env, "CANARY_RESPONSE_STREAMING").is_some_and(|v| v.trim() == "1");
    let run = if streaming {
        lambda::run_streaming(router).await
    } else {
        lambda::run(router).await
    };
    run.map_err(|e| CliError::Runtime(format!("the Lambda runtime stopped: {e}")))
}

async fn run_serve(
    listen: SocketAddr,
    config_path: Option<PathBuf>,
    limits: Limits,
) -> Result<(), CliError> {
    let env = ProcessEnv;
    let Some(loaded) = app::load_config(&env, config_path.as_deref()).await? else {
        return serve_bundled_demo(listen, limits).await;
    };
    let router = app::build_router(
        &env,
        &loaded.text,
        MissingKey::Ephemeral,
        SageMaker::FromEnv,
    )
    .await?;
    // A server keeps running: answers go out before their shadow calls finish.
    let router = Arc::new(router.with_detached_shadows(TaskTracker::new()));
    match (loaded.source, loaded.appconfig) {
        (Source::File(path), _) => {
            tokio::spawn(watch::watch_config(
                Arc::clone(&router),
                env,
                path,
                Duration::from_millis(500),
            ));
        }
        (_, Some(client)) => {
            tokio::spawn(refresh::refresh_appconfig(
                Arc::clone(&router),
                client,
                Applier::starting_with(&loaded.text),
            ));
        }
        _ => {}
    }
    serve_router(router, listen, limits).await
}

/// `serve` with no config at all: the bundled demo config against an embedded emulator with
/// the demo models, so a fresh machine with no AWS account has something to call.
async fn serve_bundled_demo(listen: SocketAddr, limits: Limits) -> Result<(), CliError> {
    eprintln!(
        "notice: no config given (--config, CANARY_CONFIG, CANARY_CONFIG_FILE, CANARY_APPCONFIG): serving the bundled demo config against an embedded SageMaker emulator"
    );
    let emulator = Emulator::new(emulator::demo_models())?;
    let emu_listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let emu_addr = emu_listener
        .local_addr()
        .map_err(CliError::io("cannot read the emulator's address"))?;
    let emu_url = format!("http://{emu_addr}");
    tokio::spawn(emulator::run(
        Arc::new(emulator),
        emu_listener,
        std::future::pending(),
    ));
    eprintln!(
        "notice: cookies are signed with an ephemeral key (they will not survive a restart) and are not Secure (plain http)"
    );
    let router = app::build_router(
        &NoEnv,
        canary_router::demo::DEMO_CONFIG,
        MissingKey::Ephemeral,
        SageMaker::Emulator(&emu_url),
    )
    .await?;
    eprintln!("embedded SageMaker emulator on {emu_url}");
    let router = router.with_detached_shadows(TaskTracker::new());
    serve_router(Arc::new(router), listen, limits).await
}

/// An empty environment: the bundled demo must not pick up a production cookie key.
struct NoEnv;

impl config::Env for NoEnv {
    fn var(&self, _name: &str) -> Option<String> {
        None
    }
    fn read(&self, path: &std::path::Path) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not read by the bundled demo", path.display()),
        ))
    }
}

async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(CliError::io(format!("cannot listen on {listen}")))
}

async fn serve_router(
    router: Arc<SdkRouter>,
    listen: SocketAddr,
    limits: Limits,
) -> Result<(), CliError> {
    let listener = bind(listen).await?;
    let local = listener.local_addr().unwrap_or(listen);
    eprintln!("canary-router serving on http://{local}");
    eprintln!(
        "try: curl -s -i -H 'X-User-Id: alice' -H 'Content-Type: application/json' -d '{{\"features\": [5.1, 3.5, 1.4, 0.2]}}' http://{local}/predict"
    );
    serve::run(router, listener, shutdown_signal(), limits)
        .await
        .map_err(CliError::io(format!("serving on {local} failed")))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `sam local` passes a template's `AWS::NoValue` as an empty string, and the AWS SDK takes an
/// empty endpoint override as an unset URL and fails every call: an empty override means none.
fn drop_empty_endpoint_overrides() {
    for name in ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_ENDPOINT_URL"] {
        if std::env::var_os(name).is_some_and(|v| v.to_string_lossy().trim().is_empty()) {
            // SAFETY: called first thing in main, before the runtime or any other thread exists.
            #[allow(unsafe_code)]
            unsafe {
                std::env::remove_var(name)
            };
        }
    }
}

/// Targets that log request and response bodies or raw headers at `trace` (the AWS SDK's
/// orchestrator logs whole requests, bodies and all): a ceiling of `debug` for them, whatever
/// `RUST_LOG` asks, because bodies and cookies must not reach the logs. A ceiling, not a level:
/// `RUST_LOG=info` keeps them at info.
const NO_TRACE: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_sdk_sagemakerruntime",
    "hyper",
    "hyper_util",
    "h2",
];

/// Human-readable logs go to stderr only: stdout carries records.
fn init_tracing() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ceiling = NO_TRACE.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::DEBUG),
    );
    let registry = tracing_subscriber::registry().with(filter).with(ceiling);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        registry.with(layer.json()).init();
    } else {
        registry.with(layer.with_ansi(false)).init();
    }
}

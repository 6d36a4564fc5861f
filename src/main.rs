//! The `canary-router` binary: the Lambda function when `AWS_LAMBDA_RUNTIME_API` is set, a
//! command-line tool otherwise.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use canary_router::app::{self, MissingKey, StartError};
use canary_router::config::{self, Config, ProcessEnv};
use canary_router::record::StdoutSink;
use canary_router::router::Router;
use canary_router::sagemaker::SdkInvoker;
use canary_router::{lambda, serve};

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
    },
    /// Run a local SageMaker Runtime API emulator (for development and tests).
    Emulate {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Models file (endpoints, variants, models, faults); the bundled demo models when absent.
        #[arg(long)]
        models: Option<PathBuf>,
    },
    /// Run the whole story end to end on this machine: emulator, router, synthetic users, checks.
    Demo(canary_router::demo::DemoArgs),
    /// A/B analysis of decision and outcome records.
    Report(canary_router::report::ReportArgs),
    /// Reserved: config move plans (a later release).
    #[command(hide = true)]
    Plan,
    /// Reserved: golden-set checks before a traffic shift (a later release).
    #[command(hide = true)]
    Validate,
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
    // The report runs its own worker threads and no async I/O: no runtime needed.
    if let Some(Command::Report(args)) = command {
        return ExitCode::from(canary_router::report::cli_main(args));
    }
    // Lambda sends one event at a time to an instance: a current-thread runtime is all it needs,
    // and it makes each SageMaker call measurably cheaper (benches/router.rs, sdk/*).
    let mut builder = if lambda_mode {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(async {
        match command {
            None => run_lambda().await,
            Some(Command::Serve { listen, config }) => run_serve(listen, config).await,
            Some(Command::Emulate { listen, models }) => {
                canary_router::emulator::cli_main(listen, models).await
            }
            Some(Command::Demo(args)) => canary_router::demo::cli_main(args).await,
            Some(Command::Report(_)) => Ok(()),
            Some(Command::Plan | Command::Validate) => {
                eprintln!("error: this subcommand is reserved for a later release");
                Err(2)
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

fn fail(e: StartError) -> u8 {
    eprintln!("error: {e}");
    e.exit_code()
}

async fn run_lambda() -> Result<(), u8> {
    let env = ProcessEnv;
    let text = config::text_from_env(&env)
        .and_then(|t| t.ok_or(config::ConfigError::Missing))
        .map_err(|e| fail(e.into()))?;
    let config = Config::parse(&text.0).map_err(|e| fail(e.into()))?;
    let keys = app::cookie_keys(&env, &config, MissingKey::Refuse).map_err(fail)?;
    let sdk = app::sdk_config(&env).await.map_err(fail)?;
    let router = Router::new(config, keys, SdkInvoker::new(&sdk), StdoutSink);
    lambda::run(router).await.map_err(|e| {
        eprintln!("error: the Lambda runtime stopped: {e}");
        3
    })
}

async fn run_serve(listen: SocketAddr, config_path: Option<PathBuf>) -> Result<(), u8> {
    let env = ProcessEnv;
    let (text, watch) = match &config_path {
        Some(path) => (
            config::read_file(&env, path).map_err(|e| fail(e.into()))?,
            Some(path.clone()),
        ),
        None => match config::text_from_env(&env).map_err(|e| fail(e.into()))? {
            Some((text, config::Source::File(path))) => (text, Some(path)),
            Some((text, config::Source::Inline)) => (text, None),
            None => return serve_bundled_demo(listen).await,
        },
    };
    let config = Config::parse(&text).map_err(|e| fail(e.into()))?;
    let keys = app::cookie_keys(&env, &config, MissingKey::Ephemeral).map_err(fail)?;
    let sdk = app::sdk_config(&env).await.map_err(fail)?;
    let router = Arc::new(Router::new(config, keys, SdkInvoker::new(&sdk), StdoutSink));
    if let Some(path) = watch {
        tokio::spawn(serve::watch_config(
            Arc::clone(&router),
            path,
            Duration::from_millis(500),
        ));
    }
    serve_router(router, listen).await
}

/// `serve` with no config at all: the bundled demo config against an embedded emulator with
/// the demo models, so a fresh machine with no AWS account has something to call.
async fn serve_bundled_demo(listen: SocketAddr) -> Result<(), u8> {
    eprintln!(
        "notice: no config given (--config, CANARY_CONFIG, CANARY_CONFIG_FILE): serving the bundled demo config against an embedded SageMaker emulator"
    );
    let config = Config::parse(canary_router::demo::DEMO_CONFIG).map_err(|e| fail(e.into()))?;
    let emulator = canary_router::emulator::Emulator::new(canary_router::emulator::demo_models())
        .map_err(|e| {
        eprintln!("error: demo models: {e}");
        2
    })?;
    let emu_listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let emu_url = format!("http://{}", emu_listener.local_addr().map_err(|_| 3u8)?);
    tokio::spawn(canary_router::emulator::run(
        Arc::new(emulator),
        emu_listener,
        std::future::pending(),
    ));
    eprintln!(
        "notice: cookies are signed with an ephemeral key (they will not survive a restart) and are not Secure (plain http)"
    );
    let sdk = app::local_sdk_config(&emu_url).await;
    let router = Arc::new(Router::new(
        config,
        canary_router::identity::CookieKeys::ephemeral(),
        SdkInvoker::new(&sdk),
        StdoutSink,
    ));
    eprintln!("embedded SageMaker emulator on {emu_url}");
    serve_router(router, listen).await
}

async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, u8> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| {
            fail(StartError::Io {
                context: format!("cannot listen on {listen}"),
                source,
            })
        })
}

async fn serve_router(
    router: Arc<Router<SdkInvoker, StdoutSink>>,
    listen: SocketAddr,
) -> Result<(), u8> {
    let listener = bind(listen).await?;
    let local = listener.local_addr().unwrap_or(listen);
    eprintln!("canary-router serving on http://{local}");
    eprintln!(
        "try: curl -s -i -H 'X-User-Id: alice' -H 'Content-Type: application/json' -d '{{\"features\": [5.1, 3.5, 1.4, 0.2]}}' http://{local}/predict"
    );
    serve::run(router, listener, shutdown_signal())
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            3
        })
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
            unsafe { std::env::remove_var(name) };
        }
    }
}

/// Human-readable logs go to stderr only: stdout carries records.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}

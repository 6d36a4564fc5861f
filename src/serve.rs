//! `serve` front door: the same router behind a local HTTP/1.1 server, with optional hot reload
//! of the config file.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hyper::body::Incoming;
use tokio::net::TcpListener;

use crate::config::{self, Config, ConfigError, ProcessEnv};
use crate::http_server;
use crate::record::RecordSink;
use crate::router::{self, MAX_BODY_BYTES, Router, new_request_id};
use crate::sagemaker::Invoker;

/// Serves HTTP on `listener` until `shutdown` completes; connections in flight finish.
pub async fn run<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    http_server::run(
        "serve",
        listener,
        shutdown,
        move |req: http::Request<Incoming>| {
            let router = Arc::clone(&router);
            async move {
                let (parts, body) = req.into_parts();
                let req = router::Request {
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body: http_server::read_body(body, MAX_BODY_BYTES).await,
                    request_id: new_request_id(),
                };
                router.handle(req).await
            }
        },
    )
    .await
}

/// Reads, validates and applies a config file: the one reload path, for the file watcher and
/// for the demo's phases. Returns the new version.
pub fn reload_file<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    path: &Path,
) -> Result<String, ConfigError> {
    let text = config::read_file(&ProcessEnv, path)?;
    let next = Config::parse(&text)?;
    let version = next.raw.version.clone();
    router.reload(next)?;
    Ok(version)
}

/// Watches a config file and reloads the router when its contents change. An invalid file, or
/// a changed split under the same version, is refused with a logged reason; the old config
/// keeps serving.
pub async fn watch_config<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    path: PathBuf,
    every: Duration,
) {
    let mut last = std::fs::read(&path).ok();
    let mut last_modified = modified(&path);
    loop {
        tokio::time::sleep(every).await;
        let m = modified(&path);
        if m == last_modified && m.is_some() {
            continue;
        }
        last_modified = m;
        let Ok(bytes) = tokio::fs::read(&path).await else {
            tracing::warn!(path = %path.display(), "config file unreadable; keeping the current config");
            continue;
        };
        if last.as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        last = Some(bytes);
        match reload_file(&router, &path) {
            Ok(version) => tracing::info!(path = %path.display(), %version, "config reloaded"),
            Err(e) => {
                tracing::error!(path = %path.display(), reason = %e, "config reload refused; the previous config keeps serving")
            }
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

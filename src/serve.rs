//! `serve` front door: the same router behind a local HTTP/1.1 server, with optional hot reload
//! of the config file.

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::config::{self, Config, ConfigError, ProcessEnv};
use crate::record::RecordSink;
use crate::router::{self, MAX_BODY_BYTES, Router, new_request_id};
use crate::sagemaker::Invoker;

/// Serves HTTP on `listener` until `shutdown` completes; connections in flight finish.
pub async fn run<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let router = Arc::clone(&router);
        tokio::spawn(async move {
            let service = service_fn(move |req: http::Request<Incoming>| {
                let router = Arc::clone(&router);
                async move {
                    let req = to_request(req).await;
                    let resp = router.handle(req).await;
                    Ok::<_, Infallible>(resp.map(Full::new))
                }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}

/// Reads the body up to one byte past the limit (enough for the router to answer 413).
async fn to_request(req: http::Request<Incoming>) -> router::Request {
    let (parts, mut body) = req.into_parts();
    let mut buf = BytesMut::new();
    while buf.len() <= MAX_BODY_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            // A client that hangs up mid-body gets whatever arrived; the router validates it.
            Some(Err(_)) | None => break,
        }
    }
    buf.truncate(MAX_BODY_BYTES + 1);
    router::Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body: Bytes::from(buf),
        request_id: new_request_id(),
    }
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

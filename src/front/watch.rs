//! Config file reloads for `serve` and the demo: one reload path, and a watcher that applies it
//! when the file's contents change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::{self, Config, ConfigError, ProcessEnv};
use crate::record::RecordSink;
use crate::router::Router;
use crate::sagemaker::Invoker;

/// Reads, validates and applies a config file: the one reload path, for the file watcher and
/// for the demo's phases. Returns the new version.
pub fn reload_file<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    path: &Path,
) -> Result<String, ConfigError> {
    let text = config::read_file(&ProcessEnv, path)?;
    let next = Config::parse(&text)?;
    let version = next.version().to_owned();
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

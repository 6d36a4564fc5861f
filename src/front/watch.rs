//! Config file reloads for `serve` and the demo: one reload path, and a watcher that applies it
//! when the file's contents change. Files are read through the `Env` seam, and the bytes that
//! were compared are the bytes that are parsed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Config, ConfigError, Env};
use crate::record::RecordSink;
use crate::router::Router;
use crate::sagemaker::Invoker;

/// Validates and applies a config document; returns the new version.
pub fn reload_text<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    text: &str,
) -> Result<String, ConfigError> {
    let next = Config::parse(text)?;
    let version = next.version().to_owned();
    router.reload(next)?;
    Ok(version)
}

/// Reads, validates and applies a config file: the demo's phases use it. Returns the new
/// version.
pub fn reload_file<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    env: &dyn Env,
    path: &Path,
) -> Result<String, ConfigError> {
    reload_text(router, &config::read_file(env, path)?)
}

/// What the watcher last saw of the file.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Text(String),
    Unreadable,
}

/// Watches a config file and reloads the router when its contents change. An invalid file, or
/// a changed split under a version already served, is refused with a logged reason; the old
/// config keeps serving. A file that cannot be read is logged once, not on every look.
pub async fn watch_config<I: Invoker, S: RecordSink, E: Env + Send + Sync + 'static>(
    router: Arc<Router<I, S>>,
    env: E,
    path: PathBuf,
    every: Duration,
) {
    let mut last = match env.read(&path) {
        Ok(text) => Seen::Text(text),
        Err(_) => Seen::Unreadable,
    };
    loop {
        tokio::time::sleep(every).await;
        let now = match env.read(&path) {
            Ok(text) => Seen::Text(text),
            Err(e) => {
                if last != Seen::Unreadable {
                    tracing::warn!(path = %path.display(), error = %e, "config file unreadable; keeping the current config until it is readable again");
                }
                Seen::Unreadable
            }
        };
        if now == last {
            continue;
        }
        if let Seen::Text(text) = &now {
            match reload_text(&router, text) {
                Ok(version) => tracing::info!(path = %path.display(), %version, "config reloaded"),
                Err(e) => {
                    tracing::error!(path = %path.display(), reason = %e, "config reload refused; the previous config keeps serving")
                }
            }
        }
        last = now;
    }
}

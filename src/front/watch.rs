//! Config file reloads for `serve` and the demo: one reload path, and a watcher that applies it
//! when the file's contents change. Files are read through the `Env` seam, and the bytes that
//! were compared are the bytes that are parsed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::refresh::Applier;
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

/// Watches a config file and reloads the router when its contents change. An invalid file, or
/// a changed split under a version already served, is refused (logged once and written as a
/// `config` line); the old config keeps serving. A file that cannot be read is logged once,
/// not on every look.
pub async fn watch_config<I: Invoker, S: RecordSink, E: Env + Send + Sync + 'static>(
    router: Arc<Router<I, S>>,
    env: E,
    path: PathBuf,
    every: Duration,
) {
    let origin = format!("file {}", path.display());
    let mut applier = Applier::default();
    let mut readable = match env.read(&path) {
        Ok(text) => {
            applier = Applier::starting_with(&text);
            true
        }
        Err(_) => false,
    };
    loop {
        tokio::time::sleep(every).await;
        match env.read(&path) {
            Ok(text) => {
                readable = true;
                applier.apply(&router, &text, &origin);
            }
            Err(e) => {
                if readable {
                    tracing::warn!(path = %path.display(), error = %e, "config file unreadable; keeping the current config until it is readable again");
                }
                readable = false;
            }
        }
    }
}

//! Applying config documents that arrive while the router runs (AppConfig refreshes, file
//! reloads): validated as a whole, bound to the versions already served, and on refusal logged
//! once and written once as a `"kind": "config"` line, while the last good config keeps serving.
//! The AppConfig refresh runs in its own task, never on a request's path.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::appconfig::AppConfigClient;
use crate::config::{Config, ConfigError, FetchError};
use crate::record::{ConfigRefusal, Line, RecordSink};
use crate::router::{Router, rfc3339};
use crate::sagemaker::Invoker;

/// What applying a document did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The document is the one already seen.
    Unchanged,
    /// The router now serves it; its top-level version.
    Reloaded(String),
    /// It was refused, and the last good config keeps serving.
    Refused(String),
}

/// Documents already seen, so that a document is applied, logged and recorded once however
/// often it is fetched again.
#[derive(Debug, Default)]
pub struct Applier {
    last: Option<u64>,
    refused: HashSet<u64>,
}

impl Applier {
    /// An applier that has seen `text` (the document the router started with).
    pub fn starting_with(text: &str) -> Self {
        Applier {
            last: Some(digest(text)),
            refused: HashSet::new(),
        }
    }

    /// Validates `text` and swaps it in, or refuses it. `origin` names the source in logs.
    pub fn apply<I: Invoker, S: RecordSink>(
        &mut self,
        router: &Router<I, S>,
        text: &str,
        origin: &str,
    ) -> Applied {
        let d = digest(text);
        if self.last == Some(d) {
            return Applied::Unchanged;
        }
        let outcome = Config::parse(text).and_then(|next| {
            let version = next.version().to_owned();
            router.reload(next).map(|()| version)
        });
        match outcome {
            Ok(version) => {
                self.last = Some(d);
                tracing::info!(%origin, %version, "config reloaded");
                Applied::Reloaded(version)
            }
            Err(e) => {
                let reason = e.to_string();
                if self.refused.insert(d) {
                    refuse(router, text, &e, origin);
                }
                Applied::Refused(reason)
            }
        }
    }
}

fn digest(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// One log line and one `config` record for a refused document.
fn refuse<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    text: &str,
    e: &ConfigError,
    origin: &str,
) {
    let serving = router.config();
    let now = SystemTime::now();
    let phase = serving.phase_at(now);
    let refused_version = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("version").and_then(|v| v.as_str()).map(str::to_owned));
    let reason = e.to_string();
    tracing::error!(
        %origin,
        refused_version = refused_version.as_deref().unwrap_or("-"),
        serving = %phase.version(),
        %reason,
        "config refused; the previous config keeps serving"
    );
    let ts_ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let line = ConfigRefusal::new(
        serving.metrics_namespace(),
        rfc3339(now),
        ts_ms,
        (serving.experiment(), phase.version()),
        refused_version.as_deref(),
        &reason,
    );
    router.sink().write(&Line::ConfigRefused(line));
}

/// Asks the AppConfig extension for the document every refresh interval and applies it. A
/// failed fetch (the extension gone, a 5xx, a timeout) changes nothing for clients; it is
/// logged once until a fetch succeeds again.
///
/// In Lambda the process is frozen between invocations: the task then runs only while an
/// invocation runs, so the first request after a quiet spell is served by the config it finds
/// and the refresh that follows it, in parallel, serves the next ones.
pub async fn refresh_appconfig<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    client: AppConfigClient,
    mut applier: Applier,
) {
    let every = client.target().refresh();
    let origin = format!("appconfig {}", client.target().name());
    let mut failing: Option<String> = None;
    loop {
        tokio::time::sleep(every).await;
        match client.fetch().await {
            Ok(doc) => {
                if failing.take().is_some() {
                    tracing::info!(%origin, "the AppConfig extension answers again");
                }
                applier.apply(&router, &doc.text, &origin);
            }
            Err(e) => {
                let kind = fetch_kind(&e);
                if failing.as_deref() != Some(kind.as_str()) {
                    tracing::warn!(%origin, error = %e, "config refresh failed; the current config keeps serving");
                    failing = Some(kind);
                }
            }
        }
    }
}

/// Failures logged once per kind, not once per fetch.
fn fetch_kind(e: &FetchError) -> String {
    match e {
        FetchError::Unreachable { .. } => "unreachable".into(),
        FetchError::Timeout(_) => "timeout".into(),
        FetchError::Status { status, .. } => format!("status {status}"),
        FetchError::Unreadable(_) => "unreadable".into(),
    }
}

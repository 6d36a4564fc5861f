//! The HTTP side of the AppConfig source: a GET to the extension on localhost, bounded in time,
//! and at start-up a short wait for an extension that is still starting.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::{AppConfigTarget, Document, FetchError, MAX_DOCUMENT_BYTES, read_answer};

/// How long one fetch may take: the extension answers from memory on localhost.
pub const FETCH_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long start-up waits for the extension (it starts beside the function and may not
/// listen yet when the function's init begins).
pub const START_WAIT: Duration = Duration::from_secs(5);

/// Fetches the document of one AppConfig target.
#[derive(Clone)]
pub struct AppConfigClient {
    target: AppConfigTarget,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl AppConfigClient {
    /// A client for `target` (connections to 127.0.0.1, kept alive between fetches).
    pub fn new(target: AppConfigTarget) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(FETCH_TIMEOUT));
        AppConfigClient {
            target,
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// The target.
    pub fn target(&self) -> &AppConfigTarget {
        &self.target
    }

    /// One fetch, within [`FETCH_TIMEOUT`].
    pub async fn fetch(&self) -> Result<Document, FetchError> {
        match tokio::time::timeout(FETCH_TIMEOUT, self.fetch_unbounded()).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(FETCH_TIMEOUT.as_millis())),
        }
    }

    async fn fetch_unbounded(&self) -> Result<Document, FetchError> {
        let port = self.target.port();
        let unreachable = |reason: String| FetchError::Unreachable { port, reason };
        let uri = format!("http://127.0.0.1:{port}{}", self.target.path());
        let req = http::Request::get(uri)
            .header(http::header::HOST, format!("localhost:{port}"))
            .body(Empty::new())
            .map_err(|e| unreachable(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let version = ["configuration-version", "configurationversion"]
            .iter()
            .find_map(|h| resp.headers().get(*h))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(resp.into_body(), MAX_DOCUMENT_BYTES + 1)
            .collect()
            .await
            .map_err(|e| FetchError::Unreadable(format!("cut off: {e}")))?
            .to_bytes();
        read_answer(status, version.as_deref(), &body)
    }

    /// The first fetch: retried while the error is transient, for up to [`START_WAIT`].
    pub async fn fetch_at_start(&self) -> Result<Document, FetchError> {
        let deadline = Instant::now() + START_WAIT;
        loop {
            match self.fetch().await {
                Err(e) if e.is_transient() && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

//! The request and response both front doors hand over and take back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::config::Phase;

/// Largest request body accepted: Lambda's synchronous payload limit.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// Largest header block (names and values) answered: an Application Load Balancer's limit, the
/// largest of the front ends the router runs behind; API Gateway's are lower.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A request as both front doors hand it over.
#[derive(Debug, Clone)]
pub struct Request {
    /// The HTTP method.
    pub method: Method,
    /// The path, possibly with an API Gateway stage prefix (`/prod/predict`).
    pub path: String,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body as it arrived.
    pub body: Body,
    /// Unique per request: API Gateway's or Lambda's where there is one.
    pub request_id: String,
    /// Whether the client is still there to read the answer.
    pub client: Client,
}

impl Request {
    /// A complete request from a client that waits for its answer.
    pub fn new(
        method: Method,
        path: impl Into<String>,
        headers: HeaderMap,
        body: Bytes,
        request_id: impl Into<String>,
    ) -> Self {
        Request {
            method,
            path: path.into(),
            headers,
            body: Body::Complete(body),
            request_id: request_id.into(),
            client: Client::waiting(),
        }
    }
}

/// The body of a request, as far as the front door could read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Every byte the request declared; already decoded from base64 where the event carried it
    /// so. Front doors that stream stop at `MAX_BODY_BYTES + 1` bytes, enough to know it is
    /// too large.
    Complete(Bytes),
    /// The connection ended (or the read timed out) before the declared length or the final
    /// chunk: what arrived must not reach a model.
    Cut {
        /// Bytes that did arrive.
        received: usize,
    },
    /// The event said its body was base64 and it was not.
    NotBase64,
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Complete(bytes)
    }
}

/// Whether the client that sent a request has gone away. The front door that can tell (`serve`)
/// holds the [`ClientGuard`]; the record says `client_closed` when the client left before the
/// answer was ready.
#[derive(Debug, Clone, Default)]
pub struct Client(Option<Arc<AtomicBool>>);

impl Client {
    /// A client that always waits (Lambda: the runtime holds the invocation open).
    pub fn waiting() -> Self {
        Client(None)
    }

    /// A client whose departure the returned guard reports: dropping the guard before
    /// [`ClientGuard::answered`] marks the client gone.
    pub fn watched() -> (Client, ClientGuard) {
        let gone = Arc::new(AtomicBool::new(false));
        (Client(Some(Arc::clone(&gone))), ClientGuard(Some(gone)))
    }

    /// Whether the client left before the answer was ready.
    pub fn is_gone(&self) -> bool {
        self.0.as_ref().is_some_and(|g| g.load(Ordering::Acquire))
    }
}

/// Held by the front door while the client waits; see [`Client::watched`].
#[derive(Debug)]
pub struct ClientGuard(Option<Arc<AtomicBool>>);

impl ClientGuard {
    /// The answer is ready for the client: it did not leave before it.
    pub fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        if let Some(gone) = self.0.take() {
            gone.store(true, Ordering::Release);
        }
    }
}

/// The response both front doors send back.
pub type Response = http::Response<Bytes>;

/// How the front door takes a streamed answer (`Accept: text/event-stream`).
pub enum Wire {
    /// It cannot stream: the stream is read to its end and answered whole.
    Buffered,
    /// It streams: the head goes out when the first payload part arrives, then each part.
    Streamed(StreamOut),
}

/// Where a streamed answer goes: its head once, then its body's chunks.
pub struct StreamOut {
    /// The status and headers, sent when the first payload part arrives.
    pub head: tokio::sync::oneshot::Sender<http::response::Parts>,
    /// The body, chunk by chunk; the front door's side going away means the client left.
    pub body: tokio::sync::mpsc::Sender<Bytes>,
}

impl StreamOut {
    /// A stream out and the front door's ends of it.
    pub fn channel() -> (StreamOut, StreamIn) {
        let (head, head_rx) = tokio::sync::oneshot::channel();
        let (body, body_rx) = tokio::sync::mpsc::channel(8);
        (
            StreamOut { head, body },
            StreamIn {
                head: head_rx,
                body: StreamBody(body_rx),
            },
        )
    }
}

/// The front door's ends of a [`StreamOut`].
pub struct StreamIn {
    /// Resolves when the head was sent; fails when the answer was not a stream.
    pub head: tokio::sync::oneshot::Receiver<http::response::Parts>,
    /// The body to send the client.
    pub body: StreamBody,
}

/// A streamed body as hyper and lambda_http take it: chunks as the router sends them.
#[derive(Debug)]
pub struct StreamBody(tokio::sync::mpsc::Receiver<Bytes>);

impl From<tokio::sync::mpsc::Receiver<Bytes>> for StreamBody {
    /// A body of whatever the sender sends, until it is dropped.
    fn from(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Self {
        StreamBody(rx)
    }
}

impl http_body::Body for StreamBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// The request's one clock reading and the phase of the config in force at it: the record's
/// `ts`, its `config_version`, the split and the cookie checks all use this one reading.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moment<'c> {
    pub now: SystemTime,
    pub phase: &'c Phase,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_dropped_before_the_answer_marks_the_client_gone() {
        let (client, guard) = Client::watched();
        assert!(!client.is_gone());
        drop(guard);
        assert!(client.is_gone());
        let (client, guard) = Client::watched();
        guard.answered();
        assert!(!client.is_gone());
        assert!(!Client::waiting().is_gone());
    }
}

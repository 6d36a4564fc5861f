//! The one HTTP/1.1 accept loop behind `serve` and `emulate`: hyper over tokio, TCP_NODELAY,
//! a cap on open connections, a time limit on reading a request's headers and on idle
//! keep-alive connections, and a bounded drain of connections in flight when it stops.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::router::{Body, StreamBody};

/// Header lines hyper parses before it answers a bare 431 itself.
pub const MAX_HEADER_LINES: usize = 1000;
/// Header block size hyper parses before it answers a bare 431 itself; the router answers
/// its own JSON 431 above `router::MAX_HEADER_BYTES`, well below this.
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// An answer's body: whole, or streamed as the router sends it (chunked HTTP/1.1).
pub enum ServeBody {
    /// The whole body.
    Full(Full<Bytes>),
    /// Chunks as they come; the client going away drops it.
    Stream(StreamBody),
}

impl From<Bytes> for ServeBody {
    fn from(b: Bytes) -> Self {
        ServeBody::Full(Full::new(b))
    }
}

impl http_body::Body for ServeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ServeBody::Full(b) => Pin::new(b).poll_frame(cx),
            ServeBody::Stream(s) => Pin::new(s).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ServeBody::Full(b) => b.is_end_stream(),
            ServeBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            ServeBody::Full(b) => b.size_hint(),
            ServeBody::Stream(_) => http_body::SizeHint::default(),
        }
    }
}

/// Connection limits of the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time from a request's first byte to the end of its headers (and again for its body).
    pub header_timeout: Duration,
    /// How long a keep-alive connection may sit with no request.
    pub idle_timeout: Duration,
    /// Open connections; past it a new connection gets a 503 and is closed.
    pub max_connections: usize,
    /// How long a stopping server waits for requests in flight.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_millis(10_000),
            idle_timeout: Duration::from_millis(60_000),
            max_connections: 4096,
            // Above the longest `timeouts.total_ms` (29 s): a request in flight always finishes.
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `handler` on `listener` until `shutdown` completes, then lets connections in flight
/// finish (within `limits.drain_timeout`). `name` labels log lines. `tasks` tracks the
/// connections, and whatever else the handler spawns on it, for the drain.
pub async fn run<H, F>(
    name: &'static str,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
    tasks: TaskTracker,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<ServeBody>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "{name}: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small requests and answers: never wait for a delayed ACK.
        let _ = stream.set_nodelay(true);
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                let (handler, stop) = (handler.clone(), stop.clone());
                tasks.spawn(async move {
                    serve_connection(name, stream, limits, stop, handler).await;
                    drop(permit);
                });
            }
            Err(_) => {
                tracing::warn!(
                    max = limits.max_connections,
                    "{name}: connection cap reached; answering 503"
                );
                tokio::spawn(refuse(stream));
            }
        }
    }
    drop(listener);
    stop.cancel();
    tasks.close();
    if tokio::time::timeout(limits.drain_timeout, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "{name}: connections still open after {} ms; stopping anyway",
            limits.drain_timeout.as_millis()
        );
    }
    Ok(())
}

/// What a connection is doing, for its deadlines.
const IDLE: u8 = 0;
const READING_HEAD: u8 = 1;
const BUSY: u8 = 2;

/// A connection's state and when it entered it, shared by its socket, its service and its
/// watchdog. Times are milliseconds since `epoch`.
struct Activity {
    epoch: Instant,
    state: AtomicU8,
    since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            epoch: Instant::now(),
            state: AtomicU8::new(IDLE),
            since_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn enter(&self, state: u8) {
        self.since_ms.store(self.now_ms(), Ordering::Relaxed);
        self.state.store(state, Ordering::Release);
    }

    /// Bytes moved: the first byte of a request starts its header clock; any traffic on an
    /// idle connection (a slow reader taking its answer) keeps it alive.
    fn on_io(&self, read: bool) {
        match self.state.load(Ordering::Acquire) {
            IDLE if read => self.enter(READING_HEAD),
            IDLE => self.since_ms.store(self.now_ms(), Ordering::Relaxed),
            _ => {}
        }
    }

    /// When the connection must be closed if nothing changes; `None` while a request runs.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let limit = match self.state.load(Ordering::Acquire) {
            IDLE => limits.idle_timeout,
            READING_HEAD => limits.header_timeout,
            _ => return None,
        };
        let since = Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        Some(self.epoch + since + limit)
    }
}

async fn serve_connection<H, F>(
    name: &'static str,
    stream: TcpStream,
    limits: Limits,
    stop: CancellationToken,
    handler: H,
) where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<ServeBody>> + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let service = {
        let activity = Arc::clone(&activity);
        service_fn(move |req: http::Request<Incoming>| {
            activity.enter(BUSY);
            let fut = handler(req);
            let activity = Arc::clone(&activity);
            async move {
                let resp = fut.await;
                activity.enter(IDLE);
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .max_headers(MAX_HEADER_LINES)
        .max_header_size(MAX_HEADER_BLOCK);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(&limits);
        // While a request runs, look again after the shorter limit: its answer starts the idle clock.
        let wake = deadline
            .unwrap_or_else(|| Instant::now() + limits.header_timeout.min(limits.idle_timeout));
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "{name}: connection closed with an error");
                }
                return;
            }
            () = stop.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(wake.into()) => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("{name}: closing a connection past its header or idle timeout");
                    return;
                }
            }
        }
    }
}

/// The socket, reporting traffic to the connection's `Activity`.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.on_io(true);
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_io(false);
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_io(false);
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// How long a refused connection is given to take its 503.
const REFUSE_TIMEOUT: Duration = Duration::from_millis(250);

/// The contract's answer past the connection cap: `503 unavailable`, `Connection: close`.
async fn refuse(mut stream: TcpStream) {
    let body = serde_json::json!({
        "error": "unavailable",
        "message": "the server is at its connection limit (--max-connections); retry shortly",
        "request_id": crate::router::new_request_id(),
    })
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n",
        body.len()
    );
    let answer = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client sent, so that closing does not reset the connection before it
        // has read the answer.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSE_TIMEOUT, answer).await;
}

/// Reads a body up to one byte past `limit` (enough for the caller to refuse it as too large
/// without buffering an unbounded upload), within `timeout`. A body that ends before its
/// declared length or final chunk, or does not arrive in time, is [`Body::Cut`]; `received`
/// counts what arrived so far, for a caller that is dropped mid-read.
pub async fn read_body(
    mut body: Incoming,
    declared: Option<u64>,
    limit: usize,
    timeout: Duration,
    received: &AtomicU64,
) -> Body {
    let mut buf = BytesMut::new();
    let read = async {
        while buf.len() <= limit {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        buf.extend_from_slice(&data);
                        let n = u64::try_from(buf.len()).unwrap_or(u64::MAX);
                        received.store(n, Ordering::Relaxed);
                    }
                }
                Some(Err(_)) => return false,
                None => return true,
            }
        }
        true
    };
    let ended = tokio::time::timeout(timeout, read).await.unwrap_or(false);
    let got = u64::try_from(buf.len()).unwrap_or(u64::MAX);
    let short = declared.is_some_and(|d| got < d);
    if !ended || (short && buf.len() <= limit) {
        return Body::Cut {
            received: buf.len(),
        };
    }
    buf.truncate(limit.saturating_add(1));
    Body::Complete(buf.freeze())
}

/// The `Content-Length` a request declared, if any.
pub fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

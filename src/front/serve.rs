//! `serve` front door: the same router behind a local HTTP/1.1 server. Every request leaves
//! its record, also when its client hangs up: the router runs in a task of its own, and a
//! client that leaves while its body is still arriving gets the record of a cut body.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, Method};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::server::{self, Limits, ServeBody};
use crate::error::ErrorKind;
use crate::record::RecordSink;
use crate::router::{self, Body, Client, MAX_BODY_BYTES, Router, StreamOut, Wire, new_request_id};
use crate::sagemaker::Invoker;

/// Serves HTTP on `listener` until `shutdown` completes; requests in flight finish and write
/// their records (within `limits.drain_timeout`).
pub async fn run<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) -> std::io::Result<()> {
    let tasks = TaskTracker::new();
    let spawner = tasks.clone();
    server::run(
        "serve",
        listener,
        shutdown,
        limits,
        tasks,
        move |req: http::Request<Incoming>| {
            handle(Arc::clone(&router), spawner.clone(), limits, req)
        },
    )
    .await
}

async fn handle<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    tasks: TaskTracker,
    limits: Limits,
    req: http::Request<Incoming>,
) -> http::Response<ServeBody> {
    let (parts, body) = req.into_parts();
    let request_id = new_request_id();
    let (client, guard) = Client::watched();
    let declared = server::declared_length(&parts.headers);
    let head = Head {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        request_id: request_id.clone(),
        client,
    };
    let received = Arc::new(AtomicU64::new(0));
    let pending = Pending {
        head: Some(head),
        router: Arc::clone(&router),
        tasks: tasks.clone(),
        received: Arc::clone(&received),
    };
    let body = server::read_body(
        body,
        declared,
        MAX_BODY_BYTES,
        limits.header_timeout,
        &received,
    )
    .await;
    let Some(req) = pending.into_request(body) else {
        return internal_error(&request_id).map(ServeBody::from);
    };
    // The request runs in its own task: when a client hangs up, hyper drops this future, but
    // the call to SageMaker and the request's record still complete.
    if !wants_stream(&req.headers) {
        let work = tasks.spawn(async move { router.handle(req).await });
        let resp = match work.await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(error = %e, %request_id, "request task failed");
                internal_error(&request_id)
            }
        };
        guard.answered();
        return resp.map(ServeBody::from);
    }
    // A stream: the head arrives with the first payload part, then the body chunk by chunk
    // (chunked HTTP/1.1); a request that did not stream answers whole.
    let (out, stream_in) = StreamOut::channel();
    let mut work = tasks.spawn(async move { router.answer(req, Wire::Streamed(out)).await });
    let answer = tokio::select! {
        head = stream_in.head => head.ok(),
        done = &mut work => {
            guard.answered();
            return match done {
                Ok(resp) => resp.map(ServeBody::from),
                Err(e) => {
                    tracing::error!(error = %e, %request_id, "request task failed");
                    internal_error(&request_id).map(ServeBody::from)
                }
            };
        }
    };
    match answer {
        Some(head) => {
            guard.answered();
            http::Response::from_parts(head, ServeBody::Stream(stream_in.body))
        }
        None => {
            let resp = work.await.unwrap_or_else(|_| internal_error(&request_id));
            guard.answered();
            resp.map(ServeBody::from)
        }
    }
}

/// Whether the request asks for a stream (`Accept: text/event-stream`).
fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| crate::transform::media_essence(t) == "text/event-stream")
}

/// A request whose body is still being read.
struct Head {
    method: Method,
    path: String,
    headers: HeaderMap,
    request_id: String,
    client: Client,
}

/// A request between its headers and its body. If the client leaves mid-body, hyper drops the
/// future that reads it; dropping this then hands the router a cut body, so the request still
/// gets its record (a 400, with `client_closed`).
struct Pending<I: Invoker, S: RecordSink> {
    head: Option<Head>,
    router: Arc<Router<I, S>>,
    tasks: TaskTracker,
    received: Arc<AtomicU64>,
}

impl<I: Invoker, S: RecordSink> Pending<I, S> {
    /// The whole request, once its body is read: the guard is disarmed.
    fn into_request(mut self, body: Body) -> Option<router::Request> {
        self.head.take().map(|head| head.into_request(body))
    }
}

impl Head {
    fn into_request(self, body: Body) -> router::Request {
        router::Request {
            method: self.method,
            path: self.path,
            headers: self.headers,
            body,
            request_id: self.request_id,
            client: self.client,
        }
    }
}

impl<I: Invoker, S: RecordSink> Drop for Pending<I, S> {
    fn drop(&mut self) {
        let Some(head) = self.head.take() else { return };
        let received = usize::try_from(self.received.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        let req = head.into_request(Body::Cut { received });
        let router = Arc::clone(&self.router);
        // Only reached on a runtime thread (hyper drops the future there); outside one there is
        // nowhere to run the router, and nothing to record for.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            self.tasks.spawn_on(
                async move {
                    let _ = router.handle(req).await;
                },
                &rt,
            );
        }
    }
}

fn internal_error(request_id: &str) -> router::Response {
    let body = serde_json::json!({
        "error": ErrorKind::Internal.as_str(),
        "message": "the router failed while handling this request",
        "request_id": request_id,
    });
    let mut resp = http::Response::new(bytes::Bytes::from(body.to_string()));
    *resp.status_mut() = ErrorKind::Internal.status();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

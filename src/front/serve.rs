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

use super::respond;
use super::server::{self, Limits, ServeBody};
use crate::record::RecordSink;
use crate::router::{self, Body, Client, MAX_BODY_BYTES, Router, new_request_id};
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
    let handler_router = Arc::clone(&router);
    server::run(
        "serve",
        listener,
        shutdown,
        limits,
        tasks,
        move |req: http::Request<Incoming>| {
            handle(Arc::clone(&handler_router), spawner.clone(), limits, req)
        },
    )
    .await?;
    // Shadow calls that outlived their answers finish and write their records too.
    if let Some(shadows) = router.shadow_tasks() {
        shadows.close();
        let _ = tokio::time::timeout(limits.drain_timeout, shadows.wait()).await;
    }
    Ok(())
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
        return respond::internal_error(&request_id);
    };
    let resp = respond::respond(router, req, &tasks).await;
    guard.answered();
    resp
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

//! `serve` front door: the same router behind a local HTTP/1.1 server.

use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use tokio::net::TcpListener;

use super::server;
use crate::error::ErrorKind;
use crate::record::RecordSink;
use crate::router::{self, MAX_BODY_BYTES, Router, new_request_id};
use crate::sagemaker::Invoker;

/// Serves HTTP on `listener` until `shutdown` completes; connections in flight finish.
pub async fn run<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    server::run(
        "serve",
        listener,
        shutdown,
        move |req: http::Request<Incoming>| {
            let router = Arc::clone(&router);
            async move {
                let (parts, body) = req.into_parts();
                let request_id = new_request_id();
                let req = router::Request {
                    method: parts.method,
                    path: parts.uri.path().to_owned(),
                    headers: parts.headers,
                    body: server::read_body(body, MAX_BODY_BYTES).await,
                    request_id: request_id.clone(),
                };
                // The request runs in its own task: when a client hangs up, hyper drops this
                // future, but the call to SageMaker and the request's record still complete.
                let work = tokio::spawn(async move { router.handle(req).await });
                match work.await {
                    Ok(resp) => resp,
                    Err(e) => {
                        tracing::error!(error = %e, %request_id, "request task failed");
                        internal_error(&request_id)
                    }
                }
            }
        },
    )
    .await
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

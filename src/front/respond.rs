//! The one way a streaming front door (`serve`, and Lambda with response streaming) gets an
//! answer: the router runs in a task of its own, so that a client hanging up cannot cancel the
//! call or its record; a streamed answer comes back as soon as its head is ready, its body
//! following chunk by chunk.

use std::sync::Arc;

use tokio_util::task::TaskTracker;

use super::server::ServeBody;
use crate::error::ErrorKind;
use crate::record::RecordSink;
use crate::router::{self, Router, StreamIn, StreamOut, Wire};
use crate::sagemaker::Invoker;

/// The answer to `req`, whole or streamed. `tasks` tracks the router's task for a drain.
pub async fn respond<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
    req: router::Request,
    tasks: &TaskTracker,
) -> http::Response<ServeBody> {
    let request_id = req.request_id.clone();
    if !router::wants_stream(&req.headers) {
        let work = tasks.spawn(async move { router.handle(req).await });
        return match work.await {
            Ok(resp) => resp.map(ServeBody::from),
            Err(e) => {
                tracing::error!(error = %e, %request_id, "request task failed");
                internal_error(&request_id)
            }
        };
    }
    let (out, stream_in) = StreamOut::channel();
    let StreamIn {
        head: mut head_rx,
        body,
    } = stream_in;
    let mut work = tasks.spawn(async move { router.answer(req, Wire::Streamed(out)).await });
    let head = tokio::select! {
        biased;
        head = &mut head_rx => head.ok(),
        done = &mut work => match head_rx.try_recv() {
            // A short stream can be over before this looks: its head was sent, and its body
            // waits in the channel (the task cannot finish while the channel is full).
            Ok(head) => Some(head),
            Err(_) => {
                return match done {
                    Ok(resp) => resp.map(ServeBody::from),
                    Err(e) => {
                        tracing::error!(error = %e, %request_id, "request task failed");
                        internal_error(&request_id)
                    }
                };
            }
        },
    };
    match head {
        Some(head) => http::Response::from_parts(head, ServeBody::Stream(body)),
        // The answer did not stream after all (a failure before the first byte).
        None => match work.await {
            Ok(resp) => resp.map(ServeBody::from),
            Err(_) => internal_error(&request_id),
        },
    }
}

/// The answer when the router's task itself failed.
pub fn internal_error(request_id: &str) -> http::Response<ServeBody> {
    let body = serde_json::json!({
        "error": ErrorKind::Internal.as_str(),
        "message": "the router failed while handling this request",
        "request_id": request_id,
    });
    let mut resp = http::Response::new(ServeBody::from(bytes::Bytes::from(body.to_string())));
    *resp.status_mut() = ErrorKind::Internal.status();
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

//! The one HTTP/1.1 accept loop behind `serve` and `emulate`: hyper over tokio, TCP_NODELAY,
//! connections in flight left to finish when the listener stops.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `handler` on `listener` until `shutdown` completes. `name` labels log lines.
pub async fn run<H, F>(
    name: &'static str,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(http::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Bytes>> + Send + 'static,
{
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
            () = &mut shutdown => return Ok(()),
        };
        // Small requests and answers: never wait for a delayed ACK.
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: http::Request<Incoming>| {
                let fut = handler(req);
                async move { Ok::<_, Infallible>(fut.await.map(Full::new)) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "{name}: connection closed with an error");
            }
        });
    }
}

/// Reads a body up to one byte past `limit`: enough for the caller to refuse it as too large
/// without buffering an unbounded upload. A client that hangs up mid-body yields what arrived.
pub async fn read_body(mut body: Incoming, limit: usize) -> Bytes {
    let mut buf = BytesMut::new();
    while buf.len() <= limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    buf.truncate(limit + 1);
    buf.freeze()
}

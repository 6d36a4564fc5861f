//! Stage 4 for `Accept: text/event-stream`: `InvokeEndpointWithResponseStream` on the arm's
//! endpoint, the payload bytes passed on as they arrive. The head waits for the first payload
//! part, so a failure before it still gets the usual status (and the fallback); after it, the
//! stream ends with an error event. The record is written when the stream ends, fails, or its
//! client leaves (which cancels the call upstream).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::json;

use super::assignment::Assigned;
use super::invoke::{Call, Invoked, prepare_body};
use super::meter::Meter;
use super::parts::Parts;
use super::request::{MAX_BODY_BYTES, Response, Wire};
use super::respond::{Failure, millis, set};
use super::ticket::{Reached, Ticket};
use crate::config::{Config, Target};
use crate::error::ErrorKind;
use crate::record::{RecordSink, StreamFields};
use crate::sagemaker::{Invocation, InvokeError, Invoker, ModelStream};

/// Whether the client asked for a stream: `text/event-stream` among its `Accept` types.
pub fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| crate::transform::media_essence(t) == "text/event-stream")
}

/// The bytes that end a stream after a failure that came too late for a status.
pub(crate) fn error_event(kind: ErrorKind, message: &str, request_id: &str) -> Bytes {
    let data = json!({"error": kind.as_str(), "message": message, "request_id": request_id});
    Bytes::from(format!("\n\nevent: error\ndata: {data}\n\n"))
}

/// A started stream: its first part (if it sent any), and who answered.
struct Started {
    stream: ModelStream,
    first: Option<Bytes>,
    arm: usize,
    waited: Duration,
}

/// Streams `assigned`'s arm (or its fallback) to `wire`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn stream<I: Invoker, S: RecordSink>(
    parts: &Parts<I, S>,
    cfg: &Config,
    started: Instant,
    ticket: Ticket<'_, S>,
    assigned: &Assigned,
    call: &Call<'_>,
    wire: Wire,
    decorate: &(dyn Fn(&mut HeaderMap) + Sync),
) -> Response {
    let t = cfg.timeouts();
    let begin = match start(parts, cfg, assigned, call).await {
        Ok(s) => s,
        Err((invoked, failure)) => {
            let reached = match &invoked {
                Some(i) => Reached::Invocation(assigned, i),
                None => Reached::Assignment(assigned),
            };
            return ticket.fail(reached, failure);
        }
    };
    let Started {
        mut stream,
        first,
        arm,
        waited,
    } = begin;
    let first_byte = first.as_ref().map(|_| started.elapsed());
    let invoked = Invoked::new(arm, Some(arm), stream.invoked_variant.clone(), waited);
    let reached = Reached::Invocation(assigned, &invoked);
    let mut head = http::Response::new(()).into_parts().0;
    head.status = StatusCode::OK;
    set(
        &mut head.headers,
        header::CONTENT_TYPE,
        stream
            .content_type
            .as_deref()
            .unwrap_or("text/event-stream"),
    );
    ticket.headers(reached, &mut head.headers);
    decorate(&mut head.headers);
    let (mut out, head_for_buffered) = match wire {
        Wire::Buffered => (Out::Collect(Vec::new()), Some(head)),
        Wire::Streamed(s) => {
            // The front door has gone (its client with it) if it cannot take the head.
            let gone = s.head.send(head).is_err();
            (Out::Channel { tx: s.body, gone }, None)
        }
    };
    let mut meter = Meter::default();
    let mut error = None;
    if let Some(b) = first
        && out.send(b.clone()).await
    {
        meter.feed(&b);
    }
    let deadline = started + t.stream_total;
    while !out.gone() {
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        let wait = t.stream_idle.min(left);
        let next = tokio::select! {
            next = tokio::time::timeout(wait, stream.parts.recv()) => next,
            // A client that leaves is noticed at once, not at the next part.
            () = out.closed() => break,
        };
        match next {
            Ok(Some(Ok(b))) => {
                if out.send(b.clone()).await {
                    meter.feed(&b);
                }
                if out.over(MAX_BODY_BYTES) {
                    error = Some(ErrorKind::PayloadTooLarge);
                    let m = format!(
                        "the stream passed {MAX_BODY_BYTES} bytes, the most a buffered answer can carry"
                    );
                    out.send(error_event(
                        ErrorKind::PayloadTooLarge,
                        &m,
                        ticket.request_id(),
                    ))
                    .await;
                    break;
                }
            }
            Ok(Some(Err(e))) => {
                tracing::warn!(request_id = %ticket.request_id(), kind = %e.kind, "stream failed mid-way");
                error = Some(e.kind);
                out.send(error_event(e.kind, &e.message, ticket.request_id()))
                    .await;
                break;
            }
            Ok(None) => break,
            Err(_) => {
                let which = if left <= t.stream_idle {
                    format!(
                        "the stream did not end within timeouts.stream_total_ms ({} ms)",
                        t.stream_total.as_millis()
                    )
                } else {
                    format!(
                        "no part for timeouts.stream_idle_ms ({} ms)",
                        t.stream_idle.as_millis()
                    )
                };
                error = Some(ErrorKind::Timeout);
                out.send(error_event(ErrorKind::Timeout, &which, ticket.request_id()))
                    .await;
                break;
            }
        }
    }
    // Dropping the model's stream cancels the call upstream (a client that left, a timeout).
    drop(stream);
    meter.finish();
    let client_left = out.gone();
    let fields = StreamFields {
        streamed: true,
        first_byte_ms: first_byte.map(millis),
        response_bytes: meter.bytes(),
        tokens: meter.tokens(),
        finish_reason: meter.finish_reason().map(str::to_owned),
    };
    let invoked = Invoked::new(
        arm,
        Some(arm),
        invoked.invoked_variant().map(str::to_owned),
        waited
            + started
                .elapsed()
                .saturating_sub(first_byte.unwrap_or_default()),
    );
    ticket.close_stream(
        Reached::Invocation(assigned, &invoked),
        error,
        &fields,
        client_left,
    );
    let body = match out {
        Out::Collect(v) => Bytes::from(v),
        Out::Channel { .. } => Bytes::new(),
    };
    let mut resp = http::Response::new(body);
    if let Some(head) = head_for_buffered {
        *resp.status_mut() = head.status;
        *resp.headers_mut() = head.headers;
    }
    resp
}

/// Where the bytes go: collected for a front door that cannot stream, or sent on.
enum Out {
    Collect(Vec<u8>),
    Channel {
        tx: tokio::sync::mpsc::Sender<Bytes>,
        gone: bool,
    },
}

impl Out {
    /// Sends `b`; false when the client has gone.
    async fn send(&mut self, b: Bytes) -> bool {
        match self {
            Out::Collect(v) => {
                v.extend_from_slice(&b);
                true
            }
            Out::Channel { tx, gone } => {
                if !*gone && tx.send(b).await.is_err() {
                    *gone = true;
                }
                !*gone
            }
        }
    }

    /// Resolves when the client goes away; never for a collected answer.
    async fn closed(&mut self) {
        match self {
            Out::Channel { tx, gone } => {
                tx.closed().await;
                *gone = true;
            }
            Out::Collect(_) => std::future::pending().await,
        }
    }

    fn gone(&self) -> bool {
        matches!(self, Out::Channel { gone: true, .. })
    }

    fn over(&self, limit: usize) -> bool {
        matches!(self, Out::Collect(v) if v.len() > limit)
    }
}

/// The first payload part from the arm's endpoint, else its fallback's (when the failure
/// allows one), each within `timeouts.first_byte_ms`.
async fn start<I: Invoker, S: RecordSink>(
    parts: &Parts<I, S>,
    cfg: &Config,
    assigned: &Assigned,
    call: &Call<'_>,
) -> Result<Started, (Option<Invoked>, Failure)> {
    let t = cfg.timeouts();
    let first_arm = assigned.arm();
    let mut current = first_arm;
    let mut spent = Duration::ZERO;
    let mut invoked = None;
    loop {
        let Some(spec) = cfg.arm(current) else {
            return Err((invoked, Failure::new(ErrorKind::Internal, "no such arm")));
        };
        if let Some(Target::Model(m)) = spec.target() {
            let f = Failure::new(
                ErrorKind::BadRequest,
                format!(
                    "arm `{}` targets model `{m}` of a multi-model endpoint, and InvokeEndpointWithResponseStream has no TargetModel: ask without Accept: text/event-stream",
                    spec.name()
                ),
            );
            return Err((invoked, f));
        }
        let body = prepare_body(cfg, current, call).map_err(|f| (invoked.clone(), f))?;
        let request = Invocation {
            endpoint: spec.endpoint(),
            target: spec.target(),
            body,
            content_type: call.content_type,
            accept: call.accept,
            inference_id: call.request_id,
            custom_attributes: spec.custom_attributes(),
            timeouts: t,
        };
        let t0 = Instant::now();
        let attempt = async {
            let mut s = parts.invoker.invoke_stream(request).await?;
            let first = s.parts.recv().await.transpose()?;
            Ok::<_, InvokeError>((s, first))
        };
        let outcome = match tokio::time::timeout(t.first_byte, attempt).await {
            Ok(r) => r,
            Err(_) => Err(InvokeError {
                kind: ErrorKind::Timeout,
                code: None,
                message: format!(
                    "endpoint `{}` sent no payload within timeouts.first_byte_ms ({} ms)",
                    spec.endpoint(),
                    t.first_byte.as_millis()
                ),
            }),
        };
        spent += t0.elapsed();
        match outcome {
            Ok((stream, first)) => {
                return Ok(Started {
                    stream,
                    first,
                    arm: current,
                    waited: spent,
                });
            }
            Err(e) => {
                tracing::warn!(
                    request_id = %call.request_id,
                    arm = %spec.name(),
                    kind = %e.kind,
                    code = e.code.as_deref().unwrap_or("-"),
                    "stream did not start"
                );
                invoked = Some(Invoked::new(current, None, None, spent));
                match cfg.fallback() {
                    Some(fb)
                        if fb != current && current == first_arm && e.kind.allows_fallback() =>
                    {
                        current = fb;
                    }
                    _ => return Err((invoked, Failure::from(e))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn event_stream_in_accept_asks_for_a_stream() {
        let mut h = HeaderMap::new();
        assert!(!wants_stream(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, Text/Event-Stream; q=0.9"),
        );
        assert!(wants_stream(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_stream(&h), "*/* is not a request to stream");
    }

    #[test]
    fn the_error_event_is_the_contracts_bytes() {
        let e = error_event(ErrorKind::Timeout, "slow", "r-1");
        assert_eq!(
            e.as_ref(),
            b"\n\nevent: error\ndata: {\"error\":\"timeout\",\"message\":\"slow\",\"request_id\":\"r-1\"}\n\n"
        );
    }
}

//! Lambda front door: API Gateway REST (v1), HTTP API (v2) and ALB events through lambda_http,
//! converted to the router's request and back.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use bytes::Bytes;
use http::HeaderValue;
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Adapter, Body, LambdaEvent, RequestExt, Service, StreamAdapter};
use tokio_util::task::TaskTracker;

use super::respond;
use super::server::ServeBody;

use crate::record::RecordSink;
use crate::router::{self, Client, Router, new_request_id};
use crate::sagemaker::Invoker;

/// Set on an event whose body claimed base64 and was not, so that the router answers it with
/// a 400 and its record instead of lambda_http panicking on it. Any copy a client sends is
/// removed first.
const NOT_BASE64: &str = "x-canary-router-body-not-base64";

/// Converts a lambda_http request (body already base64-decoded) into the router's request.
/// The request ID is API Gateway's where there is one, else the Lambda invocation's.
pub fn to_request(req: lambda_http::Request) -> router::Request {
    let apigw_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(c)) => c.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
        _ => None,
    };
    let request_id = apigw_id
        .filter(|id| !id.is_empty())
        .or_else(|| {
            req.lambda_context_ref()
                .map(|c| c.request_id.clone())
                .filter(|id| !id.is_empty())
        })
        .unwrap_or_else(new_request_id);
    let (mut parts, body) = req.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(s) => Bytes::from(s.into_bytes()),
        Body::Binary(b) => Bytes::from(b),
        // Body is non-exhaustive upstream: take whatever bytes it holds.
        other => Bytes::copy_from_slice(other.as_ref()),
    };
    let body = match parts.headers.remove(NOT_BASE64) {
        Some(_) => router::Body::NotBase64,
        None => router::Body::Complete(bytes),
    };
    router::Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
        request_id,
        // The runtime holds the invocation open until the handler answers.
        client: Client::waiting(),
    }
}

/// Converts the router's response for lambda_http: text for a textual content type with a
/// valid UTF-8 body, base64 otherwise. lambda_http's own `IntoResponse` would transcode text
/// by its charset and replace invalid UTF-8 with U+FFFD, changing the endpoint's bytes, which
/// the contract passes through unchanged.
pub fn to_response(resp: router::Response) -> lambda_http::Response<Body> {
    let (parts, body) = resp.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(text) if is_textual(&parts.headers) => Body::Text(text),
            Ok(text) => Body::Binary(text.into_bytes()),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    lambda_http::Response::from_parts(parts, body)
}

fn is_textual(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("text/") || crate::transform::is_json(&ct)
        })
}

/// One invocation: the event's request through the router and back. `run` serves exactly
/// this function, and the event tests call it.
pub async fn handle_event<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    req: lambda_http::Request,
) -> Result<lambda_http::Response<Body>, Infallible> {
    Ok(to_response(router.handle(to_request(req)).await))
}

/// The whole Lambda service: raw API Gateway or ALB events in, gateway responses out. `run`
/// serves exactly this, and the event tests call it.
pub type LambdaService<'a, I, S> =
    CheckBase64<Adapter<'a, lambda_http::Response<Body>, Handler<'a, I, S>>>;

/// The Lambda service over `router`; see [`LambdaService`].
pub fn service<I: Invoker, S: RecordSink>(router: &Router<I, S>) -> LambdaService<'_, I, S> {
    CheckBase64(Adapter::from(Handler(router)))
}

/// Runs the router as the Lambda function until the runtime stops it.
pub async fn run<I: Invoker, S: RecordSink>(
    router: std::sync::Arc<Router<I, S>>,
) -> Result<(), lambda_http::Error> {
    lambda_runtime::run(service(&router)).await
}

/// The streaming Lambda service (`CANARY_RESPONSE_STREAMING=1`, behind a Function URL with
/// `InvokeMode: RESPONSE_STREAM` or an API Gateway REST API with response streaming): the same
/// events, answered through the runtime's response-streaming mode, so a streamed answer's
/// parts reach the client as the model sends them. `run_streaming` serves exactly this.
pub type LambdaStreamingService<I, S> =
    CheckBase64<StreamAdapter<'static, StreamHandler<I, S>, ServeBody>>;

/// The streaming Lambda service over `router`; see [`LambdaStreamingService`].
pub fn streaming_service<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
) -> LambdaStreamingService<I, S> {
    CheckBase64(StreamAdapter::from(StreamHandler {
        router,
        tasks: TaskTracker::new(),
    }))
}

/// Runs the router as a response-streaming Lambda function until the runtime stops it.
/// One process either streams or buffers: lambda_http's streaming runner puts its prelude into
/// buffered answers, so the same artifact is deployed as two functions.
pub async fn run_streaming<I: Invoker, S: RecordSink>(
    router: Arc<Router<I, S>>,
) -> Result<(), lambda_http::Error> {
    lambda_runtime::run(streaming_service(router)).await
}

/// One streaming invocation's request through [`respond::respond`].
pub struct StreamHandler<I, S> {
    router: Arc<Router<I, S>>,
    tasks: TaskTracker,
}

impl<I: Invoker, S: RecordSink> Service<lambda_http::Request> for StreamHandler<I, S> {
    type Response = http::Response<ServeBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: lambda_http::Request) -> Self::Future {
        let (router, tasks) = (Arc::clone(&self.router), self.tasks.clone());
        Box::pin(async move { Ok(respond::respond(router, to_request(req), &tasks).await) })
    }
}

/// One invocation's request through [`handle_event`].
pub struct Handler<'a, I, S>(&'a Router<I, S>);

impl<'a, I: Invoker, S: RecordSink> Service<lambda_http::Request> for Handler<'a, I, S> {
    type Response = lambda_http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send + 'a>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: lambda_http::Request) -> Self::Future {
        Box::pin(handle_event(self.0, req))
    }
}

/// lambda_http (1.3.2) panics while converting an event whose `isBase64Encoded` body is not
/// base64: no answer, no record. This checks the body first and, when it is not base64, clears
/// it and marks the event, so that the router answers a 400 and writes the record.
pub struct CheckBase64<S>(S);

impl<S> Service<LambdaEvent<LambdaRequest>> for CheckBase64<S>
where
    S: Service<LambdaEvent<LambdaRequest>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut event: LambdaEvent<LambdaRequest>) -> Self::Future {
        mark_bad_base64(&mut event.payload);
        self.0.call(event)
    }
}

fn mark_bad_base64(payload: &mut LambdaRequest) {
    let (headers, mut multi, body, base64) = match payload {
        LambdaRequest::ApiGatewayV1(e) => (
            &mut e.headers,
            Some(&mut e.multi_value_headers),
            &mut e.body,
            &mut e.is_base64_encoded,
        ),
        LambdaRequest::ApiGatewayV2(e) => {
            (&mut e.headers, None, &mut e.body, &mut e.is_base64_encoded)
        }
        LambdaRequest::Alb(e) => (
            &mut e.headers,
            Some(&mut e.multi_value_headers),
            &mut e.body,
            &mut e.is_base64_encoded,
        ),
        _ => return,
    };
    headers.remove(NOT_BASE64);
    if let Some(m) = multi.as_deref_mut() {
        m.remove(NOT_BASE64);
    }
    let valid = !*base64
        || body
            .as_deref()
            .is_none_or(|b| base64::engine::general_purpose::STANDARD.decode(b).is_ok());
    if valid {
        return;
    }
    *base64 = false;
    *body = None;
    let mark = HeaderValue::from_static("1");
    headers.insert(NOT_BASE64, mark.clone());
    if let Some(m) = multi {
        m.insert(NOT_BASE64, mark);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(content_type: &str, body: &[u8]) -> Body {
        let mut resp = http::Response::new(Bytes::copy_from_slice(body));
        resp.headers_mut()
            .insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        to_response(resp).into_body()
    }

    #[test]
    fn text_only_when_textual_and_utf8_so_bytes_pass_unchanged() {
        assert!(matches!(response("application/json", b"{}"), Body::Text(t) if t == "{}"));
        assert!(matches!(
            response("Application/JSON; charset=utf-8", b"[]"),
            Body::Text(_)
        ));
        assert!(matches!(response("text/csv", b"a,b"), Body::Text(_)));
        // lambda_http's own conversion would decode this as text and replace the invalid byte
        // with U+FFFD; the endpoint's bytes must come back unchanged.
        match response("text/csv", b"caf\xe9") {
            Body::Binary(b) => assert_eq!(b, b"caf\xe9"),
            other => panic!("{other:?}"),
        }
        match response("image/png", b"\x89PNG") {
            Body::Binary(b) => assert_eq!(b, b"\x89PNG"),
            other => panic!("{other:?}"),
        }
        let empty = to_response(http::Response::new(Bytes::new())).into_body();
        assert!(matches!(empty, Body::Empty));
    }
}

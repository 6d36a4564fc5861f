//! Lambda front door: API Gateway REST (v1), HTTP API (v2) and ALB events through lambda_http,
//! converted to the router's request and back.

use std::convert::Infallible;

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, service_fn};

use crate::record::RecordSink;
use crate::router::{self, Router, new_request_id};
use crate::sagemaker::Invoker;

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
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(s) => Bytes::from(s.into_bytes()),
        Body::Binary(b) => Bytes::from(b),
        // Body is non-exhaustive upstream: take whatever bytes it holds.
        other => Bytes::copy_from_slice(other.as_ref()),
    };
    router::Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
        request_id,
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

/// Runs the router as the Lambda function until the runtime stops it.
pub async fn run<I: Invoker, S: RecordSink>(
    router: Router<I, S>,
) -> Result<(), lambda_http::Error> {
    let router = &router;
    lambda_http::run(service_fn(move |req| handle_event(router, req))).await
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

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
/// it and marks the event, so that the router answers a 400 and writes the record. It also
/// makes the parts lambda_http builds the request URI from safe to parse (see
/// [`make_uri_safe`]), as it unwraps that parse.
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
        make_uri_safe(&mut event.payload);
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

/// lambda_http (1.3.2) builds the request URI as `{x-forwarded-proto}://{Host}{path}` (or the
/// request context's domain name, or `http://localhost{path}` without a host) and unwraps the
/// parse, then expects `http::Uri` to take the result with API Gateway v2's raw query string
/// appended: a Host header such as `a b` or `h:99999`, a path that does not start with `/`, or a
/// query with a space panicked, and the request had no answer and no record. The router reads
/// only the path, so a host or scheme that may not parse is dropped (the URI then takes the
/// next one), a path gets its leading `/`, and bytes a URI may not hold are percent-encoded in
/// the path and query (what the URL parser would have done for most of them).
fn make_uri_safe(payload: &mut LambdaRequest) {
    let (headers, domain, path, query) = match payload {
        LambdaRequest::ApiGatewayV1(e) => (
            &mut e.headers,
            Some(&mut e.request_context.domain_name),
            &mut e.path,
            None,
        ),
        LambdaRequest::ApiGatewayV2(e) => (
            &mut e.headers,
            Some(&mut e.request_context.domain_name),
            &mut e.raw_path,
            Some(&mut e.raw_query_string),
        ),
        LambdaRequest::Alb(e) => (&mut e.headers, None, &mut e.path, None),
        _ => return,
    };
    let host_ok = |v: &HeaderValue| v.to_str().is_ok_and(is_plain_host);
    if headers.get(http::header::HOST).is_some_and(|v| !host_ok(v)) {
        headers.remove(http::header::HOST);
    }
    let proto_ok = |v: &HeaderValue| {
        v.as_bytes().eq_ignore_ascii_case(b"http") || v.as_bytes().eq_ignore_ascii_case(b"https")
    };
    if headers
        .get("x-forwarded-proto")
        .is_some_and(|v| !proto_ok(v))
    {
        headers.remove("x-forwarded-proto");
    }
    if let Some(domain) = domain
        && domain.as_deref().is_some_and(|d| !is_plain_host(d))
    {
        *domain = None;
    }
    if let Some(p) = path.as_mut() {
        let mut safe = percent_encode_unsafe(p, b"/!$&'()*+,;=:@");
        if !safe.starts_with('/') {
            safe.insert(0, '/');
        }
        *p = safe;
    }
    if let Some(Some(q)) = query {
        *q = percent_encode_unsafe(q, b"/?!$&'()*+,;=:@");
    }
}

/// A host the URL parser always takes: DNS letters, digits, `-` and `.` (no IDNA label, no
/// IPv6 literal, a numeric last label only in a dotted quad), with an optional port.
fn is_plain_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok()
    });
    let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
    let chars_ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let no_idna = labels
        .iter()
        .all(|l| !l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--")));
    let last_numeric = labels.last().is_some_and(|l| {
        l.bytes().all(|b| b.is_ascii_digit())
            || l.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))
    });
    let quad = labels.len() == 4
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 3
                && l.bytes().all(|b| b.is_ascii_digit())
                && (l.len() == 1 || !l.starts_with('0'))
                && l.parse::<u8>().is_ok()
        });
    port_ok && chars_ok && no_idna && (!last_numeric || quad)
}

/// `s` with every byte outside the unreserved characters, `keep` and valid `%XX` escapes
/// percent-encoded.
fn percent_encode_unsafe(s: &str, keep: &[u8]) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        let escape = c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) || keep.contains(&c) || escape {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_whose_uri_lambda_http_cannot_parse_are_made_safe() {
        // Found by the lambda_event fuzz target: lambda_http unwraps its URI parse, so these
        // events panicked in the conversion (no answer, no record).
        for (host, path, query) in [
            ("a b", "/predict", ""),
            ("[::1", "/predict", ""),
            ("example.com:99999", "/predict", ""),
            ("1.2.3.999", "/predict", ""),
            ("xn--a", "/predict", ""),
            ("example.com", "\u{e9}predict", ""),
            ("example.com", "/predict", "a=b c|{}"),
        ] {
            let event = serde_json::json!({
                "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
                "headers": {"host": host, "x-forwarded-proto": "a b"},
                "requestContext": {"accountId": "1", "apiId": "a", "domainName": host,
                    "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                        "sourceIp": "1.2.3.4", "userAgent": "x"},
                    "requestId": "r", "routeKey": "$default", "stage": "$default",
                    "time": "t", "timeEpoch": 0},
                "isBase64Encoded": false
            });
            let mut payload: LambdaRequest = serde_json::from_value(event).unwrap();
            make_uri_safe(&mut payload);
            let req = lambda_http::Request::from(payload);
            assert!(
                req.uri().path().ends_with("predict"),
                "{host} {path}: {}",
                req.uri()
            );
        }
        for host in [
            "example.com",
            "api.example.com:443",
            "10.0.0.1",
            "localhost:8080",
        ] {
            assert!(is_plain_host(host), "{host}");
        }
        assert_eq!(
            percent_encode_unsafe("/a b/%41%zz", b"/"),
            "/a%20b/%41%25zz"
        );
    }

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

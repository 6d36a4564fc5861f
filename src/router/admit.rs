//! Stage 1, admission, shared by `/predict` and `/feedback`: the method, the headers' size and
//! the body, checked before anything else is read.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};

use super::request::{Body, MAX_BODY_BYTES, MAX_HEADER_BYTES, Response};
use super::respond::Failure;
use super::route::Route;
use super::ticket::{Reached, Ticket};
use crate::error::ErrorKind;
use crate::record::RecordSink;

/// Refuses anything but a POST with headers and a whole body within the limits; returns the body.
pub(crate) fn admit(
    route: Route,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Failure> {
    if method != Method::POST {
        return Err(Failure::new(
            ErrorKind::MethodNotAllowed,
            format!("use POST {}", route.path()),
        ));
    }
    let header_bytes = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .fold(0usize, usize::saturating_add);
    if header_bytes > MAX_HEADER_BYTES {
        return Err(Failure::headers_too_large(header_bytes));
    }
    match body {
        Body::Complete(bytes) if bytes.len() > MAX_BODY_BYTES => Err(Failure::too_large()),
        Body::Complete(bytes) => Ok(bytes),
        Body::Cut { received } => Err(Failure::new(
            ErrorKind::BadRequest,
            format!(
                "the request body ended after {received} bytes, before its declared length or final chunk arrived"
            ),
        )),
        Body::NotBase64 => Err(Failure::new(
            ErrorKind::BadRequest,
            "the event marks its body as base64 (isBase64Encoded) but it is not valid base64",
        )),
    }
}

/// Answers an admission failure, with `Allow` on a 405.
pub(crate) fn refuse<S: RecordSink>(ticket: Ticket<'_, S>, failure: Failure) -> Response {
    let method_not_allowed = failure.kind == ErrorKind::MethodNotAllowed;
    let mut resp = ticket.fail(Reached::Admission, failure);
    if method_not_allowed {
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(headers: &HeaderMap, body: Body) -> Result<Bytes, Failure> {
        admit(Route::Predict, &Method::POST, headers, body)
    }

    #[test]
    fn admission_checks_method_headers_then_body() {
        let none = HeaderMap::new();
        let small = Bytes::from_static(b"{}");
        assert_eq!(post(&none, small.clone().into()), Ok(small.clone()));
        let err = admit(Route::Feedback, &Method::GET, &none, small.clone().into()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::MethodNotAllowed);
        assert_eq!(err.message, "use POST /feedback");
        let big = Bytes::from(vec![b' '; MAX_BODY_BYTES + 1]);
        let err = post(&none, big.into()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::PayloadTooLarge);
        let err = post(&none, Body::Cut { received: 10 }).unwrap_err();
        assert_eq!(
            (err.kind, err.status.as_u16()),
            (ErrorKind::BadRequest, 400)
        );
        assert!(err.message.contains("after 10 bytes"), "{}", err.message);
        let err = post(&none, Body::NotBase64).unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
    }

    #[test]
    fn headers_over_the_limit_are_a_431_bad_request() {
        let mut headers = HeaderMap::new();
        let cookie = HeaderValue::from_str(&"c".repeat(1000)).unwrap();
        for _ in 0..64 {
            headers.append(header::COOKIE, cookie.clone());
        }
        assert!(
            post(&headers, Bytes::new().into()).is_ok(),
            "64 KB of names and values fits"
        );
        for _ in 0..2 {
            headers.append(header::COOKIE, cookie.clone());
        }
        let err = post(&headers, Bytes::new().into()).unwrap_err();
        assert_eq!(
            (err.kind, err.status.as_u16()),
            (ErrorKind::BadRequest, 431)
        );
    }
}

//! Building answers: JSON bodies, the contract's error shape, headers, clock formatting.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::json;

use super::request::{MAX_BODY_BYTES, MAX_HEADER_BYTES, Response};
use crate::error::ErrorKind;
use crate::sagemaker::InvokeError;

/// A failure with the kind and a message the client can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    /// The kind's status, except where the contract names another (431 for `bad_request`).
    pub status: StatusCode,
}

impl Failure {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            status: kind.status(),
        }
    }

    /// `431`, kind `bad_request`: the headers are larger than any front end passes on.
    pub(crate) fn headers_too_large(bytes: usize) -> Self {
        Failure {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ..Failure::new(
                ErrorKind::BadRequest,
                format!(
                    "the request's headers are {bytes} bytes; the limit is {MAX_HEADER_BYTES} (send fewer or smaller cookies)"
                ),
            )
        }
    }

    pub(crate) fn too_large() -> Self {
        Failure::new(
            ErrorKind::PayloadTooLarge,
            format!("request body is over {MAX_BODY_BYTES} bytes (the Lambda payload limit)"),
        )
    }

    /// The contract's error answer: `{"error", "message", "request_id"}` with the kind's status.
    pub(crate) fn response(&self, request_id: &str) -> Response {
        json_response(
            self.status,
            &json!({
                "error": self.kind.as_str(),
                "message": self.message,
                "request_id": request_id,
            }),
        )
    }
}

impl From<InvokeError> for Failure {
    fn from(e: InvokeError) -> Self {
        Failure::new(e.kind, e.message)
    }
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = http::Response::new(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An answer with no body.
pub(crate) fn empty(status: StatusCode) -> Response {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = status;
    resp
}

/// `405` with the `Allow` header, for routes that write no record.
pub(crate) fn method_not_allowed(request_id: &str, allow: &'static str) -> Response {
    let mut resp =
        Failure::new(ErrorKind::MethodNotAllowed, format!("use {allow}")).response(request_id);
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// Sets a header whose value came from config or input; a value that is not a valid header
/// is left out rather than failing the answer.
pub(crate) fn set(headers: &mut HeaderMap, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// A header's value as text, when it is valid visible ASCII.
pub(crate) fn header_str<K: header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Milliseconds with microsecond resolution, as records carry them.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// RFC 3339 with millisecond precision, UTC.
pub fn rfc3339(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    dt.format(&fmt).unwrap_or_default()
}

/// A fresh request ID for front doors that have none (UUID v4 layout).
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    // getrandom fails only without an OS entropy source, where nothing else could work either.
    getrandom::fill(&mut b).expect("the OS random source is available");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::assign::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn timestamps_and_ids() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_151_200_123);
        assert_eq!(rfc3339(t), "2025-11-26T10:00:00.123Z");
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4', "version 4: {id}");
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn error_answers_follow_the_contract() {
        let resp = Failure::new(ErrorKind::Timeout, "slow").response("r-1");
        assert_eq!(resp.status(), 504);
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(
            v,
            json!({"error": "timeout", "message": "slow", "request_id": "r-1"})
        );
    }
}

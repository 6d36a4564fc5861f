//! The error kinds a client can see, with their HTTP status (the contract's list).

use http::StatusCode;
use serde::Serialize;

/// One kind of failure, as named in responses and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is malformed (400).
    BadRequest,
    /// No user ID header and no usable cookie (400).
    NoUnit,
    /// No such route (404).
    NotFound,
    /// Wrong method for the route (405).
    MethodNotAllowed,
    /// Body over the 6 MB Lambda payload limit (413).
    PayloadTooLarge,
    /// A content type the config does not accept (415).
    UnsupportedMediaType,
    /// The model container failed (502).
    ModelError,
    /// SageMaker throttled the call (503).
    Throttled,
    /// The endpoint is not ready (503).
    NotReady,
    /// SageMaker is unavailable or unreachable (503).
    Unavailable,
    /// A SageMaker dependency failed (502).
    InternalDependency,
    /// The endpoint did not answer in time (504).
    Timeout,
    /// Anything else, the router's own failures included (502).
    Internal,
}

impl ErrorKind {
    /// Every kind, for exhaustive tests and documentation.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::BadRequest,
        ErrorKind::NoUnit,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::PayloadTooLarge,
        ErrorKind::UnsupportedMediaType,
        ErrorKind::ModelError,
        ErrorKind::Throttled,
        ErrorKind::NotReady,
        ErrorKind::Unavailable,
        ErrorKind::InternalDependency,
        ErrorKind::Timeout,
        ErrorKind::Internal,
    ];

    /// The name used in the `error` field of responses and records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NoUnit => "no_unit",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
            ErrorKind::ModelError => "model_error",
            ErrorKind::Throttled => "throttled",
            ErrorKind::NotReady => "not_ready",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::InternalDependency => "internal_dependency",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Internal => "internal",
        }
    }

    /// The HTTP status returned to the client for this kind.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest | ErrorKind::NoUnit => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::ModelError | ErrorKind::InternalDependency | ErrorKind::Internal => {
                StatusCode::BAD_GATEWAY
            }
            ErrorKind::Throttled | ErrorKind::NotReady | ErrorKind::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Whether the fallback arm may answer instead (failures of the endpoint, not of the input).
    pub fn allows_fallback(self) -> bool {
        matches!(
            self,
            ErrorKind::ModelError
                | ErrorKind::Throttled
                | ErrorKind::NotReady
                | ErrorKind::Unavailable
                | ErrorKind::Timeout
        )
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_name_matches_as_str() {
        for kind in ErrorKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.as_str().to_owned()));
        }
    }

    #[test]
    fn statuses_follow_the_contract() {
        let want = [
            ("bad_request", 400),
            ("no_unit", 400),
            ("not_found", 404),
            ("method_not_allowed", 405),
            ("payload_too_large", 413),
            ("unsupported_media_type", 415),
            ("model_error", 502),
            ("throttled", 503),
            ("not_ready", 503),
            ("unavailable", 503),
            ("internal_dependency", 502),
            ("timeout", 504),
            ("internal", 502),
        ];
        assert_eq!(want.len(), ErrorKind::ALL.len());
        for (kind, (name, status)) in ErrorKind::ALL.iter().zip(want) {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.status().as_u16(), status, "{name}");
        }
    }
}

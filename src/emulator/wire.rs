//! SageMaker Runtime's error responses, byte for byte what the AWS SDKs parse.
//!
//! The shapes come from botocore's service model (`data/sagemaker-runtime/2017-05-13/
//! service-2.json`, protocol `rest-json`): InvokeEndpoint lists `InternalFailure` (500),
//! `ServiceUnavailable` (503), `ValidationError` (400), `ModelError` (424),
//! `InternalDependencyException` (530) and `ModelNotReadyException` (429). Every one has a
//! `Message` member; `ModelError` adds `OriginalStatusCode` (integer), `OriginalMessage` and
//! `LogStreamArn`. Both the Rust SDK (`json_errors::parse_error_metadata`) and botocore
//! (`RestJSONParser._inject_error_code`) take the error code from the `x-amzn-ErrorType` header
//! first, cutting anything after a `:`; the message from `message` or `Message` in the body.
//! `ThrottlingException` is not in the API model: clients see it as an unmodelled error whose
//! code is `ThrottlingException` (the SDKs' retry strategies treat that code as throttling).

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

/// The account the emulator pretends to be (AWS's documentation example account).
pub const ACCOUNT_ID: &str = "123456789012";
/// The region the emulator pretends to be in.
pub const REGION: &str = "us-east-1";

/// Largest request (and container response) payload: SageMaker's 6 MB InvokeEndpoint limit.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Request header naming the variant to invoke.
pub const TARGET_VARIANT: &str = "X-Amzn-SageMaker-Target-Variant";
/// Request and response header with opaque attributes for the model.
pub const CUSTOM_ATTRIBUTES: &str = "X-Amzn-SageMaker-Custom-Attributes";
/// Request header with the caller's inference ID (for data capture).
pub const INFERENCE_ID: &str = "X-Amzn-SageMaker-Inference-Id";
/// Response header naming the variant that answered.
pub const INVOKED_VARIANT: &str = "x-Amzn-Invoked-Production-Variant";

/// An error code SageMaker Runtime answers InvokeEndpoint with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is invalid (400).
    ValidationError,
    /// The container answered with an error (424).
    ModelError,
    /// The model is not ready (429).
    ModelNotReadyException,
    /// The service failed (500).
    InternalFailure,
    /// The service is unavailable (503).
    ServiceUnavailable,
    /// A dependency failed (530).
    InternalDependencyException,
    /// Too many requests (400, as SageMaker answers throttling).
    ThrottlingException,
}

impl ErrorCode {
    /// Every code, for exhaustive tests and messages.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::ValidationError,
        ErrorCode::ModelError,
        ErrorCode::ModelNotReadyException,
        ErrorCode::InternalFailure,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InternalDependencyException,
        ErrorCode::ThrottlingException,
    ];

    /// The code as it appears in `x-amzn-ErrorType` and in models files.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "ValidationError",
            ErrorCode::ModelError => "ModelError",
            ErrorCode::ModelNotReadyException => "ModelNotReadyException",
            ErrorCode::InternalFailure => "InternalFailure",
            ErrorCode::ServiceUnavailable => "ServiceUnavailable",
            ErrorCode::InternalDependencyException => "InternalDependencyException",
            ErrorCode::ThrottlingException => "ThrottlingException",
        }
    }

    /// The code named `name`, exactly as spelled by the service.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The HTTP status the service sends with this code (`error.httpStatusCode` in the model;
    /// 400 for throttling, as AWS's JSON services send it).
    pub fn status(self) -> StatusCode {
        let code = match self {
            ErrorCode::ValidationError | ErrorCode::ThrottlingException => 400,
            ErrorCode::ModelError => 424,
            ErrorCode::ModelNotReadyException => 429,
            ErrorCode::InternalFailure => 500,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::InternalDependencyException => 530,
        };
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// A message like the service's own for a fault injected with this code.
    pub fn default_message(self, endpoint: &str, variant: &str) -> String {
        match self {
            ErrorCode::ValidationError => format!(
                "Inspect your request and try again (fault injected on endpoint {endpoint}, variant {variant})."
            ),
            ErrorCode::ModelError => "Model error (fault injected).".to_owned(),
            ErrorCode::ModelNotReadyException => format!(
                "Model for endpoint {endpoint} variant {variant} is not ready. Wait and try your request again."
            ),
            ErrorCode::InternalFailure => "An internal failure occurred.".to_owned(),
            ErrorCode::ServiceUnavailable => {
                "The service is unavailable. Try your call again.".to_owned()
            }
            ErrorCode::InternalDependencyException => {
                "Your request caused an exception with an internal dependency. Contact customer support."
                    .to_owned()
            }
            ErrorCode::ThrottlingException => "Rate exceeded".to_owned(),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `ModelError` carries besides its message: the container's own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFailure {
    /// The status the container answered; 0 when it never answered (a timeout).
    pub original_status_code: u16,
    /// The container's answer body.
    pub original_message: String,
    /// Where the container's logs would be.
    pub log_stream_arn: String,
}

/// An error answer of the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ServiceError {
    /// The error code (`x-amzn-ErrorType`).
    pub code: ErrorCode,
    /// The message.
    pub message: String,
    /// Set for `ModelError` only.
    pub model: Option<ModelFailure>,
}

impl ServiceError {
    /// An error without model details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError {
            code,
            message: message.into(),
            model: None,
        }
    }

    /// `ValidationError` with a message.
    pub fn validation(message: impl Into<String>) -> Self {
        ServiceError::new(ErrorCode::ValidationError, message)
    }

    /// The service's `ValidationError` for an endpoint this account does not have.
    pub fn no_such_endpoint(endpoint: &str) -> Self {
        ServiceError::validation(format!(
            "Endpoint {endpoint} of account {ACCOUNT_ID} not found."
        ))
    }

    /// The `ModelError` SageMaker turns a container's error status into, with the message
    /// format the service uses ("Received client error (400) from primary with message ...").
    pub fn model_error(endpoint: &str, original_status_code: u16, original_message: &str) -> Self {
        let side = if (400..500).contains(&original_status_code) {
            "client"
        } else {
            "server"
        };
        let log_group = format!("/aws/sagemaker/Endpoints/{endpoint}");
        let message = format!(
            "Received {side} error ({original_status_code}) from primary with message \"{original_message}\". \
             See https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#logEventViewer:group={log_group} \
             in account {ACCOUNT_ID} for more information."
        );
        ServiceError {
            code: ErrorCode::ModelError,
            message: truncate(&message, 2048),
            model: Some(ModelFailure {
                original_status_code,
                original_message: truncate(original_message, 2048),
                log_stream_arn: format!("arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{log_group}"),
            }),
        }
    }

    /// The JSON body the service sends. Modelled errors use the model's member names
    /// (`Message`, ...); throttling, which comes from AWS's front end rather than SageMaker's
    /// model, uses the lower-case `message` that AWS's JSON front ends send.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        if self.code == ErrorCode::ThrottlingException {
            body.insert("message".into(), json!(self.message));
        } else {
            body.insert("Message".into(), json!(self.message));
        }
        if let Some(m) = &self.model {
            // `ErrorCode` is not a member of the modelled shape (clients skip it); the real
            // service sends it beside the modelled members.
            let code = if (400..500).contains(&m.original_status_code) {
                "CLIENT_ERROR_FROM_MODEL"
            } else {
                "SERVER_ERROR_FROM_MODEL"
            };
            body.insert("ErrorCode".into(), json!(code));
            body.insert("OriginalStatusCode".into(), json!(m.original_status_code));
            body.insert("OriginalMessage".into(), json!(m.original_message));
            body.insert("LogStreamArn".into(), json!(m.log_stream_arn));
        }
        Value::Object(body)
    }

    /// The whole HTTP response: status, `x-amzn-ErrorType`, `x-amzn-RequestId`, JSON body.
    pub fn to_response(&self, request_id: &str) -> http::Response<Bytes> {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut resp = http::Response::new(Bytes::from(body));
        *resp.status_mut() = self.code.status();
        let h = resp.headers_mut();
        h.insert(
            "x-amzn-ErrorType",
            HeaderValue::from_static(self.code.as_str()),
        );
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-RequestId", v);
        }
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// At most `max` bytes of `s`, cut on a character boundary (the model's `Message` is at most
/// 2048 long).
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `1 validation error detected: ...`, the service's message for a parameter that breaks its
/// constraint in the API model.
pub fn constraint_violation(value: &str, member: &str, constraint: &str) -> ServiceError {
    ServiceError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_the_api_model() {
        let expected = [
            ("ValidationError", 400),
            ("ModelError", 424),
            ("ModelNotReadyException", 429),
            ("InternalFailure", 500),
            ("ServiceUnavailable", 503),
            ("InternalDependencyException", 530),
            ("ThrottlingException", 400),
        ];
        for (name, status) in expected {
            let code = ErrorCode::from_name(name).unwrap();
            assert_eq!(code.as_str(), name);
            assert_eq!(code.status().as_u16(), status, "{name}");
        }
        assert_eq!(ErrorCode::from_name("modelerror"), None);
    }

    #[test]
    fn model_error_body_has_the_modelled_members() {
        let e = ServiceError::model_error("iris-a", 400, "bad \"input\"");
        let body = e.body();
        assert_eq!(body["OriginalStatusCode"], 400);
        assert_eq!(body["OriginalMessage"], "bad \"input\"");
        assert_eq!(
            body["LogStreamArn"],
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/iris-a"
        );
        let msg = body["Message"].as_str().unwrap();
        assert!(
            msg.starts_with("Received client error (400) from primary"),
            "{msg}"
        );
        assert!(
            ServiceError::model_error("e", 503, "x")
                .message
                .contains("server error (503)")
        );
    }

    #[test]
    fn response_carries_error_type_header_and_status() {
        let r =
            ServiceError::new(ErrorCode::InternalDependencyException, "boom").to_response("rid");
        assert_eq!(r.status().as_u16(), 530);
        assert_eq!(
            r.headers()["x-amzn-ErrorType"],
            "InternalDependencyException"
        );
        assert_eq!(r.headers()["x-amzn-RequestId"], "rid");
        let body: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body, json!({"Message": "boom"}));
        let t = ServiceError::new(ErrorCode::ThrottlingException, "Rate exceeded").body();
        assert_eq!(t, json!({"message": "Rate exceeded"}));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}

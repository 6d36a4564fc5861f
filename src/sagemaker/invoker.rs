//! The call to a SageMaker endpoint as the router sees it: a trait the handler depends on
//! (the SDK in production, fakes in tests), its request and answer, and the error kinds.

use std::future::Future;

use bytes::Bytes;

use crate::config::{Target, Timeouts};
use crate::error::ErrorKind;

/// One InvokeEndpoint call.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The endpoint's name.
    pub endpoint: &'a str,
    /// The variant, inference component, model or container to target, if any.
    pub target: Option<&'a Target>,
    /// The (pre-processed) request body.
    pub body: Bytes,
    /// Its content type.
    pub content_type: &'a str,
    /// The client's `Accept`, passed on.
    pub accept: Option<&'a str>,
    /// The request ID, so that SageMaker Data Capture joins the router's records.
    pub inference_id: &'a str,
    /// `experiment=...;arm=...`.
    pub custom_attributes: &'a str,
    /// Per-attempt and total timeouts.
    pub timeouts: Timeouts,
}

/// What the endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAnswer {
    /// The answer's bytes.
    pub body: Bytes,
    /// Its content type, when the endpoint sent one.
    pub content_type: Option<String>,
    /// The production variant that answered.
    pub invoked_variant: Option<String>,
}

/// A failed call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct InvokeError {
    /// The error kind a client sees.
    pub kind: ErrorKind,
    /// The service's error code (`ModelError`, `ThrottlingException`...), when there is one.
    pub code: Option<String>,
    /// What happened, for the client and the log.
    pub message: String,
}

/// Anything that can invoke an endpoint: the SDK in production, fakes in tests.
pub trait Invoker: Send + Sync + 'static {
    /// Invokes the endpoint once (the implementation may retry inside).
    fn invoke(
        &self,
        call: Invocation<'_>,
    ) -> impl Future<Output = Result<ModelAnswer, InvokeError>> + Send;

    /// `InvokeEndpointWithResponseStream`: `Ok` once the service accepted the call, with the
    /// payload parts to come. Dropping the stream cancels the call upstream. An invoker that
    /// cannot stream says so.
    fn invoke_stream(
        &self,
        call: Invocation<'_>,
    ) -> impl Future<Output = Result<ModelStream, InvokeError>> + Send {
        let endpoint = call.endpoint.to_owned();
        async move {
            Err(InvokeError {
                kind: ErrorKind::Internal,
                code: None,
                message: format!("this SageMaker client cannot stream from endpoint `{endpoint}`"),
            })
        }
    }
}

/// A streamed answer: what the service said up front, and the payload parts as they arrive.
/// A part that is an error ends the stream.
#[derive(Debug)]
pub struct ModelStream {
    /// The model's content type (`X-Amzn-SageMaker-Content-Type`), when sent.
    pub content_type: Option<String>,
    /// The production variant that answers.
    pub invoked_variant: Option<String>,
    /// The payload parts; closed when the stream ends.
    pub parts: tokio::sync::mpsc::Receiver<Result<Bytes, InvokeError>>,
}

/// Maps a SageMaker Runtime error code to the router's error kind.
pub fn classify_code(code: &str) -> ErrorKind {
    match code {
        "ModelError" => ErrorKind::ModelError,
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => ErrorKind::Throttled,
        "ModelNotReadyException" => ErrorKind::NotReady,
        "ServiceUnavailable" | "ServiceUnavailableException" => ErrorKind::Unavailable,
        "InternalDependencyException" => ErrorKind::InternalDependency,
        "RequestTimeout" | "RequestTimeoutException" => ErrorKind::Timeout,
        _ => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let cases = [
            ("ModelError", ErrorKind::ModelError),
            ("ThrottlingException", ErrorKind::Throttled),
            ("ModelNotReadyException", ErrorKind::NotReady),
            ("ServiceUnavailable", ErrorKind::Unavailable),
            ("InternalDependencyException", ErrorKind::InternalDependency),
            ("InternalFailure", ErrorKind::Internal),
            ("ValidationError", ErrorKind::Internal),
            ("SomethingNew", ErrorKind::Internal),
        ];
        for (code, kind) in cases {
            assert_eq!(classify_code(code), kind, "{code}");
        }
    }
}

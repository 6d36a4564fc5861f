//! InvokeEndpoint through the AWS SDK, with errors classified by their code, since throttling
//! arrives as an unmodelled error of this API.

use std::sync::RwLock;
use std::time::Duration;

use aws_sdk_sagemakerruntime as sm;
use aws_sdk_sagemakerruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerruntime::primitives::Blob;
use bytes::Bytes;

use super::invoker::{Invocation, InvokeError, Invoker, ModelAnswer, ModelStream, classify_code};
use crate::config::{Target, Timeouts};
use crate::error::ErrorKind;

/// Initial retry backoff: the single retry must fit well inside the total timeout.
pub const RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(25);
/// Connect timeout: a SageMaker endpoint that does not accept a connection in this time is down.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// InvokeEndpoint through the AWS SDK; one client per distinct timeout setting, all sharing
/// the SDK config's HTTP connection pool.
pub struct SdkInvoker {
    base: sm::Config,
    clients: RwLock<Vec<(Timeouts, sm::Client)>>,
}

impl SdkInvoker {
    /// Builds the invoker from a loaded SDK config: at most one retry (`max_attempts(2)`), which
    /// the SDK's standard strategy spends only on throttling and 5xx, never on a model error.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let retry = aws_config::retry::RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(RETRY_INITIAL_BACKOFF);
        let base = sm::config::Builder::from(sdk).retry_config(retry).build();
        SdkInvoker {
            base,
            clients: RwLock::new(Vec::new()),
        }
    }

    fn client(&self, timeouts: Timeouts) -> sm::Client {
        if let Ok(clients) = self.clients.read()
            && let Some((_, c)) = clients.iter().find(|(t, _)| *t == timeouts)
        {
            return c.clone();
        }
        let timeout_config = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeouts.attempt))
            .operation_attempt_timeout(timeouts.attempt)
            .operation_timeout(timeouts.total)
            .build();
        let client = sm::Client::from_conf(
            self.base
                .to_builder()
                .timeout_config(timeout_config)
                .build(),
        );
        if let Ok(mut clients) = self.clients.write() {
            clients.push((timeouts, client.clone()));
        }
        client
    }
}

impl Invoker for SdkInvoker {
    async fn invoke_stream(&self, call: Invocation<'_>) -> Result<ModelStream, InvokeError> {
        self.start_stream(call).await
    }

    async fn invoke(&self, call: Invocation<'_>) -> Result<ModelAnswer, InvokeError> {
        let client = self.client(call.timeouts);
        let mut req = client
            .invoke_endpoint()
            .endpoint_name(call.endpoint)
            .body(Blob::new(call.body.to_vec()))
            .content_type(call.content_type)
            .inference_id(call.inference_id)
            .custom_attributes(call.custom_attributes);
        if let Some(accept) = call.accept {
            req = req.accept(accept);
        }
        req = match call.target {
            None => req,
            Some(Target::Variant(v)) => req.target_variant(v),
            Some(Target::InferenceComponent(c)) => req.inference_component_name(c),
            Some(Target::Model(m)) => req.target_model(m),
            Some(Target::ContainerHostname(h)) => req.target_container_hostname(h),
        };
        match req.send().await {
            Ok(out) => Ok(ModelAnswer {
                body: out
                    .body
                    .map(|b| Bytes::from(b.into_inner()))
                    .unwrap_or_default(),
                content_type: out.content_type,
                invoked_variant: out.invoked_production_variant,
            }),
            Err(err) => Err(classify_sdk_error(call.endpoint, &err)),
        }
    }
}

/// Payload parts buffered between the SDK's event stream and the router: enough to keep the
/// connection busy, small enough that a slow client slows the model, not the router's memory.
const STREAM_BUFFER: usize = 8;

impl SdkInvoker {
    async fn start_stream(&self, call: Invocation<'_>) -> Result<ModelStream, InvokeError> {
        // The SDK's timeouts end when the call is accepted (the event stream is read after it):
        // they bound the wait for the answer to begin; the router bounds the parts.
        let t = call.timeouts;
        let client = self.client(Timeouts {
            attempt: t.first_byte,
            total: t.first_byte,
            ..t
        });
        let mut req = client
            .invoke_endpoint_with_response_stream()
            .endpoint_name(call.endpoint)
            .body(Blob::new(call.body.to_vec()))
            .content_type(call.content_type)
            .inference_id(call.inference_id)
            .custom_attributes(call.custom_attributes);
        if let Some(accept) = call.accept {
            req = req.accept(accept);
        }
        req = match call.target {
            None => req,
            Some(Target::Variant(v)) => req.target_variant(v),
            Some(Target::InferenceComponent(c)) => req.inference_component_name(c),
            Some(Target::ContainerHostname(h)) => req.target_container_hostname(h),
            Some(Target::Model(_)) => {
                return Err(InvokeError {
                    kind: ErrorKind::BadRequest,
                    code: None,
                    message: format!(
                        "endpoint `{}`: InvokeEndpointWithResponseStream has no TargetModel",
                        call.endpoint
                    ),
                });
            }
        };
        let out = req
            .send()
            .await
            .map_err(|err| classify_sdk_error(call.endpoint, &err))?;
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        let endpoint = call.endpoint.to_owned();
        let mut events = out.body;
        tokio::spawn(async move {
            loop {
                let next = events.recv().await;
                let item = match next {
                    Ok(Some(sm::types::ResponseStream::PayloadPart(part))) => match part.bytes {
                        Some(b) => Ok(Bytes::from(b.into_inner())),
                        None => continue,
                    },
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(err) => Err(classify_stream_error(&endpoint, &err)),
                };
                let failed = item.is_err();
                // The receiver is gone when the client left: dropping `events` here cancels the
                // call upstream.
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(ModelStream {
            content_type: out.content_type,
            invoked_variant: out.invoked_production_variant,
            parts: rx,
        })
    }
}

/// An error inside an event stream, after the call was accepted.
fn classify_stream_error<R: std::fmt::Debug>(
    endpoint: &str,
    err: &SdkError<sm::types::error::ResponseStreamError, R>,
) -> InvokeError {
    use sm::types::error::ResponseStreamError as E;
    match err {
        SdkError::ServiceError(s) => match s.err() {
            E::ModelStreamError(e) => InvokeError {
                kind: ErrorKind::ModelError,
                code: Some("ModelStreamError".into()),
                message: format!(
                    "endpoint `{endpoint}`: the model's stream failed ({}): {}",
                    e.error_code().unwrap_or("no code"),
                    e.message().unwrap_or("no message")
                ),
            },
            E::InternalStreamFailure(e) => InvokeError {
                kind: ErrorKind::Internal,
                code: Some("InternalStreamFailure".into()),
                message: format!(
                    "endpoint `{endpoint}`: SageMaker's stream failed: {}",
                    e.message().unwrap_or("no message")
                ),
            },
            other => InvokeError {
                kind: ErrorKind::Internal,
                code: other.code().map(str::to_owned),
                message: format!("endpoint `{endpoint}`: the stream failed: {other}"),
            },
        },
        other => InvokeError {
            kind: ErrorKind::Internal,
            code: None,
            message: format!("endpoint `{endpoint}`: the stream broke: {other}"),
        },
    }
}

fn classify_sdk_error<E, R>(endpoint: &str, err: &SdkError<E, R>) -> InvokeError
where
    E: ProvideErrorMetadata + std::error::Error,
    R: std::fmt::Debug,
{
    match err {
        SdkError::TimeoutError(_) => InvokeError {
            kind: ErrorKind::Timeout,
            code: None,
            message: format!("endpoint `{endpoint}` did not answer in time"),
        },
        SdkError::DispatchFailure(d) => InvokeError {
            kind: if d.is_timeout() {
                ErrorKind::Timeout
            } else {
                ErrorKind::Unavailable
            },
            code: None,
            message: format!("cannot reach SageMaker for endpoint `{endpoint}`"),
        },
        SdkError::ServiceError(s) => {
            let e = s.err();
            let code = e.code().map(str::to_owned);
            InvokeError {
                kind: code.as_deref().map_or(ErrorKind::Internal, classify_code),
                message: format!(
                    "endpoint `{endpoint}` failed with {}: {}",
                    code.as_deref().unwrap_or("an unknown error"),
                    e.message().unwrap_or("no message")
                ),
                code,
            }
        }
        other => InvokeError {
            kind: ErrorKind::Internal,
            code: None,
            message: format!("calling endpoint `{endpoint}` failed: {other}"),
        },
    }
}

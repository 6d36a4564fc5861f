//! InvokeEndpoint through the AWS SDK, with errors classified by their code, since throttling
//! arrives as an unmodelled error of this API.

use std::sync::RwLock;
use std::time::Duration;

use aws_sdk_sagemakerruntime as sm;
use aws_sdk_sagemakerruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerruntime::primitives::Blob;
use bytes::Bytes;

use super::invoker::{Invocation, InvokeError, Invoker, ModelAnswer, classify_code};
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

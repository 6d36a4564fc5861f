//! The `container` model: forwards an invocation to a server implementing SageMaker's
//! inference-container contract (`POST /invocations`, `GET /ping`), and turns its answers into
//! what SageMaker Runtime would say.
//!
//! - 2xx: the body, content type and `X-Amzn-SageMaker-Custom-Attributes` the container sent.
//! - Any other status: `ModelError` (424) with `OriginalStatusCode` and the container's body as
//!   `OriginalMessage`, as SageMaker reports a container's 4xx and 5xx.
//! - No answer within the timeout (SageMaker allows 60 s): `ModelError` with
//!   `OriginalStatusCode` 0 and the service's "Your invocation timed out..." message.
//! - Connection refused (nothing listening): `ServiceUnavailable` (503). SageMaker only routes
//!   to instances whose container passes `/ping`; a variant whose container cannot be reached
//!   has no healthy instance, and the front end answers that the service is unavailable, a
//!   transient fault that SDKs retry. (`ModelNotReadyException` is documented for serverless
//!   capacity still being provisioned and multi-model endpoints still loading a model, which is
//!   not this case.)
//! - The connection breaking after it was made: `ModelError` with `OriginalStatusCode` 0.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::wire::{CUSTOM_ATTRIBUTES, ErrorCode, MAX_PAYLOAD_BYTES, ServiceError};

/// A pooled HTTP/1.1 client for containers.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A new client (keep-alive pool, `TCP_NODELAY`).
pub fn client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(2)));
    Client::builder(TokioExecutor::new()).build(connector)
}

/// One container behind a variant.
#[derive(Debug, Clone)]
pub struct Container {
    /// Base URL without a trailing `/`.
    pub base: String,
    pub timeout: Duration,
}

/// A container's streamed answer: its body still arriving.
pub struct Streamed {
    pub body: Incoming,
    pub content_type: Option<String>,
    pub custom_attributes: Option<String>,
}

fn header_text(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn timed_out(endpoint: &str) -> ServiceError {
    ServiceError::model_error(
        endpoint,
        0,
        "Your invocation timed out while waiting for a response from container primary. \
         Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again.",
    )
}

/// What the container answered.
pub struct Answer {
    pub body: Bytes,
    pub content_type: Option<String>,
    pub custom_attributes: Option<String>,
}

impl Container {
    /// POSTs the invocation to `{base}/invocations`.
    pub async fn invoke(
        &self,
        client: &HttpClient,
        endpoint: &str,
        body: Bytes,
        content_type: Option<&str>,
        accept: Option<&str>,
        custom_attributes: Option<&str>,
    ) -> Result<Answer, ServiceError> {
        let call = async {
            let (parts, body) = self
                .head(
                    client,
                    endpoint,
                    body,
                    content_type,
                    accept,
                    custom_attributes,
                )
                .await?;
            let bytes = Limited::new(body, MAX_PAYLOAD_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    ServiceError::model_error(
                        endpoint,
                        parts.status.as_u16(),
                        &format!("could not load the entire response body: {e}"),
                    )
                })?
                .to_bytes();
            Ok::<_, ServiceError>((parts, bytes))
        };
        let (parts, bytes) = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r?,
            Err(_) => return Err(timed_out(endpoint)),
        };
        if !parts.status.is_success() {
            return Err(ServiceError::model_error(
                endpoint,
                parts.status.as_u16(),
                &String::from_utf8_lossy(&bytes),
            ));
        }
        Ok(Answer {
            body: bytes,
            content_type: header_text(&parts.headers, header::CONTENT_TYPE.as_str()),
            custom_attributes: header_text(&parts.headers, CUSTOM_ATTRIBUTES),
        })
    }

    /// The same POST for InvokeEndpointWithResponseStream: once the container's head is in (a
    /// 2xx within the timeout), its body as it comes, chunk by chunk, as SageMaker passes a
    /// streaming container's answer on.
    pub async fn invoke_stream(
        &self,
        client: &HttpClient,
        endpoint: &str,
        body: Bytes,
        content_type: Option<&str>,
        accept: Option<&str>,
        custom_attributes: Option<&str>,
    ) -> Result<Streamed, ServiceError> {
        let head = self.head(
            client,
            endpoint,
            body,
            content_type,
            accept,
            custom_attributes,
        );
        let (parts, body) = match tokio::time::timeout(self.timeout, head).await {
            Ok(r) => r?,
            Err(_) => return Err(timed_out(endpoint)),
        };
        if !parts.status.is_success() {
            let text = Limited::new(body, MAX_PAYLOAD_BYTES)
                .collect()
                .await
                .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                .unwrap_or_default();
            return Err(ServiceError::model_error(
                endpoint,
                parts.status.as_u16(),
                &text,
            ));
        }
        Ok(Streamed {
            body,
            content_type: header_text(&parts.headers, header::CONTENT_TYPE.as_str()),
            custom_attributes: header_text(&parts.headers, CUSTOM_ATTRIBUTES),
        })
    }

    /// Sends the invocation and waits for the container's response head.
    async fn head(
        &self,
        client: &HttpClient,
        endpoint: &str,
        body: Bytes,
        content_type: Option<&str>,
        accept: Option<&str>,
        custom_attributes: Option<&str>,
    ) -> Result<(http::response::Parts, Incoming), ServiceError> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = format!("{}/invocations", self.base).parse().map_err(|e| {
            ServiceError::new(
                ErrorCode::InternalFailure,
                format!("bad container URL: {e}"),
            )
        })?;
        let h = req.headers_mut();
        for (name, value) in [
            (header::CONTENT_TYPE.as_str(), content_type),
            (header::ACCEPT.as_str(), accept),
            (CUSTOM_ATTRIBUTES, custom_attributes),
        ] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(name, v);
            }
        }
        let resp = client.request(req).await.map_err(|e| {
            if e.is_connect() {
                ServiceError::new(
                    ErrorCode::ServiceUnavailable,
                    format!(
                        "The container of endpoint {endpoint} at {} cannot be reached.",
                        self.base
                    ),
                )
            } else {
                ServiceError::model_error(
                    endpoint,
                    0,
                    &format!("connection to the container failed: {e}"),
                )
            }
        })?;
        Ok(resp.into_parts())
    }

    /// `GET {base}/ping`: true when the container answers 200 within `timeout`.
    pub async fn ping(&self, client: &HttpClient, timeout: Duration) -> bool {
        let Ok(uri) = format!("{}/ping", self.base).parse::<http::Uri>() else {
            return false;
        };
        let mut req = Request::new(Full::new(Bytes::new()));
        *req.uri_mut() = uri;
        matches!(
            tokio::time::timeout(timeout, client.request(req)).await,
            Ok(Ok(resp)) if resp.status() == http::StatusCode::OK
        )
    }
}

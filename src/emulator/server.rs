//! The emulator's HTTP side: SageMaker Runtime's REST routes over hyper's HTTP/1.1 server, and
//! the `emulate` subcommand.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;
use std::sync::atomic::AtomicU64;

use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::appconfig::{self, AppConfigStore};
use super::engine::{Emulator, Invocation};
use super::eventstream;
use super::models::{ModelSpec, ModelsError, demo_models, load_models};
use super::wire::{
    CUSTOM_ATTRIBUTES, INFERENCE_ID, INVOKED_VARIANT, MAX_PAYLOAD_BYTES, ServiceError,
    TARGET_VARIANT,
};
use crate::front::server::{self, Limits, ServeBody};
use crate::router::{Body, StreamBody};

/// Why `emulate` stopped.
#[derive(Debug, thiserror::Error)]
pub enum EmulateError {
    /// The models file cannot be read or is invalid.
    #[error("models file {source_name}: {error}")]
    Models {
        /// The file, or "the bundled demo models".
        source_name: String,
        /// What is wrong with it.
        error: ModelsError,
    },
    /// A port in use, or the server failed.
    #[error("emulate: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl EmulateError {
    /// The contract's exit status: 2 for an invalid models file, 3 for I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            EmulateError::Models {
                error: ModelsError::Invalid(_),
                ..
            } => 2,
            EmulateError::Models { .. } | EmulateError::Io { .. } => 3,
        }
    }
}

/// Serves the emulator on `listener` until `shutdown` completes. Connections in flight are left
/// to finish (a hanging fault never does; its connection ends with the process).
pub async fn run(
    emulator: Arc<Emulator>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limits = Limits {
        // A hanging fault never finishes: stopping does not wait long for it.
        drain_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    server::run(
        "emulator",
        listener,
        shutdown,
        limits,
        TaskTracker::new(),
        move |req: http::Request<Incoming>| {
            let emulator = Arc::clone(&emulator);
            async move {
                let (parts, body) = req.into_parts();
                let declared = server::declared_length(&parts.headers);
                let received = AtomicU64::new(0);
                let body = server::read_body(
                    body,
                    declared,
                    MAX_PAYLOAD_BYTES,
                    limits.header_timeout,
                    &received,
                )
                .await;
                let Body::Complete(body) = body else {
                    let e = ServiceError::validation(
                        "The request body ended before its declared length (Content-Length or the final chunk).",
                    );
                    return e.to_response(&emulator.new_request_id()).map(ServeBody::from);
                };
                if parts.method == Method::POST
                    && let Some(name) = stream_route(parts.uri.path())
                {
                    return emulator.handle_stream(name, &parts.headers, body).await;
                }
                emulator
                    .handle(parts.method, parts.uri.path(), &parts.headers, body)
                    .await
                    .map(ServeBody::from)
            }
        },
    )
    .await
}

impl Emulator {
    /// Answers one HTTP request: `POST /endpoints/{name}/invocations`, `GET /ping`,
    /// `GET /endpoints`; anything else gets the `UnknownOperationException` AWS's REST
    /// front ends answer.
    pub async fn handle(
        &self,
        method: Method,
        path: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> http::Response<Bytes> {
        let request_id = self.new_request_id();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (&method, segments.as_slice()) {
            (&Method::POST, ["endpoints", name, "invocations"]) => {
                let inv = match invocation(name, headers, body) {
                    Ok(inv) => inv,
                    Err(e) => return e.to_response(&request_id),
                };
                match self.invoke(&inv).await {
                    Ok(out) => {
                        let mut resp = http::Response::new(out.body);
                        let h = resp.headers_mut();
                        h.insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_str(&out.content_type)
                                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                        );
                        answer_headers(
                            h,
                            &out.invoked_variant,
                            out.custom_attributes.as_deref(),
                            &request_id,
                        );
                        resp
                    }
                    Err(e) => {
                        tracing::debug!(endpoint = %inv.endpoint, error = %e, "emulator: error answer");
                        e.to_response(&request_id)
                    }
                }
            }
            (
                &Method::GET,
                [
                    "applications",
                    app,
                    "environments",
                    env,
                    "configurations",
                    profile,
                ],
            ) if self.appconfig().is_some() => match self.appconfig() {
                Some(store) => store.answer(app, env, profile),
                None => appconfig::bad_request(),
            },
            (_, ["applications", ..]) if self.appconfig().is_some() => appconfig::bad_request(),
            // The emulator's own: lets one held `tokens` stream of the endpoint go on.
            (&Method::POST, ["emulator", "gates", name]) => {
                self.open_gate(&percent_decode(name));
                let mut resp = http::Response::new(Bytes::new());
                *resp.status_mut() = StatusCode::NO_CONTENT;
                resp
            }
            (&Method::GET, ["ping"]) => {
                let mut resp = http::Response::new(Bytes::new());
                insert_request_id(resp.headers_mut(), &request_id);
                resp
            }
            (&Method::GET, ["endpoints"]) => {
                let body = serde_json::to_vec_pretty(&self.describe()).unwrap_or_default();
                let mut resp = http::Response::new(Bytes::from(body));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                resp
            }
            _ => {
                let body = json!({"message": format!("No operation for {method} {path}")});
                let mut resp = http::Response::new(Bytes::from(body.to_string()));
                *resp.status_mut() = StatusCode::NOT_FOUND;
                let h = resp.headers_mut();
                h.insert(
                    "x-amzn-ErrorType",
                    HeaderValue::from_static("UnknownOperationException"),
                );
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                insert_request_id(h, &request_id);
                resp
            }
        }
    }
}

/// The endpoint of `POST /endpoints/{name}/invocations-response-stream`.
fn stream_route(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/endpoints/")?;
    let (name, op) = rest.split_once('/')?;
    (op == "invocations-response-stream").then_some(name)
}

impl Emulator {
    /// InvokeEndpointWithResponseStream: an error before the stream is an ordinary error
    /// answer; after the headers, frames go out as the model produces them.
    async fn handle_stream(
        &self,
        name: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> http::Response<ServeBody> {
        let request_id = self.new_request_id();
        let mut inv = match invocation(name, headers, body) {
            Ok(inv) => inv,
            Err(e) => return e.to_response(&request_id).map(ServeBody::from),
        };
        // The streaming operation carries Accept in its own header.
        if let Some(a) = headers.get(STREAM_ACCEPT).and_then(|v| v.to_str().ok()) {
            inv.accept = Some(a.to_owned());
        }
        match self.invoke_stream(&inv).await {
            Ok(start) => {
                let mut resp =
                    http::Response::new(ServeBody::Stream(StreamBody::from(start.frames)));
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(eventstream::CONTENT_TYPE),
                );
                if let Ok(v) = HeaderValue::from_str(&start.content_type) {
                    h.insert(STREAM_CONTENT_TYPE, v);
                }
                answer_headers(
                    h,
                    &start.invoked_variant,
                    start.custom_attributes.as_deref(),
                    &request_id,
                );
                resp
            }
            Err(e) => {
                tracing::debug!(endpoint = %inv.endpoint, error = %e, "emulator: stream error answer");
                e.to_response(&request_id).map(ServeBody::from)
            }
        }
    }
}

/// `Accept` of InvokeEndpointWithResponseStream.
const STREAM_ACCEPT: &str = "x-amzn-sagemaker-accept";
/// The answer's content type in a response stream.
const STREAM_CONTENT_TYPE: &str = "x-amzn-sagemaker-content-type";

/// The headers both invoke operations answer with: the variant, the model's custom
/// attributes, the request ID.
fn answer_headers(
    h: &mut HeaderMap,
    invoked_variant: &str,
    custom_attributes: Option<&str>,
    request_id: &str,
) {
    if let Ok(v) = HeaderValue::from_str(invoked_variant) {
        h.insert(INVOKED_VARIANT, v);
    }
    if let Some(v) = custom_attributes.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(CUSTOM_ATTRIBUTES, v);
    }
    insert_request_id(h, request_id);
}

fn insert_request_id(h: &mut HeaderMap, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-amzn-RequestId", v);
    }
}

/// The InvokeEndpoint parameters carried by the path and headers.
fn invocation(name: &str, headers: &HeaderMap, body: Bytes) -> Result<Invocation, ServiceError> {
    let text = |name: &str, member: &str| -> Result<Option<String>, ServiceError> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => match v.to_str() {
                Ok(s) => Ok(Some(s.to_owned())),
                Err(_) => Err(super::wire::constraint_violation(
                    &String::from_utf8_lossy(v.as_bytes()),
                    member,
                    "Member must consist of visible US-ASCII characters",
                )),
            },
        }
    };
    Ok(Invocation {
        endpoint: percent_decode(name),
        body,
        content_type: text(header::CONTENT_TYPE.as_str(), "contentType")?,
        accept: text(header::ACCEPT.as_str(), "accept")?,
        target_variant: text(TARGET_VARIANT, "targetVariant")?,
        custom_attributes: text(CUSTOM_ATTRIBUTES, "customAttributes")?,
        inference_id: text(INFERENCE_ID, "inferenceId")?,
        inference_component: text(
            "x-amzn-sagemaker-inference-component",
            "inferenceComponentName",
        )?,
        target_model: text("x-amzn-sagemaker-target-model", "targetModel")?,
        target_container_hostname: text(
            "x-amzn-sagemaker-target-container-hostname",
            "targetContainerHostname",
        )?,
    })
}

/// `%XX` decoding of a path segment (the SDKs percent-encode URI labels); invalid escapes and
/// non-UTF-8 results are kept as written, to be refused by the name check.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// The `emulate` subcommand: serves `models` (or the bundled demo models) on `listen` until
/// ctrl-c or SIGTERM. Exit codes per the contract: 2 for a models file that is invalid (the
/// message names the key), 3 for an unreadable file or a port in use.
pub async fn cli_main(
    listen: SocketAddr,
    models: Option<PathBuf>,
    appconfig: Option<PathBuf>,
) -> Result<(), EmulateError> {
    let (file, source) = match &models {
        Some(path) => {
            let name = path.display().to_string();
            let file = load_models(path).map_err(|error| EmulateError::Models {
                source_name: name.clone(),
                error,
            })?;
            (file, name)
        }
        None => (demo_models(), "the bundled demo models".to_owned()),
    };
    let emulator = Emulator::new(file).map_err(|error| EmulateError::Models {
        source_name: source.clone(),
        error,
    })?;
    let emulator = match appconfig {
        Some(dir) => emulator.with_appconfig(AppConfigStore::new(dir)),
        None => emulator,
    };
    let emulator = Arc::new(emulator);
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        let context = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!("{listen} is already in use (pick another with --listen)")
        } else {
            format!("cannot listen on {listen}")
        };
        EmulateError::Io { context, source: e }
    })?;
    let addr = listener.local_addr().unwrap_or(listen);
    let url = format!("http://{addr}");
    eprintln!("canary-router emulate: SageMaker Runtime emulator on {url} serving {source}");
    for (name, spec) in &emulator.models().endpoints {
        let variants: Vec<String> = spec
            .variants
            .iter()
            .map(|v| {
                let model = match &v.model {
                    ModelSpec::IrisLogreg {
                        learning_rate,
                        epochs,
                    } => format!(
                        "iris-logreg lr={learning_rate} epochs={epochs} accuracy={:.3}",
                        emulator.accuracy(name, &v.name).unwrap_or(0.0)
                    ),
                    ModelSpec::Echo => "echo".to_owned(),
                    ModelSpec::Tokens(t) => format!("tokens {:?} x{}", t.format, t.tokens),
                    ModelSpec::Container { url, .. } => format!("container {url}"),
                };
                let faults = if v.faults.is_none() {
                    ""
                } else {
                    ", with faults"
                };
                format!("{} (weight {}, {model}{faults})", v.name, v.weight)
            })
            .collect();
        eprintln!("  {name}: {}", variants.join("; "));
    }
    for (endpoint, variant, base) in emulator.unhealthy_containers(Duration::from_secs(2)).await {
        eprintln!(
            "canary-router emulate: warning: {endpoint}/{variant}: container {base} does not answer GET /ping yet"
        );
    }
    eprintln!("  use it: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={url}");
    if let Some(store) = emulator.appconfig() {
        eprintln!(
            "  AppConfig stand-in: documents from {} (APP/ENV/PROFILE.json); use it: AWS_APPCONFIG_EXTENSION_HTTP_PORT={} CANARY_APPCONFIG=APP/ENV/PROFILE",
            store.dir().display(),
            addr.port()
        );
    }
    eprintln!(
        "  try:    curl -s {url}/endpoints/iris-a/invocations -H 'Content-Type: application/json' -d '{{\"features\": [5.1, 3.5, 1.4, 0.2]}}'"
    );
    run(emulator, listener, shutdown_signal())
        .await
        .map_err(|source| EmulateError::Io {
            context: "serving failed".into(),
            source,
        })?;
    eprintln!("canary-router emulate: stopped");
    Ok(())
}

/// Completes on ctrl-c or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::demo_models;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[tokio::test]
    async fn invoke_route_sets_the_response_headers() {
        let e = Emulator::new(demo_models()).unwrap();
        let h = headers(&[
            ("content-type", "application/json"),
            ("x-amzn-sagemaker-target-variant", "VariantA"),
            ("x-amzn-sagemaker-custom-attributes", "c=1"),
            ("x-amzn-sagemaker-inference-id", "req-1"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=00",
            ),
            ("x-amz-date", "20261126T100000Z"),
        ]);
        let r = e
            .handle(
                Method::POST,
                "/endpoints/iris-ab/invocations",
                &h,
                Bytes::from_static(br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-amzn-invoked-production-variant"], "VariantA");
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["x-amzn-sagemaker-custom-attributes"], "c=1");
        assert!(r.headers().contains_key("x-amzn-requestid"));
    }

    #[tokio::test]
    async fn error_route_and_unknown_routes() {
        let e = Emulator::new(demo_models()).unwrap();
        let r = e
            .handle(
                Method::POST,
                "/endpoints/missing/invocations",
                &HeaderMap::new(),
                Bytes::new(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["x-amzn-errortype"], "ValidationError");
        let r = e
            .handle(
                Method::GET,
                "/endpoints/echo/invocations",
                &HeaderMap::new(),
                Bytes::new(),
            )
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = e
            .handle(Method::GET, "/ping", &HeaderMap::new(), Bytes::new())
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = e
            .handle(Method::GET, "/endpoints", &HeaderMap::new(), Bytes::new())
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let big = Bytes::from(vec![b'x'; MAX_PAYLOAD_BYTES + 1]);
        let r = e
            .handle(
                Method::POST,
                "/endpoints/echo/invocations",
                &HeaderMap::new(),
                big,
            )
            .await;
        assert_eq!(r.headers()["x-amzn-errortype"], "ValidationError");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("iris-a"), "iris-a");
        assert_eq!(percent_decode("a%2Db"), "a-b");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%FF"), "%FF");
        assert_eq!(percent_decode("%中x"), "%中x");
    }
}

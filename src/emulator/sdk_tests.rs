//! The emulator through clients nobody here wrote: the AWS SDK for Rust (signing, endpoint
//! override, error classification) and, when the project's venv has it, boto3 via
//! `tests/boto3_emulator.py`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sagemakerruntime as sm;
use aws_sdk_sagemakerruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::primitives::Blob;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Emulator, ModelsFile, demo_models, parse_models, run};

const ERROR_MODELS: &str = include_str!("../../tests/fixtures/error-models.json");

/// Starts the emulator on a loopback port; it stops when the test's runtime ends.
async fn start(models: ModelsFile) -> SocketAddr {
    let emulator = Arc::new(Emulator::new(models).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(run(emulator, listener, std::future::pending()));
    addr
}

async fn sdk_client(addr: SocketAddr) -> sm::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(sm::config::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "static",
        ))
        .endpoint_url(format!("http://{addr}"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(500))
                .build(),
        )
        .load()
        .await;
    sm::Client::new(&conf)
}

async fn invoke_err(
    client: &sm::Client,
    endpoint: &str,
) -> SdkError<InvokeEndpointError, sm::config::http::HttpResponse> {
    client
        .invoke_endpoint()
        .endpoint_name(endpoint)
        .content_type("application/json")
        .body(Blob::new(br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#.to_vec()))
        .send()
        .await
        .expect_err(endpoint)
}

fn service_error(
    err: SdkError<InvokeEndpointError, sm::config::http::HttpResponse>,
) -> (InvokeEndpointError, u16) {
    match err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            (se.into_err(), status)
        }
        other => panic!("expected a service error, got {other:?}"),
    }
}

#[tokio::test]
async fn rust_sdk_success_target_variant_and_headers() {
    let addr = start(demo_models()).await;
    let client = sdk_client(addr).await;
    let out = client
        .invoke_endpoint()
        .endpoint_name("iris-ab")
        .target_variant("VariantB")
        .content_type("application/json")
        .accept("application/json")
        .custom_attributes("trace-id=abc")
        .inference_id("req-123")
        .body(Blob::new(br#"{"features": [6.7, 3.0, 5.2, 2.3]}"#.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.invoked_production_variant(), Some("VariantB"));
    assert_eq!(out.content_type(), Some("application/json"));
    assert_eq!(out.custom_attributes(), Some("trace-id=abc"));
    let v: serde_json::Value = serde_json::from_slice(out.body().unwrap().as_ref()).unwrap();
    assert_eq!(v["label"], "virginica");

    let out = client
        .invoke_endpoint()
        .endpoint_name("echo")
        .content_type("text/plain")
        .body(Blob::new(b"hello".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.body().unwrap().as_ref(), b"hello");
    assert_eq!(out.content_type(), Some("text/plain"));
    assert_eq!(out.invoked_production_variant(), Some("AllTraffic"));
}

#[tokio::test]
async fn rust_sdk_classifies_every_error_kind() {
    let addr = start(parse_models(ERROR_MODELS).unwrap()).await;
    let client = sdk_client(addr).await;

    let (e, status) = service_error(invoke_err(&client, "err-modelerror").await);
    assert_eq!(status, 424);
    match &e {
        InvokeEndpointError::ModelError(m) => {
            assert_eq!(m.original_status_code(), Some(503));
            assert_eq!(
                m.original_message(),
                Some("fault injected on variant AllTraffic")
            );
            assert_eq!(
                m.log_stream_arn(),
                Some(
                    "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/err-modelerror"
                )
            );
            assert!(
                m.message()
                    .unwrap()
                    .starts_with("Received server error (503) from primary")
            );
        }
        other => panic!("ModelError expected, got {other:?}"),
    }

    let (e, status) = service_error(invoke_err(&client, "err-validation").await);
    assert_eq!(status, 400);
    assert!(
        matches!(e, InvokeEndpointError::ValidationError(_)),
        "{e:?}"
    );

    let (e, status) = service_error(invoke_err(&client, "no-such-endpoint").await);
    assert_eq!(status, 400);
    match &e {
        InvokeEndpointError::ValidationError(v) => assert_eq!(
            v.message(),
            Some("Endpoint no-such-endpoint of account 123456789012 not found.")
        ),
        other => panic!("ValidationError expected, got {other:?}"),
    }

    let (e, status) = service_error(invoke_err(&client, "err-notready").await);
    assert_eq!(status, 429);
    assert!(
        matches!(e, InvokeEndpointError::ModelNotReadyException(_)),
        "{e:?}"
    );

    let (e, status) = service_error(invoke_err(&client, "err-internal").await);
    assert_eq!(status, 500);
    assert!(
        matches!(e, InvokeEndpointError::InternalFailure(_)),
        "{e:?}"
    );

    let (e, status) = service_error(invoke_err(&client, "err-unavailable").await);
    assert_eq!(status, 503);
    assert!(
        matches!(e, InvokeEndpointError::ServiceUnavailable(_)),
        "{e:?}"
    );

    let (e, status) = service_error(invoke_err(&client, "err-dependency").await);
    assert_eq!(status, 530);
    assert!(
        matches!(e, InvokeEndpointError::InternalDependencyException(_)),
        "{e:?}"
    );

    let (e, status) = service_error(invoke_err(&client, "err-throttling").await);
    assert_eq!(status, 400);
    assert!(e.meta().code() == Some("ThrottlingException"), "{e:?}");
    // Not one of the modelled errors: the SDK's "unhandled" error, known by its code.
    assert!(
        !(e.is_model_error()
            || e.is_validation_error()
            || e.is_model_not_ready_exception()
            || e.is_internal_failure()
            || e.is_service_unavailable()
            || e.is_internal_dependency_exception()),
        "{e:?}"
    );
    assert_eq!(e.message(), Some("Rate exceeded"));
    assert_eq!(
        crate::sagemaker::classify_code(e.code().unwrap()),
        crate::error::ErrorKind::Throttled
    );

    // Every request got the service's request-ID header, which the SDK exposes.
    use aws_sdk_sagemakerruntime::operation::RequestId;
    assert!(e.request_id().is_some_and(|id| id.len() == 36));

    // A hang: the SDK's operation timeout fires, and the emulator keeps serving.
    let err = invoke_err(&client, "hang").await;
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    let ok = client
        .invoke_endpoint()
        .endpoint_name("echo")
        .body(Blob::new(b"x".to_vec()))
        .send()
        .await;
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn rust_sdk_container_model_and_its_errors() {
    // A tiny inference container: /ping, and /invocations that answers 400 for "bad".
    let container = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let caddr = container.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = container.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut n = 0;
                loop {
                    let Ok(k) = s.read(&mut buf[n..]).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    n += k;
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if n < end + 4 + len {
                            continue;
                        }
                        let body = &text[end + 4..end + 4 + len];
                        let attrs = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("x-amzn-sagemaker-custom-attributes:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .unwrap_or_default();
                        let (status, out) = if body == "bad" {
                            ("400 Bad Request", "no good".to_owned())
                        } else {
                            ("200 OK", format!("got {body} attrs={attrs}"))
                        };
                        let resp = format!(
                            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\nx-amzn-sagemaker-custom-attributes: from-container\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{out}",
                            out.len()
                        );
                        let _ = s.write_all(resp.as_bytes()).await;
                        return;
                    }
                }
            });
        }
    });
    // A port nobody listens on: bind, note the port, close.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let models = parse_models(&format!(
        r#"{{"endpoints": {{
            "mine": {{"variants": [{{"name": "AllTraffic", "model": {{"type": "container", "url": "http://{caddr}"}}}}]}},
            "gone": {{"variants": [{{"name": "AllTraffic", "model": {{"type": "container", "url": "http://{dead}"}}}}]}}
        }}}}"#
    ))
    .unwrap();
    let addr = start(models).await;
    let client = sdk_client(addr).await;
    let out = client
        .invoke_endpoint()
        .endpoint_name("mine")
        .content_type("text/plain")
        .custom_attributes("a=1")
        .body(Blob::new(b"hi".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.body().unwrap().as_ref(), b"got hi attrs=a=1");
    assert_eq!(out.custom_attributes(), Some("from-container"));
    assert_eq!(out.content_type(), Some("text/plain"));

    let err = client
        .invoke_endpoint()
        .endpoint_name("mine")
        .content_type("text/plain")
        .body(Blob::new(b"bad".to_vec()))
        .send()
        .await
        .unwrap_err();
    let (e, _) = service_error(err);
    match e {
        InvokeEndpointError::ModelError(m) => {
            assert_eq!(m.original_status_code(), Some(400));
            assert_eq!(m.original_message(), Some("no good"));
        }
        other => panic!("ModelError expected, got {other:?}"),
    }
    let (e, status) = service_error(invoke_err(&client, "gone").await);
    assert_eq!(status, 503);
    assert!(
        matches!(e, InvokeEndpointError::ServiceUnavailable(_)),
        "{e:?}"
    );
}

/// boto3's `sagemaker-runtime` client against the error fixture, when the project's Python
/// venv has boto3 (`.venv`, created by the repo's Python setup); skipped, loudly, otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_client_against_the_emulator() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv/bin/python");
    let has_boto3 = std::process::Command::new(&python)
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_boto3 {
        // scripts/test.sh always installs it; only a bare `cargo test` elsewhere may lack it.
        assert!(
            std::env::var_os("CI").is_none(),
            "{} with boto3 not found: run bash .ci/setup-python.sh",
            python.display()
        );
        eprintln!("SKIPPED: {} with boto3 not found", python.display());
        return;
    }
    let addr = start(parse_models(ERROR_MODELS).unwrap()).await;
    let script = root.join("tests/boto3_emulator.py");
    let url = format!("http://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(&script)
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "boto3 checks failed");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

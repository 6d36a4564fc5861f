//! Lambda's response-streaming mode against a Runtime API on loopback (aws-lambda-rie and
//! `sam local` do not stream): the response-mode header, the prelude (status, headers,
//! cookies), the eight-NUL separator and the body; and the buffered mode beside it.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::process::Proc;
use common::runtime_api::RuntimeApi;

const CONFIG: &str = r#"{"experiment":"lam","version":"v1","salt":"lam-1","arms":[{"name":"control","endpoint":"echo","weight":10000}],"cookie":{"enabled":false}}"#;

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn function(api: &RuntimeApi, emu: &Proc, streaming: bool) -> Function {
    function_with(api, emu, streaming, CONFIG)
}

fn function_with(api: &RuntimeApi, emu: &Proc, streaming: bool, config: &str) -> Function {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_canary-router"));
    cmd.env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "router")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("CANARY_CONFIG", config)
        .env("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", &emu.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("CANARY_CONFIG_FILE")
        .env_remove("CANARY_APPCONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if streaming {
        cmd.env("CANARY_RESPONSE_STREAMING", "1");
    }
    Function(cmd.spawn().unwrap())
}

fn event(name: &str) -> String {
    std::fs::read_to_string(format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn emulator() -> Proc {
    let models = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hardening-models.json"
    );
    Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--models", models],
        &[],
        "emulator on ",
    )
}

#[test]
fn streaming_mode_sends_the_prelude_the_separator_and_the_body() {
    let emu = emulator();
    let api = RuntimeApi::start();
    let _f = function(&api, &emu, true);
    api.invoke("inv-1", &event("v2-predict-user-header.json"));
    let r = api.response(Duration::from_secs(30));
    assert_eq!(r.request_id, "inv-1");
    assert_eq!(r.mode.as_deref(), Some("streaming"));
    let prelude = r.prelude.expect("a JSON prelude before eight NUL bytes");
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(prelude["headers"]["x-canary-arm"], "control", "{prelude}");
    let body = String::from_utf8(r.body).unwrap();
    assert!(body.contains("features"), "the echo model's answer: {body}");
    // An error answer goes the same way, with its status in the prelude.
    api.invoke("inv-2", &event("v2-not-found.json"));
    let r = api.response(Duration::from_secs(30));
    assert_eq!(r.prelude.unwrap()["statusCode"], 404);
    assert!(String::from_utf8_lossy(&r.body).contains("not_found"));
}

#[test]
fn buffered_mode_answers_without_a_prelude() {
    let emu = emulator();
    let api = RuntimeApi::start();
    let _f = function(&api, &emu, false);
    api.invoke("inv-1", &event("v2-predict-user-header.json"));
    let r = api.response(Duration::from_secs(30));
    assert_eq!(r.mode, None);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["statusCode"], 200, "{v}");
}

#[test]
fn a_language_models_stream_goes_out_as_it_comes_and_whole() {
    let models = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/streaming-models.json"
    );
    let emu = Proc::start(
        &["emulate", "--listen", "127.0.0.1:0", "--models", models],
        &[],
        "emulator on ",
    );
    let api = RuntimeApi::start();
    let config = r#"{"experiment":"lam","version":"v1","salt":"lam-1","arms":[{"name":"control","endpoint":"llm-lmi","weight":10000}],"cookie":{"enabled":false}}"#;
    let _f = function_with(&api, &emu, true, config);
    // A Function URL event (payload format 2.0) asking for a stream.
    let mut ev: serde_json::Value =
        serde_json::from_str(&event("v2-predict-user-header.json")).unwrap();
    ev["headers"]["accept"] = "text/event-stream".into();
    ev["body"] = r#"{"inputs": "hi"}"#.into();
    ev["isBase64Encoded"] = false.into();
    api.invoke("inv-s", &ev.to_string());
    let r = api.response(Duration::from_secs(30));
    assert_eq!(r.mode.as_deref(), Some("streaming"));
    let prelude = r.prelude.expect("a prelude");
    assert_eq!(prelude["statusCode"], 200, "{prelude}");
    assert_eq!(
        prelude["headers"]["content-type"],
        "application/jsonlines",
        "{prelude} {}",
        String::from_utf8_lossy(&r.body)
    );
    let model = canary_router::emulator::tokens::TokenModel {
        format: canary_router::emulator::tokens::TokenFormat::Lmi,
        tokens: 5,
        delay_ms: 0.0,
        token_bytes: 0,
        hold_after: None,
    };
    assert_eq!(
        r.body,
        model.stream_bytes(),
        "the model's bytes, reassembled"
    );
}

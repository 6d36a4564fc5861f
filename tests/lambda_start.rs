//! Lambda mode refuses to start without what it needs, before it ever polls for an event.

fn start(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_canary-router"));
    // Arguments are ignored in Lambda mode; a bogus one proves it.
    cmd.arg("--not-a-flag")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env_remove("CANARY_CONFIG")
        .env_remove("CANARY_CONFIG_FILE")
        .env_remove("CANARY_COOKIE_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CONFIG: &str = r#"{"experiment":"e","version":"v","salt":"s","arms":[{"name":"a","endpoint":"ep","weight":10000}]}"#;

#[test]
fn refuses_to_start_without_a_config() {
    let (code, err) = start(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("CANARY_CONFIG"), "{err}");
}

#[test]
fn refuses_an_invalid_config_naming_the_key() {
    let (code, err) = start(&[(
        "CANARY_CONFIG",
        r#"{"experiment":"e","version":"v","salt":"s","arms":[{"name":"a","endpoint":"ep","weight":9900}]}"#,
    )]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("arms[0].weight: weights sum to 9900, not 10000"),
        "{err}"
    );
}

#[test]
fn refuses_to_start_without_a_cookie_key_when_cookies_are_on() {
    let (code, err) = start(&[("CANARY_CONFIG", CONFIG)]);
    assert_eq!(code, Some(2));
    assert!(err.contains("CANARY_COOKIE_KEY is not set"), "{err}");
    let (code, err) = start(&[("CANARY_CONFIG", CONFIG), ("CANARY_COOKIE_KEY", "c2hvcnQ=")]);
    assert_eq!(code, Some(2));
    assert!(err.contains("decodes to 5 bytes"), "{err}");
}

#[test]
fn both_config_sources_at_once_is_an_error() {
    let (code, err) = start(&[
        ("CANARY_CONFIG", CONFIG),
        ("CANARY_CONFIG_FILE", "/tmp/x.json"),
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("at most one of"), "{err}");
}

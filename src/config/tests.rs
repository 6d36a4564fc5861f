//! Config validation: every error names its key and reason; defaults; overrides; reloads.

use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::assign::BUCKETS;

fn base() -> Value {
    json!({
        "experiment": "imgclf-lr",
        "version": "2026-11-26.1",
        "salt": "imgclf-lr-1",
        "arms": [
            {"name": "control", "endpoint": "imgclf-a", "weight": 9000},
            {"name": "canary", "endpoint": "imgclf-b", "weight": 1000, "target_variant": "VariantB"}
        ]
    })
}

fn with(mut v: Value, pointer: &str, new: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    match target {
        Value::Object(o) => {
            o.insert(key.to_owned(), new);
        }
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = new,
        _ => panic!("bad pointer"),
    }
    v
}

fn error_of(v: Value) -> String {
    Config::parse(&v.to_string()).unwrap_err().to_string()
}

#[test]
fn contract_example_parses_with_defaults() {
    let c = Config::parse(&base().to_string()).unwrap();
    assert_eq!(c.arms().len(), 2);
    assert_eq!(c.user_header(), "x-user-id");
    assert_eq!(c.cookie().name, "canary_uid");
    assert!(c.cookie().secure && c.cookie().enabled);
    assert_eq!(c.cookie().same_site, SameSite::Lax);
    assert_eq!(c.cookie().max_age, Duration::from_secs(90 * 86_400));
    assert_eq!(c.timeouts().attempt, Duration::from_millis(2000));
    assert_eq!(c.timeouts().total, Duration::from_millis(5000));
    assert_eq!(
        **c.phases()[0].weights_json(),
        json!([["control", 9000], ["canary", 1000]])
    );
    assert_eq!(
        c.arms()[1].custom_attributes(),
        "experiment=imgclf-lr;arm=canary"
    );
    assert_eq!(c.phases()[0].split().arm_for(8999), 0);
    assert_eq!(c.phases()[0].split().arm_for(9000), 1);
}

#[test]
fn each_error_names_its_key_and_reason() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with(base(), "/arms/1/weight", json!(900)),
            "arms[1].weight: weights sum to 9900, not 10000",
        ),
        (
            with(base(), "/arms/1/wieght", json!(1)),
            "arms[1].wieght: unknown key",
        ),
        (
            with(base(), "/colour", json!("blue")),
            "colour: unknown key",
        ),
        (
            with(base(), "/arms/0/weight", json!(-1)),
            "arms[0].weight: invalid value: integer `-1`",
        ),
        (
            with(base(), "/arms/0/weight", json!(10001)),
            "arms[0].weight: 10001 is above 10000",
        ),
        (
            with(base(), "/arms", json!([])),
            "arms: needs at least one arm",
        ),
        (
            with(base(), "/arms/1/name", json!("control")),
            "arms[1].name: arm `control` is listed twice",
        ),
        (
            with(base(), "/arms/1/name", json!("bad name")),
            "arms[1].name: `bad name` must match",
        ),
        (
            with(base(), "/arms/0/endpoint", json!("no_underscores")),
            "arms[0].endpoint: `no_underscores` is not a SageMaker endpoint name",
        ),
        (with(base(), "/salt", json!("")), "salt: must not be empty"),
        (
            with(base(), "/cors", json!({"allowed_origins": []})),
            "cors.allowed_origins: is empty",
        ),
        (
            with(base(), "/version", json!("v".repeat(129))),
            "version: must be 1 to 128 printable ASCII characters",
        ),
        (
            with(base(), "/version", json!("v1\r\nX-Evil: 1")),
            "version: must be 1 to 128 printable ASCII",
        ),
        (
            with(base(), "/experiment", json!("exp\nsecond line")),
            "experiment: must be printable ASCII",
        ),
        (
            with(base(), "/metrics_namespace", json!("AWS/SageMaker")),
            "metrics_namespace: `AWS/SageMaker` is not a CloudWatch namespace",
        ),
        (
            with(base(), "/metrics_namespace", json!("ns\u{e9}")),
            "metrics_namespace:",
        ),
        (
            with(base(), "/version", json!(" ")),
            "version: must not be empty",
        ),
        (
            with(base(), "/fallback", json!("blue")),
            "fallback: names arm `blue`, which is not in `arms`",
        ),
        (
            with(base(), "/overrides", json!({"users": {"green": ["u1"]}})),
            "overrides.users.green: names arm `green`",
        ),
        (
            with(
                base(),
                "/overrides",
                json!({"users": {"control": ["u1"], "canary": ["u1"]}}),
            ),
            "overrides.users.control[0]: this user is also listed under another arm",
        ),
        (
            with(
                base(),
                "/overrides",
                json!({"country": {"header": "CloudFront-Viewer-Country", "arms": {"FR": "nope"}}}),
            ),
            "overrides.country.arms.FR: names arm `nope`",
        ),
        (
            with(
                base(),
                "/overrides",
                json!({"forced": {"secret_sha256": "abc"}}),
            ),
            "overrides.forced.secret_sha256: must be 64 hex digits",
        ),
        (
            with(
                base(),
                "/cookie",
                json!({"same_site": "None", "secure": false}),
            ),
            "cookie.same_site: None requires secure",
        ),
        (
            with(base(), "/cookie", json!({"same_site": "Sideways"})),
            "cookie.same_site: `Sideways` is not one of",
        ),
        (
            with(base(), "/cookie", json!({"max_age_days": 500})),
            "cookie.max_age_days: 500 is outside",
        ),
        (
            with(base(), "/cookie", json!({"renew_before_days": 90})),
            "cookie.renew_before_days: must be below",
        ),
        (
            with(base(), "/cors", json!({"allowed_origins": ["*"]})),
            "cors.allowed_origins[0]: `*` cannot be used",
        ),
        (
            with(
                base(),
                "/cors",
                json!({"allowed_origins": ["https://a.example/"]}),
            ),
            "cors.allowed_origins[0]: `https://a.example/` is not an origin",
        ),
        (
            with(
                base(),
                "/timeouts",
                json!({"attempt_ms": 3000, "total_ms": 1000}),
            ),
            "timeouts.total_ms: 1000 is below attempt_ms",
        ),
        (
            with(base(), "/timeouts", json!({"total_ms": 40000})),
            "timeouts.total_ms: 40000 is above",
        ),
        (
            with(base(), "/content_types", json!(["json"])),
            "content_types[0]: `json` is not a media type",
        ),
        (
            with(base(), "/user_header", json!("bad header")),
            "user_header: `bad header` is not a valid HTTP header name",
        ),
        (
            with(
                base(),
                "/preprocess",
                json!({"normalize": {"x": {"mean": 0, "std": 0}}}),
            ),
            "preprocess.normalize.x.std: must be a number above 0",
        ),
        (
            with(
                base(),
                "/arms/1/postprocess",
                json!({"top_k": {"field": "p", "k": 1}}),
            ),
            "arms[1].postprocess.top_k.field: `p` is not a JSON Pointer",
        ),
        (
            with(base(), "/arms/1/preprocess", json!({"requires": []})),
            "arms[1].preprocess.requires: unknown key",
        ),
    ];
    for (config, want) in cases {
        let got = error_of(config);
        assert!(got.starts_with(want), "got `{got}`, want `{want}...`");
    }
    let missing = json!({"experiment": "e", "version": "v", "salt": "s"});
    assert!(error_of(missing).contains("missing field `arms`"));
    assert!(
        Config::parse("{not json")
            .unwrap_err()
            .to_string()
            .contains("key must be a string")
    );
}

#[test]
fn extension_keys_and_zero_weights_are_allowed() {
    let v = with(base(), "/x-owner", json!("ml-team"));
    let v = with(v, "/arms/0/x-note", json!("the old model"));
    let v = with(v, "/arms/0/weight", json!(10000));
    let v = with(v, "/arms/1/weight", json!(0));
    let c = Config::parse(&v.to_string()).unwrap();
    assert!((0..BUCKETS).all(|b| c.phases()[0].split().arm_for(b) == 0));
}

#[test]
fn per_arm_transforms_replace_the_global_ones() {
    let v = with(base(), "/preprocess", json!({"require": ["features"]}));
    let v = with(v, "/arms/1/preprocess", json!({"require": ["pixels"]}));
    let c = Config::parse(&v.to_string()).unwrap();
    assert_eq!(c.arms()[0].preprocess().unwrap().require, vec!["features"]);
    assert_eq!(c.arms()[1].preprocess().unwrap().require, vec!["pixels"]);
    assert!(c.arms()[0].postprocess().is_none());
}

#[test]
fn overrides_resolve_to_arm_indexes() {
    let digest = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
    let v = with(
        base(),
        "/overrides",
        json!({
            "users": {"canary": ["qa-alice", " qa-bob "]},
            "country": {"header": "CloudFront-Viewer-Country", "arms": {"fr": "canary"}},
            "forced": {"secret_sha256": digest}
        }),
    );
    let c = Config::parse(&v.to_string()).unwrap();
    assert_eq!(c.overrides().user_arm("qa-bob"), Some(1));
    let country = c.overrides().country().unwrap();
    assert_eq!(country.arm_for("fr "), Some(1));
    let forced = c.overrides().forced().unwrap();
    assert_eq!(forced.header(), "x-canary-force-arm");
    assert!(forced.accepts(b"password"));
}

#[test]
fn reload_under_the_same_version_must_not_change_the_split() {
    let old = Config::parse(&base().to_string()).unwrap();
    let ramp = with(base(), "/arms/0/weight", json!(5000));
    let ramp = with(ramp, "/arms/1/weight", json!(5000));
    let same_version = Config::parse(&ramp.to_string()).unwrap();
    let err = old.check_reload(&same_version).unwrap_err().to_string();
    assert!(
        err.starts_with("version: `2026-11-26.1` is unchanged"),
        "{err}"
    );
    let new_version =
        Config::parse(&with(ramp, "/version", json!("2026-11-26.2")).to_string()).unwrap();
    old.check_reload(&new_version).unwrap();
    // A change that does not touch the split (a new timeout) may keep the version.
    let tweak =
        Config::parse(&with(base(), "/timeouts", json!({"attempt_ms": 100})).to_string()).unwrap();
    old.check_reload(&tweak).unwrap();
    let salt = Config::parse(&with(base(), "/salt", json!("other")).to_string()).unwrap();
    assert!(old.check_reload(&salt).is_err());
}

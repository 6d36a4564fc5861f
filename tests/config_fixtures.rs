//! The config fixtures shared with the JSON Schema check: every good one is accepted by the
//! router's own validation, every bad one refused with the message it names.

use canary_router::config::Config;

fn fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/configs")
        .join(kind);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn good_configs_are_accepted() {
    let good = fixtures("good");
    assert!(good.len() >= 6);
    for (name, text) in good {
        if let Err(e) = Config::parse(&text) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn bad_configs_are_refused_with_their_message() {
    let bad = fixtures("bad");
    assert!(bad.len() >= 8);
    for (name, text) in bad {
        let expect: serde_json::Value = serde_json::from_str(&text).unwrap();
        let want = expect["x-expect-error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no x-expect-error"));
        match Config::parse(&text) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => assert!(
                e.to_string().contains(want),
                "{name}: got `{e}`, want `{want}`"
            ),
        }
    }
}

#[test]
fn the_bundled_demo_and_event_configs_are_valid() {
    Config::parse(canary_router::demo::DEMO_CONFIG).unwrap();
    let env: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/events/env.json")).unwrap(),
    )
    .unwrap();
    Config::parse(
        env["CanaryRouterFunction"]["CANARY_CONFIG"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
}

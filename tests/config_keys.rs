//! Unknown keys are refused at every nesting level, by name: a typo is added to every object of
//! `tests/fixtures/configs/good/full.json` in turn, and each must be refused naming its path.
//! `full.json` must also use every key that `config.schema.json` names, so that the walk covers
//! every struct the config has.

use std::collections::BTreeSet;

use canary_router::config::Config;
use serde_json::Value;

/// Maps whose keys are the user's own data (field names, user IDs, country codes), not config
/// keys: a new key there is not a typo.
const USER_KEYED: &[&str] = &[
    "preprocess.defaults",
    "preprocess.inject",
    "preprocess.normalize",
    "preprocess.rename",
    "overrides.users",
    "overrides.country.arms",
    "schedule.weights",
];
/// Maps whose values are user data all the way down.
const USER_VALUES: &[&str] = &["preprocess.defaults", "preprocess.inject"];

fn read(rel: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The key path with array indexes and per-arm prefixes dropped: `arms[1].preprocess.defaults`
/// is `preprocess.defaults` for the user-keyed check.
fn generic(path: &str) -> String {
    let mut out = String::new();
    for seg in path.split('.') {
        let seg = seg.split('[').next().unwrap_or(seg);
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(seg);
    }
    out.strip_prefix("arms.").unwrap_or(&out).to_owned()
}

/// Every object in the document that holds config keys, with its key path and JSON pointer.
fn objects(v: &Value, path: &str, pointer: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            let g = generic(path);
            if USER_VALUES.contains(&g.as_str()) {
                return;
            }
            if !USER_KEYED.contains(&g.as_str()) {
                out.push((path.to_owned(), pointer.to_owned()));
            }
            for (k, child) in map {
                if k.starts_with("x-") {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                objects(child, &p, &format!("{pointer}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                objects(
                    child,
                    &format!("{path}[{i}]"),
                    &format!("{pointer}/{i}"),
                    out,
                );
            }
        }
        _ => {}
    }
}

#[test]
fn a_typo_at_every_nesting_level_is_refused_by_name() {
    let full = read("tests/fixtures/configs/good/full.json");
    Config::parse(&full.to_string()).expect("full.json is valid");
    let mut targets = Vec::new();
    objects(&full, "", "", &mut targets);
    assert!(
        targets.len() >= 20,
        "the walk found too few objects: {targets:?}"
    );
    for (path, pointer) in &targets {
        let mut doc = full.clone();
        let obj = if pointer.is_empty() {
            &mut doc
        } else {
            doc.pointer_mut(pointer).unwrap()
        };
        obj.as_object_mut()
            .unwrap()
            .insert("tpyo".into(), Value::from(1));
        let want = if path.is_empty() {
            "tpyo".to_owned()
        } else {
            format!("{path}.tpyo")
        };
        match Config::parse(&doc.to_string()) {
            Ok(_) => panic!("a typo at {want} was accepted"),
            Err(e) => assert!(
                e.to_string().starts_with(&format!("{want}: unknown key")),
                "typo at {want}: got `{e}`"
            ),
        }
        // An `x-` key in the same place is a note, not a typo.
        let mut noted = full.clone();
        let obj = if pointer.is_empty() {
            &mut noted
        } else {
            noted.pointer_mut(pointer).unwrap()
        };
        obj.as_object_mut()
            .unwrap()
            .insert("x-note".into(), Value::from("why"));
        Config::parse(&noted.to_string()).unwrap_or_else(|e| panic!("x-note at {path}: {e}"));
    }
}

/// Key paths a schema names: `arms[].preprocess.normalize.*.mean` style.
fn schema_keys(root: &Value, node: &Value, path: &str, out: &mut BTreeSet<String>, depth: u32) {
    assert!(depth < 32, "schema recursion at {path}");
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let target = root
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}"));
        schema_keys(root, target, path, out, depth + 1);
    }
    for union in ["anyOf", "oneOf", "allOf"] {
        for alt in node
            .get(union)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            schema_keys(root, alt, path, out, depth + 1);
        }
    }
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (k, child) in props {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            out.insert(p.clone());
            schema_keys(root, child, &p, out, depth + 1);
        }
    }
    if let Some(items) = node.get("items") {
        schema_keys(root, items, &format!("{path}[]"), out, depth + 1);
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        schema_keys(root, values, &format!("{path}.*"), out, depth + 1);
    }
}

/// Key paths a document uses, in the schema's notation.
fn document_keys(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            let user_keyed = USER_KEYED.contains(&generic(path).as_str());
            for (k, child) in map {
                if k.starts_with("x-") {
                    continue;
                }
                let seg = if user_keyed { "*" } else { k.as_str() };
                let p = if path.is_empty() {
                    seg.to_owned()
                } else {
                    format!("{path}.{seg}")
                };
                if !user_keyed {
                    out.insert(p.clone());
                }
                if !USER_VALUES.contains(&generic(path).as_str()) {
                    document_keys(child, &p, out);
                }
            }
        }
        Value::Array(items) => {
            for child in items {
                document_keys(child, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn full_json_uses_every_key_the_schema_names() {
    let schema = read("config.schema.json");
    let mut named = BTreeSet::new();
    schema_keys(&schema, &schema, "", &mut named, 0);
    let mut used = BTreeSet::new();
    document_keys(
        &read("tests/fixtures/configs/good/full.json"),
        "",
        &mut used,
    );
    // An arm's own transforms are the same structs as the global ones: a key inside them is
    // covered when full.json uses it in either place.
    let covered = |k: &str| {
        used.contains(k)
            || k.strip_prefix("arms[].").is_some_and(|rest| {
                (rest.starts_with("preprocess.") || rest.starts_with("postprocess."))
                    && used.contains(rest)
            })
    };
    let missing: Vec<_> = named.iter().filter(|k| !covered(k)).collect();
    assert!(
        missing.is_empty(),
        "config.schema.json names keys full.json does not use: {missing:?}"
    );
    assert!(
        named.len() >= 40,
        "the schema walk found too few keys: {named:?}"
    );
}

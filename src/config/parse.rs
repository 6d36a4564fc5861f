//! JSON text to the as-written config, with every unknown key reported by its path. Unknown keys
//! are found by `serde_ignored` while serde reads the document, so a nested struct added later is
//! covered without any list to keep up to date.

use serde::de::DeserializeOwned;

use super::error::Invalid;

/// Why an unknown key is refused rather than ignored.
pub(crate) const UNKNOWN_KEY: &str =
    "unknown key (a typo would silently switch a feature off; prefix notes with `x-`)";

/// Parses a keyed JSON document into `T`: the first type error or unknown key (keys starting
/// with `x-` are the user's own notes and allowed anywhere) comes back with its key path.
pub(crate) fn parse_document<T: DeserializeOwned>(text: &str, root: &str) -> Result<T, Invalid> {
    let mut json = serde_json::Deserializer::from_str(text);
    let mut unknown: Option<String> = None;
    let mut on_ignored = |path: serde_ignored::Path<'_>| {
        if unknown.is_none() && !last_segment(&path).is_some_and(|k| k.starts_with("x-")) {
            unknown = Some(key_path(&path));
        }
    };
    let value = {
        let ignored = serde_ignored::Deserializer::new(&mut json, &mut on_ignored);
        serde_path_to_error::deserialize::<_, T>(ignored).map_err(|e| {
            let key = e.path().to_string();
            // An error inside the empty-named key (`{"": ...`) has an empty path: name the
            // document rather than nothing.
            let key = if key == "." || key.is_empty() {
                root.to_owned()
            } else {
                key
            };
            Invalid::new(key, e.into_inner().to_string())
        })?
    };
    json.end().map_err(|e| {
        Invalid::new(
            root,
            format!("unexpected data after the JSON document ({e}): send one JSON object"),
        )
    })?;
    match unknown {
        Some(key) => Err(Invalid::new(key, UNKNOWN_KEY)),
        None => Ok(value),
    }
}

/// `arms[1].preprocess.normalize.x` style path, as the validation messages write keys.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        Path::Map { parent, key } => {
            let parent = key_path(parent);
            // The empty key is written as JSON writes it, so that the message names it.
            let key = if key.is_empty() { "\"\"" } else { key.as_str() };
            if parent.is_empty() {
                key.to_owned()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => key_path(parent),
    }
}

fn last_segment<'a>(path: &'a serde_ignored::Path<'a>) -> Option<&'a str> {
    match path {
        serde_ignored::Path::Map { key, .. } => Some(key),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        a: u32,
        inner: Option<Vec<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        b: String,
    }

    #[test]
    fn unknown_keys_are_named_by_path_and_notes_are_allowed() {
        let err = parse_document::<Outer>(
            r#"{"a": 1, "inner": [{"b": "x"}, {"b": "y", "c": 2}]}"#,
            "doc",
        )
        .unwrap_err();
        assert_eq!(err.key, "inner[1].c");
        assert_eq!(err.reason, UNKNOWN_KEY);
        parse_document::<Outer>(
            r#"{"a": 1, "x-note": {"c": 1}, "inner": [{"b": "x", "x-why": 1}]}"#,
            "doc",
        )
        .unwrap();
    }

    #[test]
    fn errors_at_the_empty_key_still_name_a_key() {
        // Found by the config_parse fuzz target: both came back with an empty key.
        let err = parse_document::<Outer>(r#"{"":"#, "doc").unwrap_err();
        assert_eq!(err.key, "doc");
        let err = parse_document::<Outer>(r#"{"a": 1, "": 2}"#, "doc").unwrap_err();
        assert_eq!(
            (err.key.as_str(), err.reason),
            (r#""""#, UNKNOWN_KEY.to_owned())
        );
        let err = parse_document::<Outer>(r#"{"a": 1, "inner": [{"b": "x", "": 2}]}"#, "doc")
            .unwrap_err();
        assert_eq!(err.key, "inner[0].\"\"");
    }

    #[test]
    fn type_errors_name_their_key_and_trailing_data_is_refused() {
        let err = parse_document::<Outer>(r#"{"a": -1}"#, "doc").unwrap_err();
        assert_eq!(err.key, "a");
        let err = parse_document::<Outer>(r#"{"a": 1} {"a": 2}"#, "doc").unwrap_err();
        assert_eq!(err.key, "doc");
        assert!(err.reason.contains("after the JSON document"), "{err}");
        parse_document::<Outer>("{\"a\": 1}\n  \n", "doc").unwrap();
    }
}

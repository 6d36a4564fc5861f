//! The golden file: JSON lines of requests and the answers expected of them, parsed line by line
//! so that a broken line is named by its number and the others are still checked; and the
//! lines `--record` writes back.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value};

/// The content type of a line that names none.
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// One request of the golden set.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Its line number in the file (from 1).
    pub line: usize,
    /// The bytes sent, as the router receives them from a client.
    pub body: Bytes,
    /// Their content type.
    pub content_type: String,
    /// The `Accept` a client would send, when the line names one.
    pub accept: Option<String>,
    /// The answer expected; `None` when recording.
    pub expect: Option<Expect>,
    /// The line as written, which `--record` writes back with the answer.
    written: Map<String, Value>,
}

/// What an answer must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// A JSON answer (or, as a string, a text answer that is not JSON).
    Json(Value),
    /// A binary answer, byte for byte (`expect_base64`).
    Bytes(Bytes),
}

/// A line that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLine {
    /// Its number (from 1).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// What a golden file holds: its usable cases and its broken lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Golden {
    /// The cases, in file order.
    pub cases: Vec<Case>,
    /// The lines that cannot be used, in file order.
    pub broken: Vec<BrokenLine>,
}

/// Whether lines must carry `expect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Validating: every line needs an expected answer.
    Check,
    /// Recording: `expect` is ignored and replaced.
    Record,
}

const KEYS: [&str; 6] = [
    "body",
    "body_base64",
    "content_type",
    "accept",
    "expect",
    "expect_base64",
];

/// Parses a golden file. Blank lines are skipped; every other line is a case or a broken line.
pub fn parse(text: &str, purpose: Purpose) -> Golden {
    let mut golden = Golden::default();
    for (i, raw) in text.lines().enumerate() {
        let line = i.saturating_add(1);
        if raw.trim().is_empty() {
            continue;
        }
        match parse_line(raw, line, purpose) {
            Ok(case) => golden.cases.push(case),
            Err(reason) => golden.broken.push(BrokenLine { line, reason }),
        }
    }
    golden
}

fn parse_line(raw: &str, line: usize, purpose: Purpose) -> Result<Case, String> {
    let value: Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !k.starts_with("x-") && !KEYS.contains(&k.as_str()))
    {
        return Err(format!(
            "unknown key `{k}` (a line has body or body_base64, content_type, accept, expect or expect_base64)"
        ));
    }
    let content_type = match obj.get("content_type") {
        None => DEFAULT_CONTENT_TYPE.to_owned(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return Err("content_type must be a non-empty string".into()),
    };
    let accept = match obj.get("accept") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("accept must be a string".into()),
    };
    let body = body(&obj, &content_type)?;
    let expect = match purpose {
        Purpose::Record => None,
        Purpose::Check => Some(expect(&obj)?),
    };
    Ok(Case {
        line,
        body,
        content_type,
        accept,
        expect,
        written: obj,
    })
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

fn body(obj: &Map<String, Value>, content_type: &str) -> Result<Bytes, String> {
    match (obj.get("body"), obj.get("body_base64")) {
        (Some(_), Some(_)) => Err("has both body and body_base64: give one".into()),
        (None, None) => Err("has no body (or body_base64)".into()),
        (None, Some(Value::String(b64))) => STANDARD
            .decode(b64.trim())
            .map(Bytes::from)
            .map_err(|e| format!("body_base64 is not base64: {e}")),
        (None, Some(_)) => Err("body_base64 must be a string".into()),
        (Some(v), None) if is_json(content_type) => serde_json::to_vec(v)
            .map(Bytes::from)
            .map_err(|e| format!("body cannot be written as JSON: {e}")),
        (Some(Value::String(s)), None) => Ok(Bytes::copy_from_slice(s.as_bytes())),
        (Some(_), None) => Err(format!(
            "with content_type {content_type}, body must be a string (or use body_base64)"
        )),
    }
}

fn expect(obj: &Map<String, Value>) -> Result<Expect, String> {
    match (obj.get("expect"), obj.get("expect_base64")) {
        (Some(_), Some(_)) => Err("has both expect and expect_base64: give one".into()),
        (None, None) => {
            Err("has no expect (record one with --record, or add the answer expected)".into())
        }
        (Some(v), None) => Ok(Expect::Json(v.clone())),
        (None, Some(Value::String(b64))) => STANDARD
            .decode(b64.trim())
            .map(|b| Expect::Bytes(Bytes::from(b)))
            .map_err(|e| format!("expect_base64 is not base64: {e}")),
        (None, Some(_)) => Err("expect_base64 must be a string".into()),
    }
}

impl Case {
    /// The line `--record` writes: the line as written, with `answer` as its expected answer
    /// (JSON when it parses, else its text, else `expect_base64`).
    pub fn recorded(&self, answer: &[u8]) -> String {
        let mut obj = self.written.clone();
        obj.remove("expect");
        obj.remove("expect_base64");
        if let Ok(v) = serde_json::from_slice::<Value>(answer) {
            obj.insert("expect".into(), v);
        } else if let Ok(text) = std::str::from_utf8(answer) {
            obj.insert("expect".into(), Value::String(text.to_owned()));
        } else {
            obj.insert(
                "expect_base64".into(),
                Value::String(STANDARD.encode(answer)),
            );
        }
        Value::Object(obj).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_text_and_binary_bodies() {
        let text = concat!(
            r#"{"body": {"features": [1, 2]}, "expect": {"label": "a"}}"#,
            "\n\n",
            r#"{"body": "5.1,3.5", "content_type": "text/csv", "expect": "setosa"}"#,
            "\n",
            r#"{"body_base64": "AAEC", "content_type": "application/x-image", "expect_base64": "/w==", "x-note": "kept"}"#,
            "\n",
        );
        let g = parse(text, Purpose::Check);
        assert!(g.broken.is_empty(), "{:?}", g.broken);
        assert_eq!(g.cases.len(), 3);
        assert_eq!(g.cases[0].line, 1);
        assert_eq!(&g.cases[0].body[..], br#"{"features":[1,2]}"#);
        assert_eq!(g.cases[0].content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(g.cases[0].expect, Some(Expect::Json(json!({"label": "a"}))));
        assert_eq!(g.cases[1].line, 3);
        assert_eq!(&g.cases[1].body[..], b"5.1,3.5");
        assert_eq!(&g.cases[2].body[..], &[0, 1, 2]);
        assert_eq!(
            g.cases[2].expect,
            Some(Expect::Bytes(Bytes::from_static(&[0xff])))
        );
    }

    #[test]
    fn broken_lines_are_named_and_the_rest_kept() {
        let text = [
            r#"{"body": {"a": 1}, "expect": 1}"#,
            "{not json",
            "[1, 2]",
            r#"{"body": {"a": 1}}"#,
            r#"{"body": {"a": 1}, "expect": 1, "expected": 2}"#,
            r#"{"body": {"a": 1}, "body_base64": "AA==", "expect": 1}"#,
            r#"{"body_base64": "!!", "expect": 1}"#,
            r#"{"body": {"a": 1}, "content_type": "text/csv", "expect": 1}"#,
            r#"{"expect": 1}"#,
            r#"{"body": 1, "content_type": 7, "expect": 1}"#,
            r#"{"body": {"a": 2}, "expect": 2}"#,
        ]
        .join("\n");
        let g = parse(&text, Purpose::Check);
        assert_eq!(g.cases.iter().map(|c| c.line).collect::<Vec<_>>(), [1, 11]);
        let lines: Vec<usize> = g.broken.iter().map(|b| b.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let reason = |n: usize| &g.broken.iter().find(|b| b.line == n).unwrap().reason;
        assert!(reason(2).starts_with("not JSON"));
        assert!(reason(4).contains("no expect"));
        assert!(reason(5).contains("unknown key `expected`"));
        assert!(reason(6).contains("both body and body_base64"));
        assert!(reason(8).contains("must be a string"));
    }

    #[test]
    fn recording_needs_no_expect_and_writes_the_answer_back() {
        let g = parse(
            r#"{"body": {"a": 1}, "x-id": 7, "expect": "old"}"#,
            Purpose::Record,
        );
        let case = &g.cases[0];
        assert_eq!(case.expect, None);
        let line: Value = serde_json::from_str(&case.recorded(br#"{"label":"b"}"#)).unwrap();
        assert_eq!(
            line,
            json!({"body": {"a": 1}, "x-id": 7, "expect": {"label": "b"}})
        );
        let text: Value = serde_json::from_str(&case.recorded(b"setosa")).unwrap();
        assert_eq!(text["expect"], "setosa");
        let bin: Value = serde_json::from_str(&case.recorded(&[0xff, 0xfe])).unwrap();
        assert_eq!(bin["expect_base64"], "//4=");
        assert!(bin.get("expect").is_none());
        // What was recorded parses back as a case expecting that answer.
        let again = parse(&case.recorded(br#"{"label":"b"}"#), Purpose::Check);
        assert_eq!(
            again.cases[0].expect,
            Some(Expect::Json(json!({"label": "b"})))
        );
    }
}

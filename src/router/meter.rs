//! What a streamed answer said, as far as its format shows: tokens and the finish reason, read
//! from TGI `data:` lines, LMI JSON lines and OpenAI-style `choices[].delta` chunks. Payload
//! parts do not align with lines, so bytes are re-split into lines here; a line longer than
//! `MAX_LINE` is skipped rather than buffered.

use serde_json::Value;

/// Longest line read for accounting; longer ones are passed on, not parsed.
const MAX_LINE: usize = 64 * 1024;

/// Running counts over a stream's bytes.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    line: Vec<u8>,
    overlong: bool,
    bytes: u64,
    tokens: u64,
    /// A format was recognised, so `tokens` means something.
    counted: bool,
    finish_reason: Option<String>,
    /// TGI and LMI report how many tokens they generated; that wins over counting.
    reported_tokens: Option<u64>,
}

impl Meter {
    /// Feeds the next payload bytes.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.bytes = self.bytes.saturating_add(bytes.len() as u64);
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let ends = chunk.last() == Some(&b'\n');
            let body = if ends {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            if !self.overlong {
                if self.line.len() + body.len() > MAX_LINE {
                    self.overlong = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(body);
                }
            }
            if ends {
                if !self.overlong {
                    let line = std::mem::take(&mut self.line);
                    self.read_line(&line);
                }
                self.overlong = false;
            }
        }
    }

    /// The stream ended: a last line without a newline still counts.
    pub(crate) fn finish(&mut self) {
        if !self.overlong && !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.read_line(&line);
        }
    }

    /// Bytes seen.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Tokens, when the format says (or lets us count) them.
    pub(crate) fn tokens(&self) -> Option<u64> {
        self.reported_tokens
            .or_else(|| self.counted.then_some(self.tokens))
    }

    /// The finish reason, when the format gives one.
    pub(crate) fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }

    fn read_line(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = match std::str::from_utf8(line) {
            Ok(t) => t.trim(),
            Err(_) => return,
        };
        let json = text.strip_prefix("data:").map_or(text, str::trim_start);
        if !json.starts_with('{') {
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(json) else {
            return;
        };
        if let Some(choices) = v.get("choices").and_then(Value::as_array) {
            // OpenAI style: one chunk per delta; a content delta is a token's worth of text.
            self.counted = true;
            for c in choices {
                let content = c
                    .pointer("/delta/content")
                    .or_else(|| c.get("text"))
                    .and_then(Value::as_str);
                if content.is_some_and(|s| !s.is_empty()) {
                    self.tokens += 1;
                }
                if let Some(r) = c.get("finish_reason").and_then(Value::as_str) {
                    self.finish_reason = Some(r.to_owned());
                }
            }
            if let Some(n) = v
                .pointer("/usage/completion_tokens")
                .and_then(Value::as_u64)
            {
                self.reported_tokens = Some(n);
            }
        } else if v.get("token").is_some() || v.get("details").is_some() {
            // TGI (`data:` lines) and LMI (JSON lines): one token per event, details at the end.
            self.counted = true;
            if v.get("token").is_some_and(|t| !t.is_null()) {
                self.tokens += 1;
            }
            if let Some(d) = v.get("details").filter(|d| d.is_object()) {
                if let Some(r) = d.get("finish_reason").and_then(Value::as_str) {
                    self.finish_reason = Some(r.to_owned());
                }
                if let Some(n) = d.get("generated_tokens").and_then(Value::as_u64) {
                    self.reported_tokens = Some(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TGI: &str = concat!(
        "data: {\"token\": {\"id\": 1, \"text\": \"Hel\"}, \"generated_text\": null}\n\n",
        "data: {\"token\": {\"id\": 2, \"text\": \"lo\"}, \"generated_text\": null}\n\n",
        "data: {\"token\": {\"id\": 3, \"text\": \"!\"}, \"generated_text\": \"Hello!\", \"details\": {\"finish_reason\": \"length\", \"generated_tokens\": 3}}\n\n"
    );
    const LMI: &str = concat!(
        "{\"token\": {\"id\": 1, \"text\": \"a\"}}\n",
        "{\"token\": {\"id\": 2, \"text\": \"b\"}}\n",
        "{\"token\": {\"id\": 3, \"text\": \"c\"}, \"details\": {\"finish_reason\": \"eos_token\"}}\n"
    );
    const OPENAI: &str = concat!(
        "data: {\"choices\": [{\"delta\": {\"role\": \"assistant\"}, \"finish_reason\": null}]}\n\n",
        "data: {\"choices\": [{\"delta\": {\"content\": \"Hi\"}, \"finish_reason\": null}]}\n\n",
        "data: {\"choices\": [{\"delta\": {\"content\": \" there\"}, \"finish_reason\": null}]}\n\n",
        "data: {\"choices\": [{\"delta\": {}, \"finish_reason\": \"stop\"}]}\n\n",
        "data: [DONE]\n\n"
    );

    fn meter(parts: &[&[u8]]) -> Meter {
        let mut m = Meter::default();
        for p in parts {
            m.feed(p);
        }
        m.finish();
        m
    }

    #[test]
    fn each_format_gives_tokens_and_a_finish_reason() {
        let m = meter(&[TGI.as_bytes()]);
        assert_eq!((m.tokens(), m.finish_reason()), (Some(3), Some("length")));
        let m = meter(&[LMI.as_bytes()]);
        assert_eq!(
            (m.tokens(), m.finish_reason()),
            (Some(3), Some("eos_token"))
        );
        let m = meter(&[OPENAI.as_bytes()]);
        assert_eq!((m.tokens(), m.finish_reason()), (Some(2), Some("stop")));
        let m = meter(&[b"plain text, no format\n".as_slice()]);
        assert_eq!((m.tokens(), m.finish_reason()), (None, None));
        assert_eq!(m.bytes(), 22);
    }

    #[test]
    fn overlong_lines_are_skipped_not_buffered() {
        let long = vec![b'x'; MAX_LINE + 10];
        let m = meter(&[&long, b"\n", LMI.as_bytes()]);
        assert_eq!(m.tokens(), Some(3));
        assert!(m.line.capacity() <= MAX_LINE + 1024);
    }

    proptest! {
        #[test]
        fn any_split_of_the_bytes_gives_the_same_counts(cuts in proptest::collection::vec(0usize..400, 0..12), which in 0usize..3) {
            let text = [TGI, LMI, OPENAI][which].as_bytes();
            let whole = meter(&[text]);
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (text.len() + 1)).collect();
            points.sort_unstable();
            let mut parts = Vec::new();
            let mut last = 0;
            for p in points {
                parts.push(&text[last..p]);
                last = p;
            }
            parts.push(&text[last..]);
            let split = meter(&parts);
            prop_assert_eq!(split.tokens(), whole.tokens());
            prop_assert_eq!(split.finish_reason(), whole.finish_reason());
            prop_assert_eq!(split.bytes(), text.len() as u64);
        }
    }
}

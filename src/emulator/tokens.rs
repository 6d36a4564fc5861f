//! The `tokens` model: a stand-in for a language model that streams, as TGI does (SSE `data:`
//! events with `token` and, last, `details`) or as LMI does (JSON lines). Deterministic, so a
//! test can compare the bytes a client got with what the model sent.

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

/// Words the tokens cycle through.
const WORDS: [&str; 8] = [
    "the", "canary", "sings", "before", "the", "flock", "follows", "it",
];

/// Above this much text the last event does not repeat it in `generated_text`.
const MAX_GENERATED_TEXT: usize = 64 * 1024;

/// How the answer is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// Text Generation Inference: `data: {...}\n\n` server-sent events.
    Tgi,
    /// Large Model Inference (DJL): one JSON object per line.
    Lmi,
}

/// A `tokens` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenModel {
    /// The framing.
    pub format: TokenFormat,
    /// Tokens per answer.
    pub tokens: u32,
    /// Wait before each token, in ms.
    pub delay_ms: f64,
    /// Each token's text padded to this many bytes (0: a word and a space), for large answers.
    pub token_bytes: u32,
    /// After this many tokens, wait until the emulator's gate for the endpoint opens (tests use
    /// it to see a first chunk arrive before the rest is even generated).
    pub hold_after: Option<u32>,
}

impl TokenModel {
    /// The text of token `i`.
    pub fn text(&self, i: u32) -> String {
        let word = WORDS[i as usize % WORDS.len()];
        let want = self.token_bytes as usize;
        if want == 0 {
            return format!("{word} ");
        }
        let mut t = String::with_capacity(want);
        t.push_str(word);
        while t.len() < want {
            t.push('.');
        }
        t.truncate(want);
        t
    }

    /// The content type of the streamed answer.
    pub fn stream_content_type(&self) -> &'static str {
        match self.format {
            TokenFormat::Tgi => "text/event-stream",
            TokenFormat::Lmi => "application/jsonlines",
        }
    }

    /// Event `i` of the stream, as bytes (the last carries the finish reason and the count).
    pub fn event(&self, i: u32) -> Bytes {
        let last = i.saturating_add(1) >= self.tokens;
        let generated = if last && self.total_bytes() <= MAX_GENERATED_TEXT {
            Value::String(self.whole_text())
        } else {
            Value::Null
        };
        let details = if last {
            json!({"finish_reason": "length", "generated_tokens": self.tokens})
        } else {
            Value::Null
        };
        let text = self.text(i);
        match self.format {
            TokenFormat::Tgi => {
                let v = json!({"token": {"id": i, "text": text, "logprob": 0.0, "special": false},
                               "generated_text": generated, "details": details});
                Bytes::from(format!("data: {v}\n\n"))
            }
            TokenFormat::Lmi => {
                let v = json!({"token": {"id": i, "text": text, "log_prob": 0.0},
                               "generated_text": generated, "details": details});
                Bytes::from(format!("{v}\n"))
            }
        }
    }

    /// The whole stream, as a client should receive it.
    pub fn stream_bytes(&self) -> Vec<u8> {
        (0..self.tokens)
            .flat_map(|i| self.event(i).to_vec())
            .collect()
    }

    /// All tokens' text.
    pub fn whole_text(&self) -> String {
        (0..self.tokens).map(|i| self.text(i)).collect()
    }

    fn total_bytes(&self) -> usize {
        (0..self.tokens).map(|i| self.text(i).len()).sum()
    }

    /// The answer of a plain InvokeEndpoint: the whole text at once, as the container would.
    pub fn whole(&self) -> (Bytes, &'static str) {
        let text = self.whole_text();
        let v = match self.format {
            TokenFormat::Tgi => json!([{"generated_text": text}]),
            TokenFormat::Lmi => json!({"generated_text": text}),
        };
        (Bytes::from(v.to_string()), "application/json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(format: TokenFormat, tokens: u32) -> TokenModel {
        TokenModel {
            format,
            tokens,
            delay_ms: 0.0,
            token_bytes: 0,
            hold_after: None,
        }
    }

    #[test]
    fn tgi_events_end_with_details() {
        let m = model(TokenFormat::Tgi, 3);
        let last = String::from_utf8(m.event(2).to_vec()).unwrap();
        let v: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap().trim()).unwrap();
        assert_eq!(v["details"]["generated_tokens"], 3);
        assert_eq!(v["generated_text"], "the canary sings ");
        let first = String::from_utf8(m.event(0).to_vec()).unwrap();
        assert!(first.starts_with("data: {") && first.ends_with("}\n\n"));
        assert!(first.contains("\"details\":null"));
    }

    #[test]
    fn lmi_lines_and_padded_tokens() {
        let mut m = model(TokenFormat::Lmi, 2);
        m.token_bytes = 10;
        assert_eq!(m.text(1), "canary....");
        let bytes = m.stream_bytes();
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 2);
        let (whole, ct) = m.whole();
        assert_eq!(ct, "application/json");
        let v: Value = serde_json::from_slice(&whole).unwrap();
        assert_eq!(v["generated_text"], "the.......canary....");
    }
}

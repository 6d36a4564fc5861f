//! Per-attempt and total timeouts of the SageMaker call.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::RawTimeouts;

/// Per-attempt SageMaker timeout when the config sets none.
pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
/// Total SageMaker timeout (both attempts) when the config sets none; below the template's
/// 10 s function timeout so the router, not Lambda, answers a slow model.
pub const DEFAULT_TOTAL_TIMEOUT_MS: u64 = 5_000;
/// API Gateway's integration limit: a longer timeout could never be answered.
pub const MAX_TOTAL_TIMEOUT_MS: u64 = 29_000;
/// Longest gap between two parts of a streamed answer when the config sets none.
pub const DEFAULT_STREAM_IDLE_MS: u64 = 30_000;
/// Longest streamed answer when the config sets none: Lambda's 15-minute limit.
pub const DEFAULT_STREAM_TOTAL_MS: u64 = 900_000;

/// Per-attempt and total timeouts of the SageMaker call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// One attempt (the SDK retries once inside the total).
    pub attempt: Duration,
    /// All endpoint time of a request, fallback included.
    pub total: Duration,
    /// A stream's wait for its first payload byte.
    pub first_byte: Duration,
    /// The longest gap between two parts of a stream.
    pub stream_idle: Duration,
    /// A whole stream, from the request to its last byte.
    pub stream_total: Duration,
}

pub(crate) fn timeouts(raw: Option<&RawTimeouts>) -> Result<Timeouts, ConfigError> {
    let attempt = raw
        .and_then(|t| t.attempt_ms)
        .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT_MS);
    let total = raw
        .and_then(|t| t.total_ms)
        .unwrap_or(DEFAULT_TOTAL_TIMEOUT_MS.max(attempt));
    if attempt == 0 {
        return Err(ConfigError::invalid(
            "timeouts.attempt_ms",
            "must be above 0",
        ));
    }
    // Checked before the defaults that follow it (total_ms, first_byte_ms), so that the
    // error names the key the config wrote.
    if attempt > MAX_TOTAL_TIMEOUT_MS {
        return Err(ConfigError::invalid(
            "timeouts.attempt_ms",
            format!("{attempt} is above API Gateway's 29000 ms limit"),
        ));
    }
    if total < attempt {
        return Err(ConfigError::invalid(
            "timeouts.total_ms",
            format!("{total} is below attempt_ms ({attempt})"),
        ));
    }
    if total > MAX_TOTAL_TIMEOUT_MS {
        return Err(ConfigError::invalid(
            "timeouts.total_ms",
            format!("{total} is above API Gateway's 29000 ms limit"),
        ));
    }
    let first_byte = raw.and_then(|t| t.first_byte_ms).unwrap_or(attempt);
    let stream_idle = raw
        .and_then(|t| t.stream_idle_ms)
        .unwrap_or(DEFAULT_STREAM_IDLE_MS);
    let stream_total = raw
        .and_then(|t| t.stream_total_ms)
        .unwrap_or(DEFAULT_STREAM_TOTAL_MS);
    for (key, v) in [
        ("timeouts.first_byte_ms", first_byte),
        ("timeouts.stream_idle_ms", stream_idle),
        ("timeouts.stream_total_ms", stream_total),
    ] {
        if v == 0 || v > DEFAULT_STREAM_TOTAL_MS {
            return Err(ConfigError::invalid(
                key,
                format!("{v} is outside 1..=900000 (Lambda's 15 minutes)"),
            ));
        }
    }
    if first_byte > stream_total {
        // first_byte_ms defaults to attempt_ms: name the key the config wrote.
        return Err(match raw.and_then(|t| t.first_byte_ms) {
            Some(_) => ConfigError::invalid(
                "timeouts.first_byte_ms",
                format!("{first_byte} is above stream_total_ms ({stream_total})"),
            ),
            None => ConfigError::invalid(
                "timeouts.stream_total_ms",
                format!(
                    "{stream_total} is below first_byte_ms ({first_byte}, which is attempt_ms unless set)"
                ),
            ),
        });
    }
    Ok(Timeouts {
        attempt: Duration::from_millis(attempt),
        total: Duration::from_millis(total),
        first_byte: Duration::from_millis(first_byte),
        stream_idle: Duration::from_millis(stream_idle),
        stream_total: Duration::from_millis(stream_total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(raw: RawTimeouts) -> String {
        match timeouts(Some(&raw)) {
            Err(ConfigError::Invalid(e)) => e.key,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_a_key_the_config_wrote_not_a_default() {
        // Found by the config_parse fuzz target: a long attempt_ms was refused as
        // `timeouts.total_ms` (its default), a key the config did not have.
        let none = RawTimeouts {
            attempt_ms: None,
            total_ms: None,
            first_byte_ms: None,
            stream_idle_ms: None,
            stream_total_ms: None,
        };
        let long_attempt = RawTimeouts {
            attempt_ms: Some(2_004_000),
            ..none.clone()
        };
        assert_eq!(key_of(long_attempt), "timeouts.attempt_ms");
        let short_stream = RawTimeouts {
            attempt_ms: Some(3_000),
            stream_total_ms: Some(1_000),
            ..none.clone()
        };
        assert_eq!(key_of(short_stream), "timeouts.stream_total_ms");
        let first_byte = RawTimeouts {
            first_byte_ms: Some(3_000),
            stream_total_ms: Some(1_000),
            ..none
        };
        assert_eq!(key_of(first_byte), "timeouts.first_byte_ms");
    }
}

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

/// Per-attempt and total timeouts of the SageMaker call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// One attempt (the SDK retries once inside the total).
    pub attempt: Duration,
    /// All endpoint time of a request, fallback included.
    pub total: Duration,
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
    Ok(Timeouts {
        attempt: Duration::from_millis(attempt),
        total: Duration::from_millis(total),
    })
}

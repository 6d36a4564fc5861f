//! The config as written: serde types that mirror the JSON document, before defaults are
//! resolved. Unknown keys are not collected here; the parser reports them by path as it reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::transform::{PostSpec, PreSpec};

/// The whole document as written (defaults *not* applied): what reload compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawConfig {
    pub experiment: String,
    pub version: String,
    pub salt: String,
    pub arms: Vec<RawArm>,
    pub fallback: Option<String>,
    pub user_header: Option<String>,
    pub cookie: Option<RawCookie>,
    pub cors: Option<RawCors>,
    pub overrides: Option<RawOverrides>,
    pub timeouts: Option<RawTimeouts>,
    pub content_types: Option<Vec<String>>,
    pub metrics_namespace: Option<String>,
    pub preprocess: Option<PreSpec>,
    pub postprocess: Option<PostSpec>,
    pub schedule: Option<Vec<RawStep>>,
    pub shadow: Option<Vec<RawShadow>>,
}

/// One shadow target as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawShadow {
    pub name: String,
    pub endpoint: String,
    pub share: u32,
    pub timeout_ms: Option<u64>,
    pub target_variant: Option<String>,
    pub inference_component: Option<String>,
    pub target_model: Option<String>,
    pub target_container_hostname: Option<String>,
    #[serde(rename = "match")]
    pub match_pointer: Option<String>,
    pub tolerance: Option<f64>,
}

/// One arm as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawArm {
    pub name: String,
    pub endpoint: String,
    pub weight: u32,
    pub target_variant: Option<String>,
    pub inference_component: Option<String>,
    pub target_model: Option<String>,
    pub target_container_hostname: Option<String>,
    pub preprocess: Option<PreSpec>,
    pub postprocess: Option<PostSpec>,
}

/// Cookie settings as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawCookie {
    pub enabled: Option<bool>,
    pub name: Option<String>,
    pub max_age_days: Option<u32>,
    pub renew_before_days: Option<u32>,
    pub secure: Option<bool>,
    pub same_site: Option<String>,
    pub domain: Option<String>,
}

/// CORS settings as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawCors {
    pub allowed_origins: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// Overrides as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawOverrides {
    /// Arm name to the raw user IDs pinned to it.
    pub users: Option<BTreeMap<String, Vec<String>>>,
    pub country: Option<RawCountry>,
    pub forced: Option<RawForced>,
}

/// Country rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawCountry {
    pub header: String,
    /// Country code to arm name.
    pub arms: BTreeMap<String, String>,
}

/// QA forcing as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawForced {
    pub header: Option<String>,
    pub secret_header: Option<String>,
    /// Hex SHA-256 of the secret, so that the config does not hold the secret itself.
    pub secret_sha256: String,
}

/// Timeouts as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawTimeouts {
    pub attempt_ms: Option<u64>,
    pub total_ms: Option<u64>,
    pub first_byte_ms: Option<u64>,
    pub stream_idle_ms: Option<u64>,
    pub stream_total_ms: Option<u64>,
}

/// One schedule step as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RawStep {
    /// RFC 3339.
    pub at: String,
    pub version: String,
    /// Arm name to basis points, for every arm.
    pub weights: BTreeMap<String, u32>,
}

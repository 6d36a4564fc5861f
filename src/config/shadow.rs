//! Shadow cohorts: a sticky share of units whose `/predict` requests also go to another
//! endpoint with the same pre-processed body, to compare its answers with the arm's.

use std::collections::HashSet;
use std::time::Duration;

use super::error::ConfigError;
use super::names::{is_sagemaker_name, is_token};
use super::raw::{RawArm, RawShadow};
use super::target::{RawTargets, Target, target};
use crate::assign::BUCKETS;
use crate::compare::{Comparator, ComparatorError};

/// How long a shadow call may take when the config sets none.
pub const DEFAULT_SHADOW_TIMEOUT_MS: u64 = 1000;

/// One shadow target, ready to call.
#[derive(Debug, Clone)]
pub struct Shadow {
    name: String,
    endpoint: String,
    share: u32,
    timeout: Duration,
    target: Option<Target>,
    comparator: Comparator,
    custom_attributes: String,
}

impl Shadow {
    /// The shadow's name (records, metrics, the cohort hash).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The endpoint it calls.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Basis points of units in its cohort.
    pub fn share(&self) -> u32 {
        self.share
    }

    /// The longest a shadow call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The target it names on its endpoint, if any.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// How its answers are compared with the arm's.
    pub fn comparator(&self) -> &Comparator {
        &self.comparator
    }

    /// `experiment=...;shadow=...`, sent as SageMaker custom attributes.
    pub fn custom_attributes(&self) -> &str {
        &self.custom_attributes
    }
}

pub(crate) fn shadows(
    raw: &[RawShadow],
    arms: &[RawArm],
    experiment: &str,
) -> Result<Vec<Shadow>, ConfigError> {
    let mut names = HashSet::new();
    raw.iter()
        .enumerate()
        .map(|(i, s)| {
            let key = format!("shadow[{i}]");
            if !is_token(&s.name, 64) {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    format!("`{}` must match [A-Za-z0-9_.-]{{1,64}}", s.name),
                ));
            }
            if arms.iter().any(|a| a.name == s.name) {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    format!(
                        "`{}` is also an arm's name: records and metrics would mix them",
                        s.name
                    ),
                ));
            }
            if !names.insert(s.name.as_str()) {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    format!("shadow `{}` is listed twice", s.name),
                ));
            }
            if !is_sagemaker_name(&s.endpoint) {
                return Err(ConfigError::invalid(
                    format!("{key}.endpoint"),
                    format!("`{}` is not a SageMaker endpoint name", s.endpoint),
                ));
            }
            if s.share > BUCKETS {
                return Err(ConfigError::invalid(
                    format!("{key}.share"),
                    format!("{} is outside 0..=10000 basis points", s.share),
                ));
            }
            let timeout_ms = s.timeout_ms.unwrap_or(DEFAULT_SHADOW_TIMEOUT_MS);
            if !(1..=super::MAX_TOTAL_TIMEOUT_MS).contains(&timeout_ms) {
                return Err(ConfigError::invalid(
                    format!("{key}.timeout_ms"),
                    format!("{timeout_ms} is outside 1..=29000"),
                ));
            }
            let target = target(
                &key,
                RawTargets {
                    target_variant: &s.target_variant,
                    inference_component: &s.inference_component,
                    target_model: &s.target_model,
                    target_container_hostname: &s.target_container_hostname,
                },
            )?;
            let comparator =
                Comparator::new(s.match_pointer.as_deref(), s.tolerance).map_err(|e| {
                    let field = match e {
                        ComparatorError::Pointer(_) => "match",
                        ComparatorError::Tolerance(_) => "tolerance",
                    };
                    ConfigError::invalid(format!("{key}.{field}"), e.to_string())
                })?;
            Ok(Shadow {
                name: s.name.clone(),
                endpoint: s.endpoint.clone(),
                share: s.share,
                timeout: Duration::from_millis(timeout_ms),
                target,
                comparator,
                custom_attributes: format!("experiment={experiment};shadow={}", s.name),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::config::Config;

    fn with(shadow: Value) -> Result<Config, crate::config::ConfigError> {
        let v = json!({"experiment": "e", "version": "v", "salt": "s",
            "arms": [{"name": "control", "endpoint": "a", "weight": 10000}], "shadow": shadow});
        Config::parse(&v.to_string())
    }

    #[test]
    fn shadows_are_checked_by_key() {
        let c = with(json!([{"name": "next", "endpoint": "c", "share": 1000, "timeout_ms": 300,
                              "match": "/label", "tolerance": 0.01, "inference_component": "ic-c"}])).unwrap();
        let s = &c.shadows()[0];
        assert_eq!(
            (s.name(), s.share(), s.timeout().as_millis()),
            ("next", 1000, 300)
        );
        assert_eq!(s.custom_attributes(), "experiment=e;shadow=next");
        let cases = [
            (
                json!([{"name": "control", "endpoint": "c", "share": 1}]),
                "shadow[0].name: `control` is also an arm's name",
            ),
            (
                json!([{"name": "n", "endpoint": "c", "share": 10001}]),
                "shadow[0].share: 10001 is outside",
            ),
            (
                json!([{"name": "n", "endpoint": "c", "share": -1}]),
                "shadow[0].share: invalid value",
            ),
            (
                json!([{"name": "n", "endpoint": "c", "share": 1}, {"name": "n", "endpoint": "d", "share": 1}]),
                "shadow[1].name: shadow `n` is listed twice",
            ),
            (
                json!([{"name": "n", "endpoint": "c", "share": 1, "match": "label"}]),
                "shadow[0].match: `label` is not a JSON pointer",
            ),
            (
                json!([{"name": "n", "endpoint": "c", "share": 1, "tolerance": -1}]),
                "shadow[0].tolerance:",
            ),
            (
                json!([{"name": "n", "endpoint": "c", "share": 1, "timeout_ms": 0}]),
                "shadow[0].timeout_ms:",
            ),
            (
                json!([{"name": "n", "endpoint": "c", "share": 1, "shre": 2}]),
                "shadow[0].shre: unknown key",
            ),
        ];
        for (shadow, want) in cases {
            let err = with(shadow).unwrap_err().to_string();
            assert!(err.starts_with(want), "got `{err}`, want `{want}`");
        }
    }
}

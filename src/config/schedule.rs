//! Lockstep schedules: the split changes at given instants, by each instance's own clock, so
//! every instance switches together with no coordination. A config is a list of phases: the
//! top-level version and weights (in force before the first step), then each step in force from
//! its `at` (inclusive) until the next step's.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::error::ConfigError;
use super::raw::RawConfig;
use crate::assign::{BUCKETS, Split};

/// A split in force over a span of time: the top level, or one schedule step.
#[derive(Debug, Clone)]
pub struct Phase {
    at: Option<(SystemTime, String)>,
    version: String,
    weights: Vec<u32>,
    split: Split,
    weights_json: Arc<Value>,
}

impl Phase {
    fn new(
        at: Option<(SystemTime, String)>,
        version: String,
        names: &[&str],
        weights: Vec<u32>,
    ) -> Self {
        let weights_json = Arc::new(Value::Array(
            names
                .iter()
                .zip(&weights)
                .map(|(n, w)| serde_json::json!([n, w]))
                .collect(),
        ));
        Phase {
            at,
            split: Split::from_weights(&weights),
            version,
            weights,
            weights_json,
        }
    }

    /// When the phase starts; `None` for the top level, in force before the first step.
    pub fn at(&self) -> Option<SystemTime> {
        self.at.as_ref().map(|(t, _)| *t)
    }

    /// `at` as written in the config (RFC 3339).
    pub fn at_text(&self) -> Option<&str> {
        self.at.as_ref().map(|(_, s)| s.as_str())
    }

    /// The version records and the `X-Canary-Config-Version` header carry in this phase.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Each arm's weight in this phase, in config order.
    pub fn weights(&self) -> &[u32] {
        &self.weights
    }

    /// The arms as bucket ranges in this phase.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// `[["control", 9000], ...]` for this phase's records.
    pub fn weights_json(&self) -> &Arc<Value> {
        &self.weights_json
    }
}

/// The phases of a checked config: the top level first, then each step in time order.
pub(crate) fn phases(raw: &RawConfig) -> Result<Vec<Phase>, ConfigError> {
    let names: Vec<&str> = raw.arms.iter().map(|a| a.name.as_str()).collect();
    let top = Phase::new(
        None,
        raw.version.clone(),
        &names,
        raw.arms.iter().map(|a| a.weight).collect(),
    );
    let mut out = vec![top];
    let mut versions: HashSet<&str> = HashSet::from([raw.version.as_str()]);
    let mut previous: Option<SystemTime> = None;
    for (i, step) in raw.schedule.iter().flatten().enumerate() {
        let key = format!("schedule[{i}]");
        let at = parse_rfc3339(&step.at).ok_or_else(|| {
            ConfigError::invalid(
                format!("{key}.at"),
                format!(
                    "`{}` is not an RFC 3339 time like 2026-12-03T10:00:00Z",
                    step.at
                ),
            )
        })?;
        if previous.is_some_and(|p| at <= p) {
            return Err(ConfigError::invalid(
                format!("{key}.at"),
                "must be later than the step before it (steps are in time order)",
            ));
        }
        previous = Some(at);
        if step.version.trim().is_empty() {
            return Err(ConfigError::invalid(
                format!("{key}.version"),
                "must not be empty",
            ));
        }
        if !versions.insert(step.version.as_str()) {
            return Err(ConfigError::invalid(
                format!("{key}.version"),
                format!(
                    "`{}` is already used by the config or an earlier step: each step has its own version",
                    step.version
                ),
            ));
        }
        if let Some(unknown) = step.weights.keys().find(|n| !names.contains(&n.as_str())) {
            return Err(ConfigError::invalid(
                format!("{key}.weights.{unknown}"),
                format!("names arm `{unknown}`, which is not in `arms`"),
            ));
        }
        let mut weights = Vec::with_capacity(names.len());
        for name in &names {
            let w = *step.weights.get(*name).ok_or_else(|| {
                ConfigError::invalid(
                    format!("{key}.weights"),
                    format!("has no weight for arm `{name}`: a step gives every arm its weight"),
                )
            })?;
            if w > BUCKETS {
                return Err(ConfigError::invalid(
                    format!("{key}.weights.{name}"),
                    format!("{w} is above 10000 basis points"),
                ));
            }
            weights.push(w);
        }
        let sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        if sum != u64::from(BUCKETS) {
            return Err(ConfigError::invalid(
                format!("{key}.weights"),
                format!("weights sum to {sum}, not 10000"),
            ));
        }
        out.push(Phase::new(
            Some((at, step.at.clone())),
            step.version.clone(),
            &names,
            weights,
        ));
    }
    Ok(out)
}

/// The index of the phase in force at `now`: the last step whose `at` has come, else the top
/// level. Pure: every instance that reads the same clock picks the same phase.
pub fn phase_index_at(phases: &[Phase], now: SystemTime) -> usize {
    phases
        .iter()
        .rposition(|p| p.at().is_some_and(|at| at <= now))
        .unwrap_or(0)
}

/// An RFC 3339 instant as a `SystemTime`.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let t =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    Some(SystemTime::from(t))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;
    use crate::config::Config;

    fn with_schedule(schedule: Value) -> Result<Config, ConfigError> {
        let mut v = serde_json::json!({
            "experiment": "e", "version": "v0", "salt": "s",
            "arms": [{"name": "control", "endpoint": "a", "weight": 9000},
                     {"name": "canary", "endpoint": "b", "weight": 1000}]
        });
        v["schedule"] = schedule;
        Config::parse(&v.to_string())
    }

    fn step(at: &str, version: &str, canary: u32) -> Value {
        serde_json::json!({"at": at, "version": version,
                           "weights": {"control": 10000 - canary, "canary": canary}})
    }

    #[test]
    fn the_step_in_force_follows_the_clock() {
        let c = with_schedule(serde_json::json!([
            step("2026-12-03T10:00:00Z", "v1", 2500),
            step("2026-12-03T12:00:00+00:00", "v2", 10000)
        ]))
        .unwrap();
        let t = |s: &str| parse_rfc3339(s).unwrap();
        let at = |s: &str| c.phase_at(t(s)).version().to_owned();
        assert_eq!(at("2026-12-03T09:59:59.999Z"), "v0");
        assert_eq!(
            at("2026-12-03T10:00:00Z"),
            "v1",
            "a step is in force from its at"
        );
        assert_eq!(at("2026-12-03T11:59:59Z"), "v1");
        assert_eq!(at("2026-12-03T12:00:00Z"), "v2");
        assert_eq!(at("2030-01-01T00:00:00Z"), "v2", "after the last step");
        assert_eq!(
            c.phase_at(t("2026-12-03T11:00:00Z")).weights(),
            [7500, 2500]
        );
        assert_eq!(c.phases()[1].at_text(), Some("2026-12-03T10:00:00Z"));
    }

    #[test]
    fn steps_in_the_past_are_valid() {
        let c = with_schedule(serde_json::json!([step(
            "2001-01-01T00:00:00Z",
            "v1",
            5000
        )]))
        .unwrap();
        assert_eq!(c.phase_at(SystemTime::now()).version(), "v1");
    }

    #[test]
    fn invalid_schedules_name_their_key() {
        let cases = [
            (
                serde_json::json!([step("tomorrow", "v1", 1)]),
                "schedule[0].at: `tomorrow` is not an RFC 3339",
            ),
            (
                serde_json::json!([
                    step("2026-12-03T12:00:00Z", "v1", 1),
                    step("2026-12-03T12:00:00Z", "v2", 2)
                ]),
                "schedule[1].at: must be later",
            ),
            (
                serde_json::json!([
                    step("2026-12-03T12:00:00Z", "v1", 1),
                    step("2026-12-03T11:00:00Z", "v2", 2)
                ]),
                "schedule[1].at: must be later",
            ),
            (
                serde_json::json!([step("2026-12-03T12:00:00Z", "v0", 1)]),
                "schedule[0].version: `v0` is already used",
            ),
            (
                serde_json::json!([
                    step("2026-12-03T12:00:00Z", "v1", 1),
                    step("2026-12-04T12:00:00Z", "v1", 2)
                ]),
                "schedule[1].version: `v1` is already used",
            ),
            (
                serde_json::json!([{"at": "2026-12-03T12:00:00Z", "version": "v1", "weights": {"control": 10000}}]),
                "schedule[0].weights: has no weight for arm `canary`",
            ),
            (
                serde_json::json!([{"at": "2026-12-03T12:00:00Z", "version": "v1", "weights": {"control": 5000, "canary": 4000}}]),
                "schedule[0].weights: weights sum to 9000",
            ),
            (
                serde_json::json!([{"at": "2026-12-03T12:00:00Z", "version": "v1", "weights": {"control": 5000, "canary": 5000, "blue": 0}}]),
                "schedule[0].weights.blue: names arm `blue`",
            ),
            (
                serde_json::json!([{"at": "2026-12-03T12:00:00Z", "version": "v1", "weights": {"control": 5000, "canary": 5000}, "wieghts": 1}]),
                "schedule[0].wieghts: unknown key",
            ),
        ];
        for (schedule, want) in cases {
            let err = with_schedule(schedule).unwrap_err().to_string();
            assert!(err.starts_with(want), "got `{err}`, want `{want}`");
        }
    }

    proptest! {
        #[test]
        fn the_phase_in_force_is_the_last_one_started(offsets in proptest::collection::btree_set(0u64..100_000, 1..6), probe in 0u64..120_000) {
            let base = parse_rfc3339("2026-12-03T00:00:00Z").unwrap();
            let steps: Vec<Value> = offsets.iter().enumerate().map(|(i, off)| {
                let at = time::OffsetDateTime::from(base + Duration::from_secs(*off))
                    .format(&time::format_description::well_known::Rfc3339).unwrap();
                step(&at, &format!("v{}", i + 1), u32::try_from(i).unwrap() * 100)
            }).collect();
            let c = with_schedule(Value::Array(steps)).unwrap();
            let now = base + Duration::from_secs(probe);
            let started = offsets.iter().filter(|o| **o <= probe).count();
            prop_assert_eq!(c.phase_at(now).version(), format!("v{started}"));
            // Monotone in time: a later instant never goes back to an earlier phase.
            let later = phase_index_at(c.phases(), now + Duration::from_secs(1));
            prop_assert!(later >= phase_index_at(c.phases(), now));
        }
    }
}

//! What a reload may change under the same version: anything but the split. Records carry the
//! version, so two splits under one version would mix in every analysis. A version stays bound
//! to the split it was first served with for the life of the process, not just until the next
//! reload: v1 → v2 → v1 with another split is refused too.

use std::collections::HashMap;

use super::error::ConfigError;
use super::raw::{RawArm, RawConfig};
use super::schedule::Phase;

/// What a version binds: the experiment, the salt and every arm's name, weight and endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitKey {
    experiment: String,
    salt: String,
    arms: Vec<(String, u32, String)>,
}

/// Every version a config names (the top level and each schedule step) with its split.
pub(crate) fn split_keys(raw: &RawConfig, phases: &[Phase]) -> Vec<(String, SplitKey)> {
    phases
        .iter()
        .map(|phase| {
            let arms = raw
                .arms
                .iter()
                .zip(phase.weights())
                .map(|(RawArm { name, endpoint, .. }, w)| (name.clone(), *w, endpoint.clone()))
                .collect();
            let key = SplitKey {
                experiment: raw.experiment.clone(),
                salt: raw.salt.clone(),
                arms,
            };
            (phase.version().to_owned(), key)
        })
        .collect()
}

/// Every version this process has served (or will serve: schedule steps count from the moment
/// their config is accepted), with the split it was served with.
#[derive(Debug, Clone, Default)]
pub struct VersionBook {
    splits: HashMap<String, SplitKey>,
}

impl VersionBook {
    /// Refuses the whole set if any version in it is bound to another split; binds them all
    /// otherwise.
    pub(crate) fn bind_all(&mut self, keys: Vec<(String, SplitKey)>) -> Result<(), ConfigError> {
        if let Some((version, _)) = keys
            .iter()
            .find(|(v, k)| self.splits.get(v).is_some_and(|bound| bound != k))
        {
            return Err(changed(version));
        }
        for (version, key) in keys {
            self.splits.entry(version).or_insert(key);
        }
        Ok(())
    }

    /// Whether the set would be refused, binding nothing.
    pub(crate) fn check_all(&self, keys: &[(String, SplitKey)]) -> Result<(), ConfigError> {
        match keys
            .iter()
            .find(|(v, k)| self.splits.get(v).is_some_and(|bound| bound != k))
        {
            Some((version, _)) => Err(changed(version)),
            None => Ok(()),
        }
    }
}

fn changed(version: &str) -> ConfigError {
    ConfigError::invalid(
        "version",
        format!(
            "`{version}` was already served with another experiment, salt, arms or weights: give the new config a new version"
        ),
    )
}

/// Refuses `next` when it changes the experiment, salt, arms or weights but keeps the version.
pub(crate) fn check_reload(current: &RawConfig, next: &RawConfig) -> Result<(), ConfigError> {
    if current.version != next.version {
        return Ok(());
    }
    let same_split = current.salt == next.salt
        && current.arms.len() == next.arms.len()
        && current
            .arms
            .iter()
            .zip(&next.arms)
            .all(|(a, b)| a.name == b.name && a.weight == b.weight && a.endpoint == b.endpoint);
    if same_split && current.experiment == next.experiment {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "version",
            format!(
                "`{}` is unchanged but the experiment, salt, arms or weights changed: give the new config a new version",
                next.version
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(version: &str, canary: u32) -> Config {
        let text = format!(
            r#"{{"experiment": "e", "version": "{version}", "salt": "s", "arms": [
                {{"name": "control", "endpoint": "a", "weight": {}}},
                {{"name": "canary", "endpoint": "b", "weight": {canary}}}]}}"#,
            10_000 - canary
        );
        Config::parse(&text).unwrap()
    }

    #[test]
    fn a_version_stays_bound_to_its_first_split() {
        let mut book = VersionBook::default();
        config("v1", 1000).bind_versions(&mut book).unwrap();
        config("v2", 5000).bind_versions(&mut book).unwrap();
        let err = config("v1", 2000)
            .bind_versions(&mut book)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("version: `v1` was already served"), "{err}");
        config("v1", 1000).bind_versions(&mut book).unwrap();
        assert!(config("v2", 9000).check_versions(&book).is_err());
    }
}

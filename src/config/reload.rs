//! What a reload may change under the same version: anything but the split. Records carry the
//! version, so two splits under one version would mix in every analysis. A version stays bound
//! to the split it was first served with for the life of the process, not just until the next
//! reload: v1 → v2 → v1 with another split is refused too.

use std::collections::HashMap;

use super::error::ConfigError;
use super::raw::{RawArm, RawConfig};

/// What a version binds: the experiment, the salt and every arm's name, weight and endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SplitKey {
    experiment: String,
    salt: String,
    arms: Vec<(String, u32, String)>,
}

impl SplitKey {
    fn of(raw: &RawConfig) -> Self {
        SplitKey {
            experiment: raw.experiment.clone(),
            salt: raw.salt.clone(),
            arms: raw
                .arms
                .iter()
                .map(
                    |RawArm {
                         name,
                         weight,
                         endpoint,
                         ..
                     }| (name.clone(), *weight, endpoint.clone()),
                )
                .collect(),
        }
    }
}

/// Every version this process has served, with the split it was served with.
#[derive(Debug, Clone, Default)]
pub struct VersionBook {
    splits: HashMap<String, SplitKey>,
}

impl VersionBook {
    /// Refuses `next` if its version was served with another split; binds it otherwise.
    pub fn bind(&mut self, next: &super::Config) -> Result<(), ConfigError> {
        self.check(next)?;
        self.splits
            .entry(next.raw.version.clone())
            .or_insert_with(|| SplitKey::of(&next.raw));
        Ok(())
    }

    /// Refuses `next` if its version was served with another split, binding nothing.
    pub fn check(&self, next: &super::Config) -> Result<(), ConfigError> {
        match self.splits.get(&next.raw.version) {
            Some(bound) if *bound != SplitKey::of(&next.raw) => Err(changed(&next.raw.version)),
            _ => Ok(()),
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
    use super::super::Config;
    use super::*;

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
        book.bind(&config("v1", 1000)).unwrap();
        book.bind(&config("v2", 5000)).unwrap();
        let err = book.bind(&config("v1", 2000)).unwrap_err().to_string();
        assert!(err.starts_with("version: `v1` was already served"), "{err}");
        book.bind(&config("v1", 1000)).unwrap();
        assert!(book.check(&config("v2", 9000)).is_err());
    }
}

//! What a reload may change under the same version: anything but the split. Records carry the
//! version, so two splits under one version would mix in every analysis.

use super::error::ConfigError;
use super::raw::RawConfig;

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

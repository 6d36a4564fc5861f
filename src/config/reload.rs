//! What a reload may change under the same version: anything but the split. Records carry the
//! version, so two splits under one version would mix in every analysis.

use super::{Config, ConfigError};

impl Config {
    /// Refuses a reload that changes the experiment, salt, arms or weights but keeps the version.
    pub fn check_reload(&self, next: &Config) -> Result<(), ConfigError> {
        if self.raw.version != next.raw.version {
            return Ok(());
        }
        let same_split =
            self.raw.salt == next.raw.salt
                && self.raw.arms.len() == next.raw.arms.len()
                && self.raw.arms.iter().zip(&next.raw.arms).all(|(a, b)| {
                    a.name == b.name && a.weight == b.weight && a.endpoint == b.endpoint
                });
        if same_split && self.raw.experiment == next.raw.experiment {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                "version",
                format!(
                    "`{}` is unchanged but the experiment, salt, arms or weights changed: give the new config a new version",
                    next.raw.version
                ),
            ))
        }
    }
}

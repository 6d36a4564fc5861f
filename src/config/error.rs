//! Why a config (or any keyed document: the emulator's models file, a transform spec) cannot be
//! used: one keyed error that names the key and the reason, and the loading errors around it.

use std::path::PathBuf;

/// A value that is not acceptable, named by its key path (`arms[1].weight`) with the reason.
/// Shared by the router config, the transforms and the emulator's models file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct Invalid {
    /// The key path, as a user would look it up in the document.
    pub key: String,
    /// What is wrong and, where possible, how to fix it.
    pub reason: String,
}

impl Invalid {
    /// An invalid value at `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// A config that cannot be loaded or served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No source names a config.
    #[error("no router config: set CANARY_CONFIG (inline JSON) or CANARY_CONFIG_FILE (a path)")]
    Missing,
    /// A source is set to nothing.
    #[error("{var} is set but empty: give it a config, or unset it")]
    Empty {
        /// The variable.
        var: &'static str,
    },
    /// More than one source names a config.
    #[error("set at most one of CANARY_CONFIG, CANARY_CONFIG_FILE and CANARY_APPCONFIG")]
    BothSources,
    /// A variable that says where the config comes from cannot be used.
    #[error("{var}: {reason}")]
    Environment {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The config file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file named by the source.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The document is not a valid config.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid(Invalid::new(key, reason))
    }
}

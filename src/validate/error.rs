//! Why `validate` stopped, with its exit status.

/// Why `validate` failed.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The arguments do not fit the config.
    #[error("{0}")]
    Usage(String),
    /// The golden file cannot be read.
    #[error("cannot read the golden file {path}: {source}")]
    GoldenRead {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The golden file has unusable lines (named in the output) or none at all.
    #[error("golden file {path}: {reason}")]
    Golden {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A threshold was not met.
    #[error("the arm did not pass: {0}")]
    Failed(String),
    /// The recorded golden file or the output cannot be written.
    #[error("cannot write {what}: {source}")]
    Write {
        /// What was being written.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ValidateError {
    /// The contract's exit status: 1 a threshold failed; 2 bad usage, config or golden file; 3 I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            ValidateError::Failed(_) => 1,
            ValidateError::Usage(_) | ValidateError::Golden { .. } => 2,
            ValidateError::GoldenRead { .. } | ValidateError::Write { .. } => 3,
        }
    }
}

//! Why a report could not be produced, and the exit status that says so.

/// Why the report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An input could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The input, as named in the report (`-` for stdin).
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file, or `stdout`.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The arguments do not fit the data (an unknown `--control` arm, a bad `--n-star`).
    #[error("{0}")]
    Usage(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
    /// `--fail-on-srm`, and a sample-ratio check flagged a phase.
    #[error("--fail-on-srm: a sample-ratio check flagged a phase")]
    SrmFlagged,
}

impl ReportError {
    /// The contract's exit status: 1 for a flagged `--fail-on-srm`, 2 for bad usage, 3 for I/O
    /// and runtime errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::SrmFlagged => 1,
            ReportError::Usage(_) => 2,
            ReportError::Io { .. } | ReportError::Write { .. } | ReportError::Internal(_) => 3,
        }
    }
}

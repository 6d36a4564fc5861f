//! The one error of the command line: every subcommand's failure, with its exit status, printed
//! once by `main`.

use crate::config::{ConfigError, FetchError};
use crate::demo::DemoError;
use crate::emulator::{EmulateError, ModelsError};
use crate::identity::KeyError;
use crate::plan::PlanError;
use crate::report::ReportError;
use crate::sagemaker::SdkConfigError;
use crate::validate::error::ValidateError;

/// Why a subcommand (or Lambda mode) stopped.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The router config cannot be loaded or is invalid.
    #[error("config: {0}")]
    Config(#[from] ConfigError),
    /// A cookie key cannot be used.
    #[error("cookie key: {0}")]
    Key(#[from] KeyError),
    /// Cookies are on and no key is set where one is required.
    #[error(
        "cookies are enabled but CANARY_COOKIE_KEY is not set: set it to a base64 key of at least 64 bytes (openssl rand -base64 64), or set cookie.enabled to false"
    )]
    NoCookieKey,
    /// The AppConfig extension gave no document at start-up.
    #[error("AppConfig {target}: {error}")]
    AppConfig {
        /// `APP/ENV/PROFILE`.
        target: String,
        /// Why.
        error: FetchError,
    },
    /// The SDK config cannot be used.
    #[error(transparent)]
    Sdk(#[from] SdkConfigError),
    /// `emulate` failed.
    #[error(transparent)]
    Emulate(#[from] EmulateError),
    /// The bundled demo models did not load.
    #[error("the bundled demo models: {0}")]
    Models(#[from] ModelsError),
    /// `report` failed.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// `plan` failed, or a step moves more than `--max-move`.
    #[error("plan: {0}")]
    Plan(#[from] PlanError),
    /// `validate` failed, or the arm did not pass.
    #[error("validate: {0}")]
    Validate(#[from] ValidateError),
    /// `demo` failed, or its checks did not pass.
    #[error("demo: {0}")]
    Demo(#[from] DemoError),
    /// An I/O failure: a port in use, an unreadable file.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime or the Lambda runtime stopped.
    #[error("{0}")]
    Runtime(String),
}

impl CliError {
    /// The contract's exit status: 1 a check failed; 2 bad usage or bad config; 3 a runtime or
    /// I/O error.
    pub fn exit_code(&self) -> u8 {
        match self {
            // A config that names a file nobody can read is a runtime problem, not a bad config.
            CliError::Config(ConfigError::Read { .. }) => 3,
            CliError::Config(_) | CliError::Key(_) | CliError::NoCookieKey | CliError::Sdk(_) => 2,
            CliError::Models(ModelsError::Invalid(_)) => 2,
            CliError::Models(ModelsError::Read { .. }) => 3,
            CliError::Emulate(e) => e.exit_code(),
            CliError::Validate(e) => e.exit_code(),
            // A 4xx means the names in CANARY_APPCONFIG are wrong; anything else that the
            // extension cannot be reached or failed.
            CliError::AppConfig {
                error: FetchError::Status { status, .. },
                ..
            } if (400..500).contains(status) => 2,
            CliError::AppConfig { .. } => 3,
            CliError::Report(e) => e.exit_code(),
            CliError::Plan(e) => e.exit_code(),
            CliError::Demo(e) => e.exit_code(),
            CliError::Io { .. } | CliError::Runtime(_) => 3,
        }
    }

    /// An I/O failure while doing `context`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

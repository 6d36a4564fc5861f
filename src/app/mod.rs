//! Start-up wiring shared by both front doors: config, cookie keys and the SDK client, each
//! built once, and the command line's one error type with its exit codes.

mod error;

pub use error::CliError;

use crate::config::{self, Config, Env, Source};
use crate::front::appconfig::AppConfigClient;
use crate::identity::CookieKeys;
use crate::record::StdoutSink;
use crate::router::Router;
use crate::sagemaker::{SdkInvoker, local_sdk_config, sdk_config};

/// The router as both front doors run it: the AWS SDK behind it, records on stdout.
pub type SdkRouter = Router<SdkInvoker, StdoutSink>;

/// What to do when no cookie key is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKey {
    /// Refuse to start (Lambda: cookies minted by one instance must verify on every other).
    Refuse,
    /// Generate a key for this process, with a notice (local `serve`).
    Ephemeral,
    /// No cookie is read or minted (`validate` calls one arm directly): a key for this process,
    /// silently.
    Unused,
}

/// A config document and where it came from: a file is watched, AppConfig is asked again.
pub struct Loaded {
    /// The JSON document.
    pub text: String,
    /// Its source.
    pub source: Source,
    /// For an AppConfig source, the client that keeps asking.
    pub appconfig: Option<AppConfigClient>,
}

/// The config from `--config FILE`, else the environment (`CANARY_CONFIG`, `CANARY_CONFIG_FILE`,
/// `CANARY_APPCONFIG`); `None` when nothing names one. An AppConfig document is fetched here,
/// waiting a little for an extension that is still starting.
pub async fn load_config(
    env: &dyn Env,
    file: Option<&std::path::Path>,
) -> Result<Option<Loaded>, CliError> {
    if let Some(path) = file {
        let text = config::read_file(env, path)?;
        return Ok(Some(Loaded {
            text,
            source: Source::File(path.to_owned()),
            appconfig: None,
        }));
    }
    match config::source_from_env(env)? {
        None => Ok(None),
        Some((Some(text), source)) => Ok(Some(Loaded {
            text,
            source,
            appconfig: None,
        })),
        Some((None, Source::AppConfig(target))) => {
            let client = AppConfigClient::new(target.clone());
            let doc = client
                .fetch_at_start()
                .await
                .map_err(|error| CliError::AppConfig {
                    target: target.name(),
                    error,
                })?;
            Ok(Some(Loaded {
                text: doc.text,
                source: Source::AppConfig(target),
                appconfig: Some(client),
            }))
        }
        Some((None, source)) => Err(CliError::Runtime(format!(
            "the config source {source:?} gave no document"
        ))),
    }
}

/// Cookie keys from `CANARY_COOKIE_KEY` and `CANARY_COOKIE_KEY_PREVIOUS`.
pub fn cookie_keys(
    env: &dyn Env,
    config: &Config,
    missing: MissingKey,
) -> Result<CookieKeys, CliError> {
    if missing == MissingKey::Unused {
        return Ok(CookieKeys::ephemeral());
    }
    match env
        .var("CANARY_COOKIE_KEY")
        .filter(|k| !k.trim().is_empty())
    {
        Some(key) => Ok(CookieKeys::from_base64(
            &key,
            env.var("CANARY_COOKIE_KEY_PREVIOUS").as_deref(),
        )?),
        None if !config.cookie().enabled => Ok(CookieKeys::ephemeral()),
        None if missing == MissingKey::Ephemeral => {
            tracing::warn!(
                "CANARY_COOKIE_KEY is not set: using an ephemeral key, so cookies will not survive a restart"
            );
            Ok(CookieKeys::ephemeral())
        }
        None => Err(CliError::NoCookieKey),
    }
}

/// Which SageMaker Runtime the router calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SageMaker<'a> {
    /// The SDK's standard chain (and `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`).
    FromEnv,
    /// A local emulator at this URL, with static local credentials.
    Emulator(&'a str),
}

/// The one way a router is built for Lambda mode and `serve`: the config validated, the cookie
/// keys, the SDK config loaded once, records on stdout.
pub async fn build_router(
    env: &dyn Env,
    text: &str,
    missing: MissingKey,
    sagemaker: SageMaker<'_>,
) -> Result<SdkRouter, CliError> {
    let config = Config::parse(text)?;
    let keys = cookie_keys(env, &config, missing)?;
    let sdk = match sagemaker {
        SageMaker::FromEnv => sdk_config(env).await?,
        SageMaker::Emulator(url) => local_sdk_config(url).await,
    };
    Ok(Router::new(config, keys, SdkInvoker::new(&sdk), StdoutSink))
}

//! The router configuration: JSON parsed with every unknown key named, validated as a whole,
//! compiled into the form the handler reads. One file per concern; loading goes through the
//! `Env` seam so that tests never touch the environment.

mod appconfig;
mod arms;
mod cookie;
mod cors;
pub mod error;
pub(crate) mod names;
mod overrides;
mod parse;
mod raw;
mod reload;
mod schedule;
mod shadow;
mod source;
mod target;
mod timeouts;

use http::HeaderName;

pub use appconfig::{
    AppConfigTarget, DEFAULT_APPCONFIG_PORT, DEFAULT_REFRESH_MS, Document, FetchError,
    MAX_DOCUMENT_BYTES, MIN_REFRESH_MS, read_answer,
};
pub use arms::Arm;
pub use cookie::{
    CookieSettings, DEFAULT_COOKIE_MAX_AGE_DAYS, DEFAULT_COOKIE_NAME,
    DEFAULT_COOKIE_RENEW_BEFORE_DAYS, SameSite,
};
pub use cors::Cors;
pub use error::{ConfigError, Invalid};
pub use overrides::{
    CountryRule, DEFAULT_FORCED_HEADER, DEFAULT_FORCED_SECRET_HEADER, ForcedRule, Overrides,
};
pub(crate) use parse::parse_document;
pub use reload::VersionBook;
pub use schedule::{Phase, parse_rfc3339, phase_index_at};
pub use shadow::{DEFAULT_SHADOW_TIMEOUT_MS, Shadow};
pub use source::{Env, ProcessEnv, Source, read_file, source_from_env, text_from_env};
pub use target::Target;
pub use timeouts::{
    DEFAULT_ATTEMPT_TIMEOUT_MS, DEFAULT_STREAM_IDLE_MS, DEFAULT_STREAM_TOTAL_MS,
    DEFAULT_TOTAL_TIMEOUT_MS, MAX_TOTAL_TIMEOUT_MS, Timeouts,
};

use names::{header_name, is_media_range, non_empty};
use raw::RawConfig;

/// The user ID header when the config names none.
pub const DEFAULT_USER_HEADER: &str = "X-User-Id";
/// Request content types accepted when the config lists none: the ones SageMaker's built-in
/// containers take.
pub const DEFAULT_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/jsonlines",
    "text/csv",
    "text/plain",
    "application/x-npy",
    "application/x-recordio-protobuf",
    "application/x-image",
    "application/octet-stream",
    "image/*",
    "audio/*",
];
/// CloudWatch namespace of the EMF metrics when the config names none.
pub const DEFAULT_METRICS_NAMESPACE: &str = "CanaryRouter";
/// Longest experiment name: a CloudWatch dimension value.
const MAX_EXPERIMENT_LEN: usize = 255;
/// Longest config version.
const MAX_VERSION_LEN: usize = 128;

/// The validated config, with every default resolved: what the handler reads.
#[derive(Debug, Clone)]
pub struct Config {
    raw: RawConfig,
    arms: Vec<Arm>,
    /// The top level first, then each schedule step in time order.
    phases: Vec<Phase>,
    shadows: Vec<Shadow>,
    fallback: Option<usize>,
    user_header: HeaderName,
    cookie: CookieSettings,
    cors: Option<Cors>,
    overrides: Overrides,
    timeouts: Timeouts,
    content_types: Vec<String>,
    metrics_namespace: String,
}

impl Config {
    /// Parses and validates a whole config; nothing is served from a config that fails here.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = parse_document(text, "config")?;
        Config::from_raw(raw)
    }

    /// Validates a parsed config and resolves its defaults.
    fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        check_names(&raw)?;
        let index = arms::check_arms(&raw.arms)?;
        let arm_index = |key: String, name: &str| -> Result<usize, ConfigError> {
            index.get(name).copied().ok_or_else(|| {
                ConfigError::invalid(key, format!("names arm `{name}`, which is not in `arms`"))
            })
        };
        let fallback = match &raw.fallback {
            Some(name) => Some(arm_index("fallback".into(), name)?),
            None => None,
        };
        let user_header = header_name(
            "user_header",
            raw.user_header.as_deref().unwrap_or(DEFAULT_USER_HEADER),
        )?;
        let cookie = cookie::cookie_settings(raw.cookie.as_ref())?;
        let cors = raw.cors.as_ref().map(cors::cors_settings).transpose()?;
        let overrides = match &raw.overrides {
            Some(o) => overrides::overrides(o, &arm_index)?,
            None => Overrides::default(),
        };
        let timeouts = timeouts::timeouts(raw.timeouts.as_ref())?;
        let content_types = content_types(raw.content_types.as_deref())?;
        let metrics_namespace = raw
            .metrics_namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_owned());
        check_namespace(&metrics_namespace)?;
        if let Some(p) = &raw.preprocess {
            p.validate("preprocess")?;
        }
        if let Some(p) = &raw.postprocess {
            p.validate("postprocess")?;
        }
        let arms = arms::build_arms(&raw);
        let phases = schedule::phases(&raw)?;
        let shadows = shadow::shadows(
            raw.shadow.as_deref().unwrap_or_default(),
            &raw.arms,
            &raw.experiment,
        )?;
        Ok(Config {
            raw,
            arms,
            phases,
            shadows,
            fallback,
            user_header,
            cookie,
            cors,
            overrides,
            timeouts,
            content_types,
            metrics_namespace,
        })
    }

    /// The experiment's name (an EMF dimension).
    pub fn experiment(&self) -> &str {
        &self.raw.experiment
    }

    /// The top-level version: in force before the first schedule step. Requests carry the
    /// version of the phase in force ([`Config::phase_at`]).
    pub fn version(&self) -> &str {
        &self.raw.version
    }

    /// The salt of the bucketing hash.
    pub fn salt(&self) -> &str {
        &self.raw.salt
    }

    /// The arms in config order; the first is the control.
    pub fn arms(&self) -> &[Arm] {
        &self.arms
    }

    /// The arm with this index (indexes come from this config's split and overrides).
    pub fn arm(&self, index: usize) -> Option<&Arm> {
        self.arms.get(index)
    }

    /// The index of the arm with this name.
    pub fn arm_index(&self, name: &str) -> Option<usize> {
        self.arms.iter().position(|a| a.name() == name)
    }

    /// The shadow targets.
    pub fn shadows(&self) -> &[Shadow] {
        &self.shadows
    }

    /// The top level, then each schedule step in time order.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// The phase in force at `now` (the top level when the config has no schedule).
    pub fn phase_at(&self, now: std::time::SystemTime) -> &Phase {
        let i = phase_index_at(&self.phases, now);
        &self.phases[i.min(self.phases.len().saturating_sub(1))]
    }

    /// The phase in force at `now` and the one after it, if any.
    pub fn phases_around(&self, now: std::time::SystemTime) -> (&Phase, Option<&Phase>) {
        let i = phase_index_at(&self.phases, now);
        (
            &self.phases[i.min(self.phases.len().saturating_sub(1))],
            self.phases.get(i + 1),
        )
    }

    /// The arm that answers when the assigned arm's endpoint fails.
    pub fn fallback(&self) -> Option<usize> {
        self.fallback
    }

    /// The user ID header.
    pub fn user_header(&self) -> &HeaderName {
        &self.user_header
    }

    /// Identity cookie settings.
    pub fn cookie(&self) -> &CookieSettings {
        &self.cookie
    }

    /// CORS settings, when browsers on other origins may call.
    pub fn cors(&self) -> Option<&Cors> {
        self.cors.as_ref()
    }

    /// Overrides that win over buckets.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// Timeouts of the SageMaker call.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Accepted request content types (lower case; `image/*` ranges allowed).
    pub fn content_types(&self) -> &[String] {
        &self.content_types
    }

    /// CloudWatch namespace of the EMF metrics.
    pub fn metrics_namespace(&self) -> &str {
        &self.metrics_namespace
    }

    /// Refuses a reload that changes the experiment, salt, arms or weights but keeps the version.
    pub fn check_reload(&self, next: &Config) -> Result<(), ConfigError> {
        reload::check_reload(&self.raw, &next.raw)
    }

    /// Binds every version this config names (top level and schedule steps) to its split in
    /// `book`, or refuses the config if one of them is bound to another split already.
    pub fn bind_versions(&self, book: &mut VersionBook) -> Result<(), ConfigError> {
        book.bind_all(reload::split_keys(&self.raw, &self.phases))
    }

    /// Whether [`Config::bind_versions`] would refuse this config, binding nothing.
    pub fn check_versions(&self, book: &VersionBook) -> Result<(), ConfigError> {
        book.check_all(&reload::split_keys(&self.raw, &self.phases))
    }
}

/// The top-level names: experiment, version, salt. The experiment is a CloudWatch dimension
/// value and the version goes into a response header and every record, so both are short
/// printable ASCII.
fn check_names(raw: &RawConfig) -> Result<(), ConfigError> {
    non_empty("experiment", &raw.experiment)?;
    if raw.experiment.len() > MAX_EXPERIMENT_LEN {
        return Err(ConfigError::invalid(
            "experiment",
            "longer than 255 characters (a CloudWatch dimension value)",
        ));
    }
    if !is_printable_ascii(&raw.experiment) {
        return Err(ConfigError::invalid(
            "experiment",
            "must be printable ASCII without control characters (a CloudWatch dimension value)",
        ));
    }
    non_empty("version", &raw.version)?;
    if raw.version.len() > MAX_VERSION_LEN || !is_printable_ascii(&raw.version) {
        return Err(ConfigError::invalid(
            "version",
            format!(
                "must be 1 to {MAX_VERSION_LEN} printable ASCII characters: it is sent in the X-Canary-Config-Version header and written in every record"
            ),
        ));
    }
    if raw.salt.is_empty() {
        return Err(ConfigError::invalid(
            "salt",
            "must not be empty: give each experiment its own salt so experiments do not share buckets",
        ));
    }
    Ok(())
}

/// CloudWatch's namespace rule: 1 to 255 of letters, digits and `.-_/#: `, not `AWS/...`.
fn check_namespace(ns: &str) -> Result<(), ConfigError> {
    non_empty("metrics_namespace", ns)?;
    let valid = ns.len() <= 255
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#: ".contains(&b))
        && !ns.starts_with("AWS/");
    if valid {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            "metrics_namespace",
            format!(
                "`{ns}` is not a CloudWatch namespace (up to 255 letters, digits and . - _ / # : or space; not AWS/...)"
            ),
        ))
    }
}

fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

fn content_types(list: Option<&[String]>) -> Result<Vec<String>, ConfigError> {
    let Some(list) = list else {
        return Ok(DEFAULT_CONTENT_TYPES
            .iter()
            .map(|t| (*t).to_owned())
            .collect());
    };
    for (i, t) in list.iter().enumerate() {
        if !is_media_range(t) {
            return Err(ConfigError::invalid(
                format!("content_types[{i}]"),
                format!("`{t}` is not a media type like `application/json` or `image/*`"),
            ));
        }
    }
    if list.is_empty() {
        return Err(ConfigError::invalid("content_types", "is empty"));
    }
    Ok(list.iter().map(|t| t.to_ascii_lowercase()).collect())
}

#[cfg(test)]
mod tests;

//! The router configuration: parsed from JSON, validated as a whole, compiled into the form the
//! handler uses. Loading goes through a seam (`Env`) so that tests never touch the environment.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::assign::{BUCKETS, Split};
use crate::transform::{PostSpec, PreSpec, keys_of};

/// The user ID header when the config names none.
pub const DEFAULT_USER_HEADER: &str = "X-User-Id";
/// The cookie name when the config names none.
pub const DEFAULT_COOKIE_NAME: &str = "canary_uid";
/// Cookie lifetime when the config sets none: long enough for a multi-week A/B test.
pub const DEFAULT_COOKIE_MAX_AGE_DAYS: u32 = 90;
/// A valid cookie is re-issued when it has fewer days left than this.
pub const DEFAULT_COOKIE_RENEW_BEFORE_DAYS: u32 = 30;
/// Per-attempt SageMaker timeout when the config sets none.
pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 2_000;
/// Total SageMaker timeout (both attempts) when the config sets none; below the template's
/// 10 s function timeout so the router, not Lambda, answers a slow model.
pub const DEFAULT_TOTAL_TIMEOUT_MS: u64 = 5_000;
/// API Gateway's integration limit: a longer timeout could never be answered.
pub const MAX_TOTAL_TIMEOUT_MS: u64 = 29_000;
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

/// A config that cannot be loaded or served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no router config: set CANARY_CONFIG (inline JSON) or CANARY_CONFIG_FILE (a path)")]
    Missing,
    #[error("set either CANARY_CONFIG or CANARY_CONFIG_FILE, not both")]
    BothSources,
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The config as written (after defaults are *not* applied): what reload compares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawConfig {
    pub experiment: String,
    pub version: String,
    pub salt: String,
    pub arms: Vec<RawArm>,
    pub fallback: Option<String>,
    pub user_header: Option<String>,
    pub cookie: Option<RawCookie>,
    pub cors: Option<RawCors>,
    pub overrides: Option<RawOverrides>,
    pub timeouts: Option<RawTimeouts>,
    pub content_types: Option<Vec<String>>,
    pub metrics_namespace: Option<String>,
    pub preprocess: Option<PreSpec>,
    pub postprocess: Option<PostSpec>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One arm as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawArm {
    pub name: String,
    pub endpoint: String,
    pub weight: u32,
    pub target_variant: Option<String>,
    pub preprocess: Option<PreSpec>,
    pub postprocess: Option<PostSpec>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Cookie settings as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawCookie {
    pub enabled: Option<bool>,
    pub name: Option<String>,
    pub max_age_days: Option<u32>,
    pub renew_before_days: Option<u32>,
    pub secure: Option<bool>,
    pub same_site: Option<String>,
    pub domain: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// CORS settings as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawCors {
    pub allowed_origins: Vec<String>,
    pub max_age_seconds: Option<u32>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Overrides as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawOverrides {
    /// Arm name to the raw user IDs pinned to it.
    pub users: Option<BTreeMap<String, Vec<String>>>,
    pub country: Option<RawCountry>,
    pub forced: Option<RawForced>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Country rule as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawCountry {
    pub header: String,
    /// Country code to arm name.
    pub arms: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// QA forcing as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawForced {
    pub header: Option<String>,
    pub secret_header: Option<String>,
    /// Hex SHA-256 of the secret, so that the config does not hold the secret itself.
    pub secret_sha256: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Timeouts as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawTimeouts {
    pub attempt_ms: Option<u64>,
    pub total_ms: Option<u64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The validated config, with every default resolved: what the handler reads.
#[derive(Debug, Clone)]
pub struct Config {
    pub raw: RawConfig,
    pub arms: Vec<Arm>,
    pub split: Split,
    pub fallback: Option<usize>,
    pub user_header: HeaderName,
    pub cookie: CookieSettings,
    pub cors: Option<Cors>,
    pub overrides: Overrides,
    pub timeouts: Timeouts,
    pub content_types: Vec<String>,
    pub metrics_namespace: String,
    /// `[["control", 9000], ...]`, pre-serialised for every record.
    pub weights: Arc<Value>,
}

/// One arm, ready to serve.
#[derive(Debug, Clone)]
pub struct Arm {
    pub name: String,
    pub endpoint: String,
    pub weight: u32,
    pub target_variant: Option<String>,
    /// The arm's own pre-processing, else the global one.
    pub preprocess: Option<Arc<PreSpec>>,
    /// The arm's own post-processing, else the global one.
    pub postprocess: Option<Arc<PostSpec>>,
    /// `experiment=...;arm=...`, sent as SageMaker custom attributes.
    pub custom_attributes: String,
}

/// SameSite attribute of the identity cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

/// Identity cookie settings with defaults resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    pub enabled: bool,
    pub name: String,
    pub max_age: Duration,
    pub renew_before: Duration,
    pub secure: bool,
    pub same_site: SameSite,
    pub domain: Option<String>,
}

/// Allowed CORS origins (credentials are always allowed for them: cookies need it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub allowed_origins: Vec<String>,
    pub max_age_seconds: u32,
}

/// Overrides with arm names resolved to indexes.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub users: HashMap<String, usize>,
    pub country: Option<CountryRule>,
    pub forced: Option<ForcedRule>,
}

/// Arm by country code, read from one configured header.
#[derive(Debug, Clone)]
pub struct CountryRule {
    pub header: HeaderName,
    /// Upper-case country code to arm index.
    pub arms: HashMap<String, usize>,
}

/// A QA header that forces an arm when it comes with the secret.
#[derive(Debug, Clone)]
pub struct ForcedRule {
    pub header: HeaderName,
    pub secret_header: HeaderName,
    pub secret_sha256: [u8; 32],
}

/// Per-attempt and total timeouts of the SageMaker call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeouts {
    pub attempt: Duration,
    pub total: Duration,
}

/// Header of the QA forced arm when the config names none.
pub const DEFAULT_FORCED_HEADER: &str = "X-Canary-Force-Arm";
/// Header carrying the QA secret when the config names none.
pub const DEFAULT_FORCED_SECRET_HEADER: &str = "X-Canary-Force-Secret";

/// Where configuration comes from: the process environment in production, a map in tests.
pub trait Env {
    /// The value of a variable, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// The contents of a file.
    fn read(&self, path: &Path) -> std::io::Result<String>;
}

/// The real environment and file system.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Where a config came from, for messages and reloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Inline,
    File(PathBuf),
}

/// Reads the config text from `CANARY_CONFIG` or `CANARY_CONFIG_FILE`; `None` when neither is set.
pub fn text_from_env(env: &dyn Env) -> Result<Option<(String, Source)>, ConfigError> {
    let inline = env.var("CANARY_CONFIG").filter(|v| !v.trim().is_empty());
    let file = env
        .var("CANARY_CONFIG_FILE")
        .filter(|v| !v.trim().is_empty());
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::BothSources),
        (Some(text), None) => Ok(Some((text, Source::Inline))),
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            read_file(env, &path).map(|t| Some((t, Source::File(path))))
        }
        (None, None) => Ok(None),
    }
}

/// Reads a config file through the seam.
pub fn read_file(env: &dyn Env, path: &Path) -> Result<String, ConfigError> {
    env.read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

impl Config {
    /// Parses and validates a whole config; nothing is served from a config that fails here.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { "config".to_owned() } else { key };
            ConfigError::invalid(key, e.into_inner().to_string())
        })?;
        Config::from_raw(raw)
    }

    /// Validates a parsed config and resolves its defaults.
    pub fn from_raw(raw: RawConfig) -> Result<Config, ConfigError> {
        check_unknown_keys(&raw)?;
        non_empty("experiment", &raw.experiment)?;
        if raw.experiment.len() > 255 {
            return Err(ConfigError::invalid(
                "experiment",
                "longer than 255 characters (a CloudWatch dimension value)",
            ));
        }
        non_empty("version", &raw.version)?;
        if raw.salt.is_empty() {
            return Err(ConfigError::invalid(
                "salt",
                "must not be empty: give each experiment its own salt so experiments do not share buckets",
            ));
        }
        if raw.arms.is_empty() {
            return Err(ConfigError::invalid("arms", "needs at least one arm"));
        }
        let mut index = HashMap::new();
        for (i, arm) in raw.arms.iter().enumerate() {
            let key = format!("arms[{i}]");
            if !is_token(&arm.name, 64) {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    format!("`{}` must match [A-Za-z0-9_.-]{{1,64}}", arm.name),
                ));
            }
            if index.insert(arm.name.as_str(), i).is_some() {
                return Err(ConfigError::invalid(
                    format!("{key}.name"),
                    format!("arm `{}` is listed twice", arm.name),
                ));
            }
            if !is_sagemaker_name(&arm.endpoint) {
                return Err(ConfigError::invalid(
                    format!("{key}.endpoint"),
                    format!(
                        "`{}` is not a SageMaker endpoint name (letters, digits and hyphens, up to 63)",
                        arm.endpoint
                    ),
                ));
            }
            if let Some(v) = &arm.target_variant
                && !is_sagemaker_name(v)
            {
                return Err(ConfigError::invalid(
                    format!("{key}.target_variant"),
                    format!("`{v}` is not a SageMaker variant name"),
                ));
            }
            if arm.weight > BUCKETS {
                return Err(ConfigError::invalid(
                    format!("{key}.weight"),
                    format!("{} is above 10000 basis points", arm.weight),
                ));
            }
            if let Some(p) = &arm.preprocess {
                p.validate(&format!("{key}.preprocess"))
                    .map_err(|(k, r)| ConfigError::invalid(k, r))?;
            }
            if let Some(p) = &arm.postprocess {
                p.validate(&format!("{key}.postprocess"))
                    .map_err(|(k, r)| ConfigError::invalid(k, r))?;
            }
        }
        let sum: u32 = raw.arms.iter().map(|a| a.weight).sum();
        if sum != BUCKETS {
            return Err(ConfigError::invalid(
                format!("arms[{}].weight", raw.arms.len() - 1),
                format!("weights sum to {sum}, not 10000"),
            ));
        }
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
        let cookie = cookie_settings(raw.cookie.as_ref())?;
        let cors = match &raw.cors {
            Some(c) => Some(cors_settings(c)?),
            None => None,
        };
        let overrides = match &raw.overrides {
            Some(o) => overrides(o, &arm_index)?,
            None => Overrides::default(),
        };
        let timeouts = timeouts(raw.timeouts.as_ref())?;
        let content_types = match &raw.content_types {
            Some(list) => {
                for (i, t) in list.iter().enumerate() {
                    if !is_media_range(t) {
                        return Err(ConfigError::invalid(
                            format!("content_types[{i}]"),
                            format!(
                                "`{t}` is not a media type like `application/json` or `image/*`"
                            ),
                        ));
                    }
                }
                if list.is_empty() {
                    return Err(ConfigError::invalid("content_types", "is empty"));
                }
                list.iter().map(|t| t.to_ascii_lowercase()).collect()
            }
            None => DEFAULT_CONTENT_TYPES
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
        };
        let metrics_namespace = raw
            .metrics_namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.to_owned());
        non_empty("metrics_namespace", &metrics_namespace)?;
        if let Some(p) = &raw.preprocess {
            p.validate("preprocess")
                .map_err(|(k, r)| ConfigError::invalid(k, r))?;
        }
        if let Some(p) = &raw.postprocess {
            p.validate("postprocess")
                .map_err(|(k, r)| ConfigError::invalid(k, r))?;
        }
        let global_pre = raw.preprocess.clone().map(Arc::new);
        let global_post = raw.postprocess.clone().map(Arc::new);
        let arms: Vec<Arm> = raw
            .arms
            .iter()
            .map(|a| Arm {
                name: a.name.clone(),
                endpoint: a.endpoint.clone(),
                weight: a.weight,
                target_variant: a.target_variant.clone(),
                preprocess: a.preprocess.clone().map(Arc::new).or(global_pre.clone()),
                postprocess: a.postprocess.clone().map(Arc::new).or(global_post.clone()),
                custom_attributes: format!("experiment={};arm={}", raw.experiment, a.name),
            })
            .collect();
        let split = Split::from_weights(&arms.iter().map(|a| a.weight).collect::<Vec<_>>());
        let weights = Arc::new(Value::Array(
            arms.iter()
                .map(|a| serde_json::json!([a.name, a.weight]))
                .collect(),
        ));
        Ok(Config {
            raw,
            arms,
            split,
            fallback,
            user_header,
            cookie,
            cors,
            overrides,
            timeouts,
            content_types,
            metrics_namespace,
            weights,
        })
    }

    /// Refuses a reload that changes salt, arms or weights but keeps the version: records of
    /// two different splits would carry one `config_version` and mix in every analysis.
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

    /// The arm with this name.
    pub fn arm_index(&self, name: &str) -> Option<usize> {
        self.arms.iter().position(|a| a.name == name)
    }
}

fn check_unknown_keys(raw: &RawConfig) -> Result<(), ConfigError> {
    let mut unknown = keys_of(&raw.extra, "");
    for (i, a) in raw.arms.iter().enumerate() {
        let key = format!("arms[{i}]");
        unknown.extend(keys_of(&a.extra, &key));
        if let Some(p) = &a.preprocess {
            unknown.extend(p.unknown_keys(&format!("{key}.preprocess")));
        }
        if let Some(p) = &a.postprocess {
            unknown.extend(p.unknown_keys(&format!("{key}.postprocess")));
        }
    }
    if let Some(c) = &raw.cookie {
        unknown.extend(keys_of(&c.extra, "cookie"));
    }
    if let Some(c) = &raw.cors {
        unknown.extend(keys_of(&c.extra, "cors"));
    }
    if let Some(o) = &raw.overrides {
        unknown.extend(keys_of(&o.extra, "overrides"));
        if let Some(c) = &o.country {
            unknown.extend(keys_of(&c.extra, "overrides.country"));
        }
        if let Some(f) = &o.forced {
            unknown.extend(keys_of(&f.extra, "overrides.forced"));
        }
    }
    if let Some(t) = &raw.timeouts {
        unknown.extend(keys_of(&t.extra, "timeouts"));
    }
    if let Some(p) = &raw.preprocess {
        unknown.extend(p.unknown_keys("preprocess"));
    }
    if let Some(p) = &raw.postprocess {
        unknown.extend(p.unknown_keys("postprocess"));
    }
    match unknown.first() {
        None => Ok(()),
        Some(key) => Err(ConfigError::invalid(
            key.trim_start_matches('.'),
            "unknown key (a typo would silently switch a feature off; prefix notes with `x-`)",
        )),
    }
}

fn non_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::invalid(key, "must not be empty"))
    } else {
        Ok(())
    }
}

fn is_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// SageMaker's name pattern: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`.
fn is_sagemaker_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn is_media_range(s: &str) -> bool {
    let mut parts = s.split('/');
    let (Some(t), Some(sub), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    ok(t) && (sub == "*" || ok(sub))
}

fn header_name(key: &str, value: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(value.as_bytes()).map_err(|_| {
        ConfigError::invalid(key, format!("`{value}` is not a valid HTTP header name"))
    })
}

fn cookie_settings(raw: Option<&RawCookie>) -> Result<CookieSettings, ConfigError> {
    let get = |f: fn(&RawCookie) -> Option<u32>, default| raw.and_then(f).unwrap_or(default);
    let name = raw
        .and_then(|c| c.name.clone())
        .unwrap_or_else(|| DEFAULT_COOKIE_NAME.to_owned());
    if !is_token(&name, 64) {
        return Err(ConfigError::invalid(
            "cookie.name",
            format!("`{name}` must match [A-Za-z0-9_.-]{{1,64}}"),
        ));
    }
    let max_age_days = get(|c| c.max_age_days, DEFAULT_COOKIE_MAX_AGE_DAYS);
    if !(1..=400).contains(&max_age_days) {
        return Err(ConfigError::invalid(
            "cookie.max_age_days",
            format!("{max_age_days} is outside 1..=400 (browsers cap cookies at 400 days)"),
        ));
    }
    let renew_before_days = get(|c| c.renew_before_days, DEFAULT_COOKIE_RENEW_BEFORE_DAYS)
        .min(max_age_days.saturating_sub(1));
    if raw
        .and_then(|c| c.renew_before_days)
        .is_some_and(|d| d >= max_age_days)
    {
        return Err(ConfigError::invalid(
            "cookie.renew_before_days",
            "must be below max_age_days",
        ));
    }
    let secure = raw.and_then(|c| c.secure).unwrap_or(true);
    let same_site = match raw.and_then(|c| c.same_site.as_deref()).unwrap_or("Lax") {
        s if s.eq_ignore_ascii_case("lax") => SameSite::Lax,
        s if s.eq_ignore_ascii_case("strict") => SameSite::Strict,
        s if s.eq_ignore_ascii_case("none") => SameSite::None,
        other => {
            return Err(ConfigError::invalid(
                "cookie.same_site",
                format!("`{other}` is not one of Lax, Strict, None"),
            ));
        }
    };
    if same_site == SameSite::None && !secure {
        return Err(ConfigError::invalid(
            "cookie.same_site",
            "None requires secure: true (browsers drop SameSite=None cookies without Secure)",
        ));
    }
    let domain = raw.and_then(|c| c.domain.clone());
    if let Some(d) = &domain
        && (d.is_empty() || d.contains([';', ',', ' ']))
    {
        return Err(ConfigError::invalid(
            "cookie.domain",
            format!("`{d}` is not a domain"),
        ));
    }
    const DAY: u64 = 86_400;
    Ok(CookieSettings {
        enabled: raw.and_then(|c| c.enabled).unwrap_or(true),
        name,
        max_age: Duration::from_secs(u64::from(max_age_days) * DAY),
        renew_before: Duration::from_secs(u64::from(renew_before_days) * DAY),
        secure,
        same_site,
        domain,
    })
}

fn cors_settings(raw: &RawCors) -> Result<Cors, ConfigError> {
    for (i, origin) in raw.allowed_origins.iter().enumerate() {
        let key = format!("cors.allowed_origins[{i}]");
        if origin == "*" {
            return Err(ConfigError::invalid(
                key,
                "`*` cannot be used with credentials (cookies): list the origins",
            ));
        }
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let valid = rest.is_some_and(|host| {
            !host.is_empty() && !host.contains('/') && !host.contains(char::is_whitespace)
        });
        if !valid {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "`{origin}` is not an origin like https://app.example.com (no path, no trailing slash)"
                ),
            ));
        }
    }
    Ok(Cors {
        allowed_origins: raw.allowed_origins.clone(),
        max_age_seconds: raw.max_age_seconds.unwrap_or(600),
    })
}

fn overrides(
    raw: &RawOverrides,
    arm_index: &dyn Fn(String, &str) -> Result<usize, ConfigError>,
) -> Result<Overrides, ConfigError> {
    let mut out = Overrides::default();
    for (arm, users) in raw.users.iter().flatten() {
        let idx = arm_index(format!("overrides.users.{arm}"), arm)?;
        for (i, user) in users.iter().enumerate() {
            let key = format!("overrides.users.{arm}[{i}]");
            let id = user.trim();
            if id.is_empty() || id.len() > 256 {
                return Err(ConfigError::invalid(key, "user IDs are 1 to 256 bytes"));
            }
            if let Some(prev) = out.users.insert(id.to_owned(), idx)
                && prev != idx
            {
                return Err(ConfigError::invalid(
                    key,
                    "this user is also listed under another arm",
                ));
            }
        }
    }
    if let Some(c) = &raw.country {
        let header = header_name("overrides.country.header", &c.header)?;
        let mut arms = HashMap::new();
        for (code, arm) in &c.arms {
            let idx = arm_index(format!("overrides.country.arms.{code}"), arm)?;
            if code.trim().is_empty() {
                return Err(ConfigError::invalid(
                    "overrides.country.arms",
                    "empty country code",
                ));
            }
            arms.insert(code.trim().to_ascii_uppercase(), idx);
        }
        out.country = Some(CountryRule { header, arms });
    }
    if let Some(f) = &raw.forced {
        let header = header_name(
            "overrides.forced.header",
            f.header.as_deref().unwrap_or(DEFAULT_FORCED_HEADER),
        )?;
        let secret_header = header_name(
            "overrides.forced.secret_header",
            f.secret_header
                .as_deref()
                .unwrap_or(DEFAULT_FORCED_SECRET_HEADER),
        )?;
        let secret_sha256 = parse_sha256(&f.secret_sha256).ok_or_else(|| {
            ConfigError::invalid(
                "overrides.forced.secret_sha256",
                "must be 64 hex digits: the SHA-256 of the secret (`printf %s SECRET | sha256sum`)",
            )
        })?;
        out.forced = Some(ForcedRule {
            header,
            secret_header,
            secret_sha256,
        });
    }
    Ok(out)
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn timeouts(raw: Option<&RawTimeouts>) -> Result<Timeouts, ConfigError> {
    let attempt = raw
        .and_then(|t| t.attempt_ms)
        .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT_MS);
    let total = raw
        .and_then(|t| t.total_ms)
        .unwrap_or(DEFAULT_TOTAL_TIMEOUT_MS.max(attempt));
    if attempt == 0 {
        return Err(ConfigError::invalid(
            "timeouts.attempt_ms",
            "must be above 0",
        ));
    }
    if total < attempt {
        return Err(ConfigError::invalid(
            "timeouts.total_ms",
            format!("{total} is below attempt_ms ({attempt})"),
        ));
    }
    if total > MAX_TOTAL_TIMEOUT_MS {
        return Err(ConfigError::invalid(
            "timeouts.total_ms",
            format!("{total} is above API Gateway's 29000 ms limit"),
        ));
    }
    Ok(Timeouts {
        attempt: Duration::from_millis(attempt),
        total: Duration::from_millis(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "experiment": "imgclf-lr",
            "version": "2026-11-26.1",
            "salt": "imgclf-lr-1",
            "arms": [
                {"name": "control", "endpoint": "imgclf-a", "weight": 9000},
                {"name": "canary", "endpoint": "imgclf-b", "weight": 1000, "target_variant": "VariantB"}
            ]
        })
    }

    fn with(mut v: Value, pointer: &str, new: Value) -> Value {
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            &mut v
        } else {
            v.pointer_mut(parent).unwrap()
        };
        match target {
            Value::Object(o) => {
                o.insert(key.to_owned(), new);
            }
            Value::Array(a) => a[key.parse::<usize>().unwrap()] = new,
            _ => panic!("bad pointer"),
        }
        v
    }

    fn error_of(v: Value) -> String {
        Config::parse(&v.to_string()).unwrap_err().to_string()
    }

    #[test]
    fn contract_example_parses_with_defaults() {
        let c = Config::parse(&base().to_string()).unwrap();
        assert_eq!(c.arms.len(), 2);
        assert_eq!(c.user_header, "x-user-id");
        assert_eq!(c.cookie.name, "canary_uid");
        assert!(c.cookie.secure && c.cookie.enabled);
        assert_eq!(c.cookie.same_site, SameSite::Lax);
        assert_eq!(c.cookie.max_age, Duration::from_secs(90 * 86_400));
        assert_eq!(c.timeouts.attempt, Duration::from_millis(2000));
        assert_eq!(c.timeouts.total, Duration::from_millis(5000));
        assert_eq!(*c.weights, json!([["control", 9000], ["canary", 1000]]));
        assert_eq!(
            c.arms[1].custom_attributes,
            "experiment=imgclf-lr;arm=canary"
        );
        assert_eq!(c.split.arm_for(8999), 0);
        assert_eq!(c.split.arm_for(9000), 1);
    }

    #[test]
    fn each_error_names_its_key_and_reason() {
        let cases: Vec<(Value, &str)> = vec![
            (
                with(base(), "/arms/1/weight", json!(900)),
                "arms[1].weight: weights sum to 9900, not 10000",
            ),
            (
                with(base(), "/arms/1/wieght", json!(1)),
                "arms[1].wieght: unknown key",
            ),
            (
                with(base(), "/colour", json!("blue")),
                "colour: unknown key",
            ),
            (
                with(base(), "/arms/0/weight", json!(-1)),
                "arms[0].weight: invalid value: integer `-1`",
            ),
            (
                with(base(), "/arms/0/weight", json!(10001)),
                "arms[0].weight: 10001 is above 10000",
            ),
            (
                with(base(), "/arms", json!([])),
                "arms: needs at least one arm",
            ),
            (
                with(base(), "/arms/1/name", json!("control")),
                "arms[1].name: arm `control` is listed twice",
            ),
            (
                with(base(), "/arms/1/name", json!("bad name")),
                "arms[1].name: `bad name` must match",
            ),
            (
                with(base(), "/arms/0/endpoint", json!("no_underscores")),
                "arms[0].endpoint: `no_underscores` is not a SageMaker endpoint name",
            ),
            (with(base(), "/salt", json!("")), "salt: must not be empty"),
            (
                with(base(), "/version", json!(" ")),
                "version: must not be empty",
            ),
            (
                with(base(), "/fallback", json!("blue")),
                "fallback: names arm `blue`, which is not in `arms`",
            ),
            (
                with(base(), "/overrides", json!({"users": {"green": ["u1"]}})),
                "overrides.users.green: names arm `green`",
            ),
            (
                with(
                    base(),
                    "/overrides",
                    json!({"users": {"control": ["u1"], "canary": ["u1"]}}),
                ),
                "overrides.users.control[0]: this user is also listed under another arm",
            ),
            (
                with(
                    base(),
                    "/overrides",
                    json!({"country": {"header": "CloudFront-Viewer-Country", "arms": {"FR": "nope"}}}),
                ),
                "overrides.country.arms.FR: names arm `nope`",
            ),
            (
                with(
                    base(),
                    "/overrides",
                    json!({"forced": {"secret_sha256": "abc"}}),
                ),
                "overrides.forced.secret_sha256: must be 64 hex digits",
            ),
            (
                with(
                    base(),
                    "/cookie",
                    json!({"same_site": "None", "secure": false}),
                ),
                "cookie.same_site: None requires secure",
            ),
            (
                with(base(), "/cookie", json!({"same_site": "Sideways"})),
                "cookie.same_site: `Sideways` is not one of",
            ),
            (
                with(base(), "/cookie", json!({"max_age_days": 500})),
                "cookie.max_age_days: 500 is outside",
            ),
            (
                with(base(), "/cookie", json!({"renew_before_days": 90})),
                "cookie.renew_before_days: must be below",
            ),
            (
                with(base(), "/cors", json!({"allowed_origins": ["*"]})),
                "cors.allowed_origins[0]: `*` cannot be used",
            ),
            (
                with(
                    base(),
                    "/cors",
                    json!({"allowed_origins": ["https://a.example/"]}),
                ),
                "cors.allowed_origins[0]: `https://a.example/` is not an origin",
            ),
            (
                with(
                    base(),
                    "/timeouts",
                    json!({"attempt_ms": 3000, "total_ms": 1000}),
                ),
                "timeouts.total_ms: 1000 is below attempt_ms",
            ),
            (
                with(base(), "/timeouts", json!({"total_ms": 40000})),
                "timeouts.total_ms: 40000 is above",
            ),
            (
                with(base(), "/content_types", json!(["json"])),
                "content_types[0]: `json` is not a media type",
            ),
            (
                with(base(), "/user_header", json!("bad header")),
                "user_header: `bad header` is not a valid HTTP header name",
            ),
            (
                with(
                    base(),
                    "/preprocess",
                    json!({"normalize": {"x": {"mean": 0, "std": 0}}}),
                ),
                "preprocess.normalize.x.std: must be a number above 0",
            ),
            (
                with(
                    base(),
                    "/arms/1/postprocess",
                    json!({"top_k": {"field": "p", "k": 1}}),
                ),
                "arms[1].postprocess.top_k.field: `p` is not a JSON Pointer",
            ),
            (
                with(base(), "/arms/1/preprocess", json!({"requires": []})),
                "arms[1].preprocess.requires: unknown key",
            ),
        ];
        for (config, want) in cases {
            let got = error_of(config);
            assert!(got.starts_with(want), "got `{got}`, want `{want}...`");
        }
        let missing = json!({"experiment": "e", "version": "v", "salt": "s"});
        assert!(error_of(missing).contains("missing field `arms`"));
        assert!(
            Config::parse("{not json")
                .unwrap_err()
                .to_string()
                .contains("key must be a string")
        );
    }

    #[test]
    fn extension_keys_and_zero_weights_are_allowed() {
        let v = with(base(), "/x-owner", json!("ml-team"));
        let v = with(v, "/arms/0/x-note", json!("the old model"));
        let v = with(v, "/arms/0/weight", json!(10000));
        let v = with(v, "/arms/1/weight", json!(0));
        let c = Config::parse(&v.to_string()).unwrap();
        assert!((0..BUCKETS).all(|b| c.split.arm_for(b) == 0));
    }

    #[test]
    fn per_arm_transforms_replace_the_global_ones() {
        let v = with(base(), "/preprocess", json!({"require": ["features"]}));
        let v = with(v, "/arms/1/preprocess", json!({"require": ["pixels"]}));
        let c = Config::parse(&v.to_string()).unwrap();
        assert_eq!(
            c.arms[0].preprocess.as_ref().unwrap().require,
            vec!["features"]
        );
        assert_eq!(
            c.arms[1].preprocess.as_ref().unwrap().require,
            vec!["pixels"]
        );
        assert!(c.arms[0].postprocess.is_none());
    }

    #[test]
    fn overrides_resolve_to_arm_indexes() {
        let digest = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
        let v = with(
            base(),
            "/overrides",
            json!({
                "users": {"canary": ["qa-alice", " qa-bob "]},
                "country": {"header": "CloudFront-Viewer-Country", "arms": {"fr": "canary"}},
                "forced": {"secret_sha256": digest}
            }),
        );
        let c = Config::parse(&v.to_string()).unwrap();
        assert_eq!(c.overrides.users.get("qa-bob"), Some(&1));
        let country = c.overrides.country.unwrap();
        assert_eq!(country.arms.get("FR"), Some(&1));
        let forced = c.overrides.forced.unwrap();
        assert_eq!(forced.header, "x-canary-force-arm");
        assert_eq!(forced.secret_sha256[0], 0x5e);
    }

    #[test]
    fn reload_under_the_same_version_must_not_change_the_split() {
        let old = Config::parse(&base().to_string()).unwrap();
        let ramp = with(base(), "/arms/0/weight", json!(5000));
        let ramp = with(ramp, "/arms/1/weight", json!(5000));
        let same_version = Config::parse(&ramp.to_string()).unwrap();
        let err = old.check_reload(&same_version).unwrap_err().to_string();
        assert!(
            err.starts_with("version: `2026-11-26.1` is unchanged"),
            "{err}"
        );
        let new_version =
            Config::parse(&with(ramp, "/version", json!("2026-11-26.2")).to_string()).unwrap();
        old.check_reload(&new_version).unwrap();
        // A change that does not touch the split (a new timeout) may keep the version.
        let tweak =
            Config::parse(&with(base(), "/timeouts", json!({"attempt_ms": 100})).to_string())
                .unwrap();
        old.check_reload(&tweak).unwrap();
        let salt = Config::parse(&with(base(), "/salt", json!("other")).to_string()).unwrap();
        assert!(old.check_reload(&salt).is_err());
    }

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
        fn read(&self, path: &Path) -> std::io::Result<String> {
            if path == Path::new("/etc/canary.json") {
                Ok("{}".into())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                ))
            }
        }
    }

    #[test]
    fn env_sources() {
        let env = MapEnv(HashMap::from([("CANARY_CONFIG", "{\"a\":1}")]));
        assert_eq!(
            text_from_env(&env).unwrap(),
            Some(("{\"a\":1}".into(), Source::Inline))
        );
        let env = MapEnv(HashMap::from([("CANARY_CONFIG_FILE", "/etc/canary.json")]));
        assert_eq!(
            text_from_env(&env).unwrap(),
            Some(("{}".into(), Source::File("/etc/canary.json".into())))
        );
        let env = MapEnv(HashMap::from([
            ("CANARY_CONFIG", "{}"),
            ("CANARY_CONFIG_FILE", "/x"),
        ]));
        assert!(matches!(text_from_env(&env), Err(ConfigError::BothSources)));
        let env = MapEnv(HashMap::from([("CANARY_CONFIG_FILE", "/missing.json")]));
        let err = text_from_env(&env).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read config file /missing.json"),
            "{err}"
        );
        assert_eq!(text_from_env(&MapEnv(HashMap::new())).unwrap(), None);
    }
}

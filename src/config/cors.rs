//! CORS settings: the origins allowed to call the router with credentials.

use super::error::ConfigError;
use super::raw::RawCors;

/// Allowed CORS origins (credentials are always allowed for them: cookies need it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Exact origins, `https://app.example.com`.
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age_seconds: u32,
}

pub(crate) fn cors_settings(raw: &RawCors) -> Result<Cors, ConfigError> {
    if raw.allowed_origins.is_empty() {
        return Err(ConfigError::invalid(
            "cors.allowed_origins",
            "is empty: list the origins allowed to call the router, or remove `cors`",
        ));
    }
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

//! Identity cookie settings: name, lifetime, renewal and the attributes browsers check.

use std::time::Duration;

use super::error::ConfigError;
use super::names::is_token;
use super::raw::RawCookie;

/// The cookie name when the config names none.
pub const DEFAULT_COOKIE_NAME: &str = "canary_uid";
/// Cookie lifetime when the config sets none: long enough for a multi-week A/B test.
pub const DEFAULT_COOKIE_MAX_AGE_DAYS: u32 = 90;
/// A valid cookie is re-issued when it has fewer days left than this.
pub const DEFAULT_COOKIE_RENEW_BEFORE_DAYS: u32 = 30;

/// SameSite attribute of the identity cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites (the default).
    Lax,
    /// Never sent from other sites.
    Strict,
    /// Sent everywhere; needs `Secure`.
    None,
}

/// Identity cookie settings with defaults resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// Whether anonymous users get a minted ID in a cookie.
    pub enabled: bool,
    /// The cookie's name.
    pub name: String,
    /// Lifetime; older cookies are refused by the server itself.
    pub max_age: Duration,
    /// A valid cookie with less than this left is re-issued.
    pub renew_before: Duration,
    /// The `Secure` attribute.
    pub secure: bool,
    /// The `SameSite` attribute.
    pub same_site: SameSite,
    /// The `Domain` attribute, if any.
    pub domain: Option<String>,
}

const DAY_SECS: u64 = 86_400;

pub(crate) fn cookie_settings(raw: Option<&RawCookie>) -> Result<CookieSettings, ConfigError> {
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
    if raw
        .and_then(|c| c.renew_before_days)
        .is_some_and(|d| d >= max_age_days)
    {
        return Err(ConfigError::invalid(
            "cookie.renew_before_days",
            "must be below max_age_days",
        ));
    }
    let renew_before_days = get(|c| c.renew_before_days, DEFAULT_COOKIE_RENEW_BEFORE_DAYS)
        .min(max_age_days.saturating_sub(1));
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
    Ok(CookieSettings {
        enabled: raw.and_then(|c| c.enabled).unwrap_or(true),
        name,
        max_age: Duration::from_secs(u64::from(max_age_days) * DAY_SECS),
        renew_before: Duration::from_secs(u64::from(renew_before_days) * DAY_SECS),
        secure,
        same_site,
        domain,
    })
}

//! Overrides that win over buckets: a user allow-list, a country header, and a QA header that
//! forces an arm when it comes with the secret.

use std::collections::HashMap;

use http::HeaderName;
use sha2::{Digest, Sha256};

use super::error::ConfigError;
use super::names::header_name;
use super::raw::RawOverrides;

/// Header of the QA forced arm when the config names none.
pub const DEFAULT_FORCED_HEADER: &str = "X-Canary-Force-Arm";
/// Header carrying the QA secret when the config names none.
pub const DEFAULT_FORCED_SECRET_HEADER: &str = "X-Canary-Force-Secret";

/// Overrides with arm names resolved to indexes.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    users: HashMap<String, usize>,
    country: Option<CountryRule>,
    forced: Option<ForcedRule>,
}

impl Overrides {
    /// The arm a listed user is pinned to.
    pub fn user_arm(&self, unit_id: &str) -> Option<usize> {
        self.users.get(unit_id).copied()
    }

    /// Every listed user with the arm they are pinned to.
    pub fn users(&self) -> impl Iterator<Item = (&str, usize)> {
        self.users.iter().map(|(u, a)| (u.as_str(), *a))
    }

    /// The country rule, if configured.
    pub fn country(&self) -> Option<&CountryRule> {
        self.country.as_ref()
    }

    /// The QA forcing rule, if configured.
    pub fn forced(&self) -> Option<&ForcedRule> {
        self.forced.as_ref()
    }
}

/// Arm by country code, read from one configured header.
#[derive(Debug, Clone)]
pub struct CountryRule {
    header: HeaderName,
    /// Upper-case country code to arm index.
    arms: HashMap<String, usize>,
}

impl CountryRule {
    /// The header carrying the country code (`CloudFront-Viewer-Country`).
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The arm for a country code as sent (trimmed, any case).
    pub fn arm_for(&self, code: &str) -> Option<usize> {
        self.arms.get(&code.trim().to_ascii_uppercase()).copied()
    }

    /// Every country code (upper case) with its arm.
    pub fn arms(&self) -> impl Iterator<Item = (&str, usize)> {
        self.arms.iter().map(|(c, a)| (c.as_str(), *a))
    }
}

/// A QA header that forces an arm when it comes with the secret.
#[derive(Debug, Clone)]
pub struct ForcedRule {
    header: HeaderName,
    secret_header: HeaderName,
    secret_sha256: [u8; 32],
}

impl ForcedRule {
    /// The header naming the arm.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The header carrying the secret.
    pub fn secret_header(&self) -> &HeaderName {
        &self.secret_header
    }

    /// Whether `secret` hashes to the configured digest, compared in constant time so that the
    /// answer time says nothing about how much of a guess was right.
    pub fn accepts(&self, secret: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(secret).into();
        digest
            .iter()
            .zip(&self.secret_sha256)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    }
}

pub(crate) fn overrides(
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
    for (slot, pair) in out.iter_mut().zip(hex.chunks(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forced_secret_is_checked_against_its_digest() {
        let rule = ForcedRule {
            header: HeaderName::from_static("x-a"),
            secret_header: HeaderName::from_static("x-b"),
            // sha256("password")
            secret_sha256: parse_sha256(
                "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
            )
            .unwrap(),
        };
        assert!(rule.accepts(b"password"));
        assert!(!rule.accepts(b"passwore"));
        assert!(!rule.accepts(b""));
        assert_eq!(parse_sha256("zz"), None);
        assert_eq!(parse_sha256(&"g".repeat(64)), None);
    }
}

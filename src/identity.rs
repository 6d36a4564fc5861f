//! Who is asking: the user ID header, else a signed cookie, else a freshly minted ID that the
//! response sets in a new signed cookie. Pure functions over header values and a clock reading.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use cookie::{Cookie, CookieJar, Key};
use serde::Serialize;

use crate::assign::hex;
use crate::config::{CookieSettings, SameSite};

/// Longest user ID accepted from the header, in bytes.
pub const MAX_USER_ID_BYTES: usize = 256;
/// A cookie issued this far in the future is refused; beyond it, clocks are not just skewed.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Where the unit ID came from, as written in records (`id_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdSource {
    /// The user ID header.
    Header,
    /// A valid signed cookie.
    Cookie,
    /// A new random ID, set in a cookie by the answer.
    Minted,
    /// No identity.
    None,
}

/// A user ID header the router must refuse (a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The header is not UTF-8.
    #[error("the {header} header is not valid UTF-8")]
    NotUtf8 {
        /// The header's name.
        header: String,
    },
    /// The ID is over 256 bytes.
    #[error("the {header} header is {len} bytes long; the limit is 256")]
    TooLong {
        /// The header's name.
        header: String,
        /// Its length in bytes.
        len: usize,
    },
}

/// The unit ID from the user header: trimmed, 1 to 256 bytes of UTF-8; empty counts as absent.
pub fn from_header(header: &str, value: Option<&[u8]>) -> Result<Option<String>, IdentityError> {
    let Some(raw) = value else { return Ok(None) };
    let text = std::str::from_utf8(raw).map_err(|_| IdentityError::NotUtf8 {
        header: header.to_owned(),
    })?;
    let id = text.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() > MAX_USER_ID_BYTES {
        return Err(IdentityError::TooLong {
            header: header.to_owned(),
            len: id.len(),
        });
    }
    Ok(Some(id.to_owned()))
}

/// The keys that sign cookies: the current one signs and verifies, the previous one (during a
/// rotation) only verifies.
#[derive(Clone)]
pub struct CookieKeys {
    current: Key,
    previous: Option<Key>,
}

impl std::fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("CookieKeys")
            .field("previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

/// A cookie key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is not base64.
    #[error("{var} is not valid base64")]
    NotBase64 {
        /// The variable that holds it.
        var: &'static str,
    },
    #[error("{var} decodes to {len} bytes; it needs at least 64 (try: openssl rand -base64 64)")]
    /// The key is shorter than the `cookie` crate needs.
    TooShort {
        /// The variable that holds it.
        var: &'static str,
        /// Its decoded length.
        len: usize,
    },
}

impl CookieKeys {
    /// Keys from the base64 values of `CANARY_COOKIE_KEY` and `CANARY_COOKIE_KEY_PREVIOUS`.
    pub fn from_base64(current: &str, previous: Option<&str>) -> Result<Self, KeyError> {
        Ok(CookieKeys {
            current: decode_key("CANARY_COOKIE_KEY", current)?,
            previous: previous
                .filter(|p| !p.trim().is_empty())
                .map(|p| decode_key("CANARY_COOKIE_KEY_PREVIOUS", p))
                .transpose()?,
        })
    }

    /// A random key for this process only: cookies will not survive a restart.
    pub fn ephemeral() -> Self {
        CookieKeys {
            current: Key::generate(),
            previous: None,
        }
    }
}

fn decode_key(var: &'static str, b64: &str) -> Result<Key, KeyError> {
    let trimmed = b64.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(trimmed))
        .map_err(|_| KeyError::NotBase64 { var })?;
    Key::try_from(bytes.as_slice()).map_err(|_| KeyError::TooShort {
        var,
        len: bytes.len(),
    })
}

/// What the request's cookies say about identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieCheck {
    /// A valid cookie; `renew` when it is near expiry or was signed with the previous key.
    Valid {
        /// The unit ID inside.
        id: String,
        /// Whether the answer should re-issue it.
        renew: bool,
    },
    /// No cookie of ours, or one that is tampered, unsigned, expired or malformed.
    Absent,
}

/// Looks for a valid identity cookie among `Cookie` header values.
pub fn from_cookies<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    settings: &CookieSettings,
    keys: &CookieKeys,
    now: SystemTime,
) -> CookieCheck {
    let jar = CookieJar::new();
    for header in cookie_headers {
        for parsed in Cookie::split_parse(header.to_owned()).flatten() {
            if parsed.name() != settings.name {
                continue;
            }
            let (verified, by_previous) = match jar.signed(&keys.current).verify(parsed.clone()) {
                Some(c) => (Some(c), false),
                None => (
                    keys.previous
                        .as_ref()
                        .and_then(|k| jar.signed(k).verify(parsed)),
                    true,
                ),
            };
            let Some(verified) = verified else { continue };
            if let Some((id, issued)) = parse_value(verified.value()) {
                let age = now.duration_since(issued);
                let fresh = match &age {
                    Ok(age) => *age < settings.max_age,
                    Err(ahead) => ahead.duration() <= MAX_CLOCK_SKEW,
                };
                if fresh {
                    let near_expiry = age.is_ok_and(|a| {
                        a.checked_add(settings.renew_before)
                            .is_none_or(|left| left >= settings.max_age)
                    });
                    return CookieCheck::Valid {
                        id,
                        renew: near_expiry || by_previous,
                    };
                }
            }
        }
    }
    CookieCheck::Absent
}

/// A new random unit ID: 128 bits as 32 hex digits.
pub fn mint_id() -> String {
    let mut bytes = [0u8; 16];
    // getrandom fails only without an OS entropy source, where nothing else could work either.
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex(&bytes)
}

/// The `Set-Cookie` header value carrying `id`, issued at `now`.
pub fn set_cookie(
    settings: &CookieSettings,
    keys: &CookieKeys,
    id: &str,
    now: SystemTime,
) -> String {
    let issued = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut jar = CookieJar::new();
    jar.signed_mut(&keys.current)
        .add(Cookie::new(settings.name.clone(), format!("{id}.{issued}")));
    let mut cookie = jar
        .get(&settings.name)
        .cloned()
        .unwrap_or_else(|| Cookie::new(settings.name.clone(), String::new()));
    cookie.set_http_only(true);
    cookie.set_path("/");
    cookie.set_max_age(cookie::time::Duration::seconds(
        i64::try_from(settings.max_age.as_secs()).unwrap_or(i64::MAX),
    ));
    cookie.set_secure(settings.secure);
    cookie.set_same_site(match settings.same_site {
        SameSite::Lax => cookie::SameSite::Lax,
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::None => cookie::SameSite::None,
    });
    if let Some(domain) = &settings.domain {
        cookie.set_domain(domain.clone());
    }
    cookie.to_string()
}

fn parse_value(value: &str) -> Option<(String, SystemTime)> {
    let (id, issued) = value.split_once('.')?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let secs: u64 = issued.parse().ok()?;
    // A signed value is still input: an issue time past what the clock can hold is no time.
    let issued = UNIX_EPOCH.checked_add(Duration::from_secs(secs))?;
    Some((id.to_owned(), issued))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn settings() -> CookieSettings {
        CookieSettings {
            enabled: true,
            name: "canary_uid".into(),
            max_age: Duration::from_secs(90 * 86_400),
            renew_before: Duration::from_secs(30 * 86_400),
            secure: true,
            same_site: SameSite::Lax,
            domain: None,
        }
    }

    pub(crate) fn key_b64(seed: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([seed; 64])
    }

    fn keys() -> CookieKeys {
        CookieKeys::from_base64(&key_b64(1), None).unwrap()
    }

    /// The `name=value` part of a Set-Cookie header, as a browser sends it back.
    pub(crate) fn pair(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap().to_owned()
    }

    const DAY: u64 = 86_400;

    #[test]
    fn header_ids_are_trimmed_and_bounded() {
        assert_eq!(
            from_header("X-User-Id", Some(b"  alice \t")).unwrap(),
            Some("alice".into())
        );
        assert_eq!(from_header("X-User-Id", Some(b"   ")).unwrap(), None);
        assert_eq!(from_header("X-User-Id", None).unwrap(), None);
        assert_eq!(
            from_header("X-User-Id", Some(&[0xff, 0xfe])).unwrap_err(),
            IdentityError::NotUtf8 {
                header: "X-User-Id".into()
            }
        );
        let long = "a".repeat(257);
        assert!(matches!(
            from_header("X-User-Id", Some(long.as_bytes())),
            Err(IdentityError::TooLong { len: 257, .. })
        ));
        let max = "é".repeat(128);
        assert_eq!(
            from_header("X-User-Id", Some(max.as_bytes())).unwrap(),
            Some(max)
        );
    }

    #[test]
    fn minted_cookie_round_trips_with_attributes() {
        let now = SystemTime::now();
        let id = mint_id();
        assert_eq!(id.len(), 32);
        let header = set_cookie(&settings(), &keys(), &id, now);
        assert!(header.starts_with("canary_uid="), "{header}");
        for attr in [
            "HttpOnly",
            "Path=/",
            "Max-Age=7776000",
            "Secure",
            "SameSite=Lax",
        ] {
            assert!(header.contains(attr), "{attr} missing in {header}");
        }
        assert!(
            !header.starts_with(&format!("canary_uid={id}")),
            "the value is signed, not the bare id"
        );
        let check = from_cookies([pair(&header).as_str()], &settings(), &keys(), now);
        assert_eq!(check, CookieCheck::Valid { id, renew: false });
    }

    #[test]
    fn insecure_and_strict_settings_show_in_the_header() {
        let mut s = settings();
        s.secure = false;
        s.same_site = SameSite::Strict;
        s.domain = Some("example.com".into());
        let header = set_cookie(&s, &keys(), &mint_id(), SystemTime::now());
        assert!(!header.contains("Secure"), "{header}");
        assert!(header.contains("SameSite=Strict") && header.contains("Domain=example.com"));
    }

    #[test]
    fn tampered_unsigned_malformed_and_foreign_cookies_are_absent() {
        let now = SystemTime::now();
        let good = pair(&set_cookie(&settings(), &keys(), &mint_id(), now));
        let mut tampered = good.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '1' { '2' } else { '1' });
        let other_key = CookieKeys::from_base64(&key_b64(9), None).unwrap();
        let foreign = pair(&set_cookie(&settings(), &other_key, &mint_id(), now));
        for bad in [
            tampered.as_str(),
            "canary_uid=0123456789abcdef0123456789abcdef.1764150000",
            "canary_uid=",
            "canary_uid",
            "canary_uid=%%%; ;;=",
            foreign.as_str(),
        ] {
            assert_eq!(
                from_cookies([bad], &settings(), &keys(), now),
                CookieCheck::Absent,
                "{bad}"
            );
        }
    }

    #[test]
    fn expiry_is_enforced_by_the_server() {
        let issued = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let id = mint_id();
        let c = pair(&set_cookie(&settings(), &keys(), &id, issued));
        let at = |days: u64| issued + Duration::from_secs(days * DAY);
        assert_eq!(
            from_cookies([c.as_str()], &settings(), &keys(), at(1)),
            CookieCheck::Valid {
                id: id.clone(),
                renew: false
            }
        );
        // Inside the renewal window: still valid, re-issued.
        assert_eq!(
            from_cookies([c.as_str()], &settings(), &keys(), at(61)),
            CookieCheck::Valid { id, renew: true }
        );
        // Correctly signed but older than max_age: refused.
        assert_eq!(
            from_cookies([c.as_str()], &settings(), &keys(), at(90)),
            CookieCheck::Absent
        );
        // Issued far in the future (a forged clock would need the key): refused.
        assert_eq!(
            from_cookies(
                [c.as_str()],
                &settings(),
                &keys(),
                issued - Duration::from_secs(3600)
            ),
            CookieCheck::Absent
        );
    }

    #[test]
    fn previous_key_verifies_during_rotation_and_triggers_renewal() {
        let now = SystemTime::now();
        let old = CookieKeys::from_base64(&key_b64(1), None).unwrap();
        let rotated = CookieKeys::from_base64(&key_b64(2), Some(&key_b64(1))).unwrap();
        let id = mint_id();
        let c = pair(&set_cookie(&settings(), &old, &id, now));
        assert_eq!(
            from_cookies([c.as_str()], &settings(), &rotated, now),
            CookieCheck::Valid {
                id: id.clone(),
                renew: true
            }
        );
        let new_only = CookieKeys::from_base64(&key_b64(2), None).unwrap();
        assert_eq!(
            from_cookies([c.as_str()], &settings(), &new_only, now),
            CookieCheck::Absent
        );
    }

    #[test]
    fn finds_our_cookie_among_others_and_skips_bad_duplicates() {
        let now = SystemTime::now();
        let id = mint_id();
        let good = pair(&set_cookie(&settings(), &keys(), &id, now));
        let header = format!("theme=dark; canary_uid=forged; {good}; flag");
        assert_eq!(
            from_cookies([header.as_str()], &settings(), &keys(), now),
            CookieCheck::Valid { id, renew: false }
        );
    }

    #[test]
    fn keys_must_be_long_enough_base64() {
        assert_eq!(
            CookieKeys::from_base64("not base64!", None).unwrap_err(),
            KeyError::NotBase64 {
                var: "CANARY_COOKIE_KEY"
            }
        );
        let short = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        assert_eq!(
            CookieKeys::from_base64(&short, None).unwrap_err(),
            KeyError::TooShort {
                var: "CANARY_COOKIE_KEY",
                len: 32
            }
        );
        assert!(matches!(
            CookieKeys::from_base64(&key_b64(1), Some("??")),
            Err(KeyError::NotBase64 {
                var: "CANARY_COOKIE_KEY_PREVIOUS"
            })
        ));
        assert!(!format!("{:?}", keys()).contains("1, 1"));
    }

    #[test]
    fn a_signed_cookie_with_an_impossible_issue_time_is_absent_not_a_panic() {
        let now = SystemTime::now();
        for issued in [u64::MAX, u64::MAX / 2, 1 << 60] {
            let mut jar = CookieJar::new();
            jar.signed_mut(&keys().current).add(Cookie::new(
                "canary_uid",
                format!("0123456789abcdef0123456789abcdef.{issued}"),
            ));
            let signed = jar.get("canary_uid").unwrap().to_string();
            assert_eq!(
                from_cookies([signed.as_str()], &settings(), &keys(), now),
                CookieCheck::Absent,
                "issued at {issued}"
            );
        }
    }
}

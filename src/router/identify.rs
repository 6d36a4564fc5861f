//! Stage 2, identity: the user ID header, else a valid signed cookie, else (for predictions) a
//! freshly minted ID that the answer sets in a new cookie.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, header};

use super::parts::Minter;
use super::respond::Failure;
use crate::config::Config;
use crate::error::ErrorKind;
use crate::identity::{self, CookieCheck, CookieKeys, IdSource};

/// What to do with a request that carries no identity.
pub(crate) enum Anonymous<'m> {
    /// Mint a new ID and set it in a cookie (`/predict`).
    Mint(&'m Minter),
    /// Refuse it: feedback must be about an identity a prediction already had.
    Refuse,
}

/// A known unit: its ID, where it came from, and the cookie to set, if any.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub unit_id: String,
    pub source: IdSource,
    pub set_cookie: Option<String>,
}

/// Resolves the request's unit; `Ok(None)` when it has none and `anonymous` refuses to mint.
pub(crate) fn identify(
    cfg: &Config,
    keys: &CookieKeys,
    headers: &HeaderMap,
    anonymous: Anonymous<'_>,
    now: SystemTime,
) -> Result<Option<Identity>, Failure> {
    let header_value = headers.get(cfg.user_header()).map(HeaderValue::as_bytes);
    let from_header = identity::from_header(cfg.user_header().as_str(), header_value)
        .map_err(|e| Failure::new(ErrorKind::BadRequest, e.to_string()))?;
    if let Some(unit_id) = from_header {
        return Ok(Some(Identity {
            unit_id,
            source: IdSource::Header,
            set_cookie: None,
        }));
    }
    let settings = cfg.cookie();
    if !settings.enabled {
        return Ok(None);
    }
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    match identity::from_cookies(cookies, settings, keys, now) {
        CookieCheck::Valid { id, renew } => {
            let set_cookie = renew.then(|| identity::set_cookie(settings, keys, &id, now));
            Ok(Some(Identity {
                unit_id: id,
                source: IdSource::Cookie,
                set_cookie,
            }))
        }
        CookieCheck::Absent => match anonymous {
            Anonymous::Mint(minter) => {
                let unit_id = minter();
                let set_cookie = Some(identity::set_cookie(settings, keys, &unit_id, now));
                Ok(Some(Identity {
                    unit_id,
                    source: IdSource::Minted,
                    set_cookie,
                }))
            }
            Anonymous::Refuse => Ok(None),
        },
    }
}

/// The `no_unit` failure, worded for the route that met it.
pub(crate) fn no_unit(cfg: &Config, anonymous: &Anonymous<'_>) -> Failure {
    let message = match anonymous {
        Anonymous::Refuse => format!(
            "feedback needs the identity of a prediction: send the {} header or the cookie set by /predict",
            cfg.user_header()
        ),
        Anonymous::Mint(_) => format!(
            "send the {} header: cookies are disabled in this config",
            cfg.user_header()
        ),
    };
    Failure::new(ErrorKind::NoUnit, message)
}

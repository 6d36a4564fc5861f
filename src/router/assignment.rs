//! Stage 3, assignment: overrides resolved from the request (only those the config enables),
//! then the unit's bucket. Infallible: every identified unit gets an arm.

use http::HeaderMap;

use super::identify::Identity;
use super::respond::header_str;
use crate::assign::{self, Assignment, OverrideHits, Split};
use crate::config::Config;
use crate::identity::IdSource;

/// An identified unit with its arm.
#[derive(Debug, Clone)]
pub(crate) struct Assigned {
    pub identity: Identity,
    pub assignment: Assignment,
}

impl Assigned {
    /// The assigned arm's index.
    pub(crate) fn arm(&self) -> usize {
        self.assignment.arm
    }

    pub(crate) fn id_source(&self) -> IdSource {
        self.identity.source
    }

    pub(crate) fn set_cookie(&self) -> Option<&str> {
        self.identity.set_cookie.as_deref()
    }
}

/// Assigns an identified unit.
pub(crate) fn assign(
    cfg: &Config,
    split: &Split,
    headers: &HeaderMap,
    identity: Identity,
) -> Assigned {
    let o = cfg.overrides();
    let forced = o.forced().and_then(|rule| {
        let arm = cfg.arm_index(header_str(headers, rule.header())?.trim())?;
        let secret = headers.get(rule.secret_header())?.as_bytes();
        rule.accepts(secret).then_some(arm)
    });
    let country = o
        .country()
        .and_then(|rule| rule.arm_for(header_str(headers, rule.header())?));
    let hits = OverrideHits {
        forced,
        user_list: o.user_arm(&identity.unit_id),
        country,
    };
    let assignment = assign::assign(cfg.salt(), &identity.unit_id, split, hits);
    Assigned {
        identity,
        assignment,
    }
}

//! What a line becomes: a [`Line`], and for a record a compact [`Fact`] whose names are
//! [`Id`]s in a table of names.

use std::num::NonZeroU32;

/// What one line turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Line {
    /// Only whitespace.
    Blank,
    /// A decision or outcome record.
    Record(Fact),
    /// A shadow call's record.
    Shadow(Box<ShadowFact>),
    /// Well-formed, but not a record (a platform log line, another program's JSON, ...).
    NotRecord,
    /// Looked like JSON but did not parse (truncated, corrupt, wrong field types).
    Corrupt,
}

/// Record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FactKind {
    Decision,
    Outcome,
}

/// Which rule chose the arm, reduced to what the analysis needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assigned {
    /// `assigned_by = bucket`: eligible for tests and sample-ratio checks.
    Bucket,
    /// An override (`user_list`, `country`, `forced`) or no `assigned_by` at all.
    Other,
}

/// The id of a name (a phase, an arm, an event, a set of weights) in a table of names: its
/// index there. Kept as index + 1, so that "no name" is `Option<Id>::None` and still takes
/// four bytes (a fact carries four ids, and a batch thousands of facts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Id(NonZeroU32);

const _: () = assert!(size_of::<Option<Id>>() == size_of::<u32>());

impl Id {
    /// The id of the name at `index`; None past `u32::MAX - 1` names.
    #[inline]
    pub(crate) fn from_index(index: usize) -> Option<Id> {
        let i = u32::try_from(index).ok()?.checked_add(1)?;
        NonZeroU32::new(i).map(Id)
    }

    /// The index of the name in its table.
    #[inline]
    pub(crate) fn index(self) -> usize {
        // At least 1 by construction, and a u32 fits a usize on every target the crate builds.
        (self.0.get() - 1) as usize
    }
}

/// A record reduced to what the report needs; names are ids in the parsing worker's table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fact {
    pub(crate) kind: FactKind,
    pub(crate) request: u128,
    pub(crate) unit: Option<u128>,
    /// Milliseconds since the Unix epoch; `None` when `ts` is missing or not RFC 3339.
    pub(crate) ts_ms: Option<i64>,
    pub(crate) phase: Id,
    /// The weights, unless missing, empty or invalid.
    pub(crate) weights: Option<Id>,
    pub(crate) arm: Option<Id>,
    pub(crate) assigned: Assigned,
    /// The fallback arm answered (`served_arm` set and not `arm`).
    pub(crate) fallback: bool,
    pub(crate) status: u16,
    pub(crate) latency_ms: Option<f64>,
    /// A streamed answer's time to first byte (f32: ample for milliseconds, and a fact stays
    /// small).
    pub(crate) first_byte_ms: Option<f32>,
    /// A streamed answer's tokens, where its format shows them.
    pub(crate) tokens: Option<f32>,
    /// The event of an accepted outcome (2xx).
    pub(crate) event: Option<Id>,
    pub(crate) value: f64,
    /// Where a decision's own arm answered: its endpoint and target (None for outcomes, for
    /// decisions that reached no endpoint, and when the fallback answered, whose target it
    /// would be).
    pub(crate) target: Option<Id>,
}

/// Where an arm's call went, as its decision records name it: the endpoint, the production
/// variant that answered, and the target the call named (at most one is configured).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Target {
    pub(crate) endpoint: String,
    pub(crate) invoked_variant: Option<String>,
    pub(crate) inference_component: Option<String>,
    pub(crate) target_model: Option<String>,
    pub(crate) target_container_hostname: Option<String>,
}

/// A shadow record reduced to what the report needs. Shadow records are a cohort's share of
/// the requests and take the general parser: their names stay strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShadowFact {
    pub(crate) request: u128,
    pub(crate) unit: Option<u128>,
    pub(crate) experiment: String,
    pub(crate) version: String,
    pub(crate) shadow: String,
    pub(crate) endpoint: Option<String>,
    /// The primary arm.
    pub(crate) arm: Option<String>,
    pub(crate) status: u16,
    pub(crate) latency_ms: Option<f64>,
    /// The arm's own call time for the same request.
    pub(crate) primary_latency_ms: Option<f64>,
    /// None when either side failed or a fallback answered.
    pub(crate) agrees: Option<bool>,
    pub(crate) max_abs_diff: Option<f64>,
}

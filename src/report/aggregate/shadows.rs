//! Shadow calls, per phase and shadow: calls and errors, per-unit agreement counts (the unit is
//! the unit of analysis, as for the arms), the `max_abs_diff` values, and the latency of each
//! call beside the primary arm's call for the same request.

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;

use super::latency;
use crate::report::parse::ShadowFact;

/// One shadow within one phase.
#[derive(Debug, Clone)]
pub(crate) struct ShadowAcc {
    /// The shadow's endpoint, as first seen.
    pub(crate) endpoint: Option<String>,
    /// Shadow records.
    pub(crate) calls: u64,
    /// Calls that failed (a status other than 200).
    pub(crate) errors: u64,
    /// Calls by primary arm.
    pub(crate) by_arm: BTreeMap<String, u64>,
    /// Per unit: (comparable calls, calls that agreed).
    pub(crate) units: HashMap<u128, (u32, u32)>,
    /// Comparable calls without a unit (counted, not analysed).
    pub(crate) comparable_without_unit: u64,
    /// Every `max_abs_diff` that is a number.
    pub(crate) max_abs_diff: Vec<f64>,
    /// Calls the shadow answered and the arm answered too: the shadow's latency...
    pub(crate) latency_us: Histogram<u64>,
    /// ...and the arm's, for the same requests.
    pub(crate) primary_latency_us: Histogram<u64>,
}

impl ShadowAcc {
    fn new() -> Self {
        ShadowAcc {
            endpoint: None,
            calls: 0,
            errors: 0,
            by_arm: BTreeMap::new(),
            units: HashMap::new(),
            comparable_without_unit: 0,
            max_abs_diff: Vec::new(),
            latency_us: latency::histogram(),
            primary_latency_us: latency::histogram(),
        }
    }

    fn add(&mut self, f: ShadowFact) {
        self.calls += 1;
        if f.status != 200 {
            self.errors += 1;
        }
        if self.endpoint.is_none() {
            self.endpoint = f.endpoint;
        }
        if let Some(arm) = f.arm {
            *self.by_arm.entry(arm).or_insert(0) += 1;
        }
        if let Some(agrees) = f.agrees {
            match f.unit {
                Some(unit) => {
                    let u = self.units.entry(unit).or_insert((0, 0));
                    u.0 = u.0.saturating_add(1);
                    u.1 = u.1.saturating_add(u32::from(agrees));
                }
                None => self.comparable_without_unit += 1,
            }
        }
        if let Some(d) = f.max_abs_diff {
            self.max_abs_diff.push(d);
        }
        if let (200, Some(shadow), Some(primary)) = (f.status, f.latency_ms, f.primary_latency_ms) {
            latency::record_ms(&mut self.latency_us, shadow);
            latency::record_ms(&mut self.primary_latency_us, primary);
        }
    }
}

/// Every shadow of every phase: (experiment, config version) → shadow name → its calls.
#[derive(Debug, Default)]
pub(crate) struct Shadows {
    pub(crate) by_phase: BTreeMap<(String, String), BTreeMap<String, ShadowAcc>>,
}

impl Shadows {
    /// Adds one unique shadow record.
    pub(crate) fn add(&mut self, mut f: ShadowFact) {
        let phase = (
            std::mem::take(&mut f.experiment),
            std::mem::take(&mut f.version),
        );
        self.by_phase
            .entry(phase)
            .or_default()
            .entry(std::mem::take(&mut f.shadow))
            .or_insert_with(ShadowAcc::new)
            .add(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(unit: u128, agrees: Option<bool>, status: u16) -> ShadowFact {
        ShadowFact {
            request: unit * 1000 + u128::from(status),
            unit: Some(unit),
            experiment: "e".into(),
            version: "v1".into(),
            shadow: "next".into(),
            endpoint: Some("ep-next".into()),
            arm: Some("control".into()),
            status,
            latency_ms: Some(12.0),
            primary_latency_ms: Some(10.0),
            agrees,
            max_abs_diff: agrees.map(|a| if a { 0.0 } else { 0.5 }),
        }
    }

    #[test]
    fn per_unit_counts_errors_and_paired_latency() {
        let mut s = Shadows::default();
        s.add(fact(1, Some(true), 200));
        s.add(fact(1, Some(false), 200));
        s.add(fact(2, Some(true), 200));
        s.add(fact(2, None, 504));
        let acc = &s.by_phase[&("e".to_owned(), "v1".to_owned())]["next"];
        assert_eq!((acc.calls, acc.errors), (4, 1));
        assert_eq!(acc.units[&1], (2, 1));
        assert_eq!(acc.units[&2], (1, 1));
        assert_eq!(acc.max_abs_diff, [0.0, 0.5, 0.0]);
        assert_eq!(acc.latency_us.len(), 3);
        assert_eq!(acc.primary_latency_us.len(), 3);
        assert_eq!(acc.by_arm["control"], 4);
        assert_eq!(acc.endpoint.as_deref(), Some("ep-next"));
    }
}

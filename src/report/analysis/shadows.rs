//! Shadow summaries: agreement as a ratio of per-unit sums with its delta-method interval, the
//! `max_abs_diff` distribution, and paired latency.

use std::collections::BTreeMap;

use super::stats::{self, Moments};
use crate::quantile::quantile;
use crate::report::aggregate::{ShadowAcc, latency_summary};
use crate::report::model::{DiffDistribution, ShadowSummary};

/// The phase's shadows, in name order.
pub(crate) fn summaries(shadows: BTreeMap<String, ShadowAcc>, alpha: f64) -> Vec<ShadowSummary> {
    shadows
        .into_iter()
        .map(|(name, acc)| summary(name, acc, alpha))
        .collect()
}

fn summary(shadow: String, mut acc: ShadowAcc, alpha: f64) -> ShadowSummary {
    let (mut sx, mut sxx, mut sy, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(compared, agreed) in acc.units.values() {
        let (x, y) = (f64::from(agreed), f64::from(compared));
        sx += x;
        sxx += x * x;
        sy += y;
        syy += y * y;
        sxy += x * y;
    }
    let units = acc.units.len() as u64;
    let compared = sy as u64 + acc.comparable_without_unit;
    let moments = Moments::ratio(units, sx, sxx, sy, syy, sxy);
    let agreement = (sy > 0.0).then_some(moments.mean);
    let agreement_ci = agreement
        .and_then(|_| stats::mean_interval(&moments, alpha))
        .map(|(lo, hi)| (lo.max(0.0), hi.min(1.0)));
    acc.max_abs_diff.sort_by(f64::total_cmp);
    let d = &acc.max_abs_diff;
    let max_abs_diff = (!d.is_empty()).then(|| DiffDistribution {
        count: d.len() as u64,
        zero_share: d.iter().filter(|x| **x == 0.0).count() as f64 / d.len() as f64,
        p50: quantile(d, 0.5),
        p90: quantile(d, 0.9),
        p99: quantile(d, 0.99),
        max: d.last().copied().unwrap_or(0.0),
    });
    ShadowSummary {
        shadow,
        endpoint: acc.endpoint,
        calls: acc.calls,
        errors: acc.errors,
        error_rate: (acc.calls > 0).then(|| acc.errors as f64 / acc.calls as f64),
        compared,
        units,
        agreement,
        agreement_ci,
        max_abs_diff,
        latency_ms: latency_summary(&acc.latency_us),
        primary_latency_ms: latency_summary(&acc.primary_latency_us),
        by_arm: acc.by_arm.into_iter().collect(),
    }
}

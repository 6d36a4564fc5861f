//! Quantiles of a sorted sample of latencies, one definition for the demo's table and
//! `validate`'s thresholds (the report keeps HdrHistogram for its millions of records).

/// The `q` quantile (0..=1) of `sorted` (ascending), as the sample at rank `round((n-1)·q)`;
/// 0 for an empty sample.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
    // `last · q` is within 0..=last, so the cast cannot wrap.
    let idx = (last as f64 * q).round() as usize;
    sorted[idx.min(last)]
}

#[cfg(test)]
mod tests {
    use super::quantile;
    use proptest::prelude::*;

    #[test]
    fn ranks() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&s, 0.0), 1.0);
        assert_eq!(quantile(&s, 0.5), 3.0);
        assert_eq!(quantile(&s, 1.0), 5.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&s, f64::NAN), 1.0);
        assert_eq!(quantile(&s, 7.0), 5.0);
    }

    proptest! {
        #[test]
        fn monotone_in_q(mut v in proptest::collection::vec(0.0f64..1e6, 1..200), a in 0.0f64..1.0, b in 0.0f64..1.0) {
            v.sort_by(f64::total_cmp);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(quantile(&v, lo) <= quantile(&v, hi));
            prop_assert!(v.contains(&quantile(&v, lo)));
        }
    }
}

//! The statistics, as GrowthBook's engine (`gbstats`) defines them: per-arm moments of
//! proportion, mean and ratio metrics; Welch's t for the absolute difference; the delta method
//! for the relative lift; chance to win under a flat prior; asymptotic confidence sequences;
//! Holm's step-down adjustment. Distributions come from `statrs`.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Mean and variance of one arm's metric over `n` units (gbstats' `TestStatistic`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moments {
    pub(crate) n: f64,
    pub(crate) mean: f64,
    /// Unit-level variance (not of the mean).
    pub(crate) var: f64,
}

impl Moments {
    /// A conversion: the share of units with an event; variance p(1-p).
    pub(crate) fn proportion(n: u64, converted: u64) -> Moments {
        let n = n as f64;
        let mean = if n > 0.0 { converted as f64 / n } else { 0.0 };
        Moments {
            n,
            mean,
            var: mean * (1.0 - mean),
        }
    }

    /// A mean per unit, with the sample variance (n-1).
    pub(crate) fn sample_mean(n: u64, sum: f64, sum_sq: f64) -> Moments {
        let nf = n as f64;
        Moments {
            n: nf,
            mean: if n > 0 { sum / nf } else { 0.0 },
            var: if n > 1 {
                (sum_sq - sum * sum / nf) / (nf - 1.0)
            } else {
                0.0
            },
        }
    }

    /// A ratio of sums (numerator x, denominator y per unit), the variance of the ratio by the
    /// delta method with the unit as the cluster.
    pub(crate) fn ratio(n: u64, sx: f64, sxx: f64, sy: f64, syy: f64, sxy: f64) -> Moments {
        let m = Moments::sample_mean(n, sx, sxx);
        let d = Moments::sample_mean(n, sy, syy);
        let nf = n as f64;
        let mean = if sy != 0.0 { sx / sy } else { 0.0 };
        let var = if d.mean == 0.0 || n <= 1 {
            0.0
        } else {
            let cov = (sxy - sx * sy / nf) / (nf - 1.0);
            m.var / d.mean.powi(2) - 2.0 * cov * m.mean / d.mean.powi(3)
                + m.mean.powi(2) * d.var / d.mean.powi(4)
        };
        Moments { n: nf, mean, var }
    }

    /// The standard error of the mean.
    pub(crate) fn se(&self) -> f64 {
        (self.var / self.n).sqrt()
    }
}

/// An estimate with its interval and test, all from one method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    pub(crate) estimate: f64,
    pub(crate) se: f64,
    pub(crate) ci: (f64, f64),
    pub(crate) p_value: f64,
    /// Test statistic (estimate / se).
    pub(crate) t: f64,
    /// Welch–Satterthwaite degrees of freedom (also reported for sequential intervals).
    pub(crate) df: f64,
}

/// Which interval and p-value to compute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Method {
    /// Fixed-horizon two-sided Welch t (gbstats `TwoSidedTTest`).
    Welch,
    /// Always-valid asymptotic confidence sequence (gbstats `SequentialTwoSidedTTest`), with
    /// the tuning parameter N*.
    Sequential { n_star: f64 },
}

/// Welch–Satterthwaite degrees of freedom of the difference of two means.
pub(crate) fn welch_df(a: &Moments, b: &Moments) -> f64 {
    let (va, vb) = (a.var / a.n, b.var / b.n);
    (va + vb).powi(2) / (vb.powi(2) / (b.n - 1.0) + va.powi(2) / (a.n - 1.0))
}

/// Control `a` against treatment `b`: the absolute difference `mean_b - mean_a`.
pub(crate) fn absolute(a: &Moments, b: &Moments, alpha: f64, method: Method) -> Option<Estimate> {
    if a.n < 2.0 || b.n < 2.0 || a.var < 0.0 || b.var < 0.0 {
        return None;
    }
    let variance = b.var / b.n + a.var / a.n;
    estimate(b.mean - a.mean, variance, a, b, alpha, method)
}

/// Control `a` against treatment `b`: the relative lift `(mean_b - mean_a) / mean_a`, with the
/// delta-method variance gbstats uses. None when the control mean is 0 or a variance is not
/// positive (gbstats' own refusals).
pub(crate) fn relative(a: &Moments, b: &Moments, alpha: f64, method: Method) -> Option<Estimate> {
    if a.n < 2.0 || b.n < 2.0 || a.mean == 0.0 || a.var <= 0.0 || b.var <= 0.0 {
        return None;
    }
    let variance = b.var / (a.mean.powi(2) * b.n) + a.var * b.mean.powi(2) / (a.mean.powi(4) * a.n);
    estimate((b.mean - a.mean) / a.mean, variance, a, b, alpha, method)
}

fn estimate(
    point: f64,
    variance: f64,
    a: &Moments,
    b: &Moments,
    alpha: f64,
    method: Method,
) -> Option<Estimate> {
    if variance.is_nan() || variance <= 0.0 || !variance.is_finite() || !point.is_finite() {
        return None;
    }
    let se = variance.sqrt();
    let t = point / se;
    let df = welch_df(a, b);
    let (half, p_value) = match method {
        Method::Welch => {
            let dist = StudentsT::new(0.0, 1.0, df).ok()?;
            let half = dist.inverse_cdf(1.0 - alpha / 2.0) * se;
            (half, (2.0 * dist.sf(t.abs())).min(1.0))
        }
        Method::Sequential { n_star } => {
            // Waudby-Smith et al. (2023), eqs. 9, 155 and 161, as in gbstats.
            let n = a.n + b.n;
            let rho2 = (-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / n_star;
            let s2 = variance * n;
            let nr2p1 = n * rho2 + 1.0;
            let half =
                s2.sqrt() * (2.0 * nr2p1 * (nr2p1.sqrt() / alpha).ln() / (n * n * rho2)).sqrt();
            let st2 = point * point * n / variance;
            let evalue = (rho2 * st2 / (2.0 * nr2p1)).exp() / nr2p1.sqrt();
            (half, (1.0 / evalue).min(1.0))
        }
    };
    Some(Estimate {
        estimate: point,
        se,
        ci: (point - half, point + half),
        p_value,
        t,
        df,
    })
}

/// GrowthBook's chance to win: P(lift > 0) for a Gaussian posterior under a flat prior, which
/// is the sampling distribution of the relative lift.
pub(crate) fn chance_to_win(lift: &Estimate) -> Option<f64> {
    Normal::new(lift.estimate, lift.se).ok().map(|n| n.sf(0.0))
}

/// Holm's step-down adjustment: sort ascending, multiply the i-th smallest (from 0) by m - i,
/// carry the running maximum, cap at 1. Returned in the input order.
pub(crate) fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

/// The two-sided 100(1-alpha)% interval of one arm's mean (t with n-1 degrees of freedom).
pub(crate) fn mean_interval(m: &Moments, alpha: f64) -> Option<(f64, f64)> {
    if m.n < 2.0 || m.var.is_nan() || m.var < 0.0 {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, m.n - 1.0).ok()?;
    let half = t.inverse_cdf(1.0 - alpha / 2.0) * m.se();
    Some((m.mean - half, m.mean + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) {
        assert!(
            (a - b).abs() <= rel * b.abs().max(1e-300),
            "{a} vs {b} (rel {rel})"
        );
    }

    #[test]
    fn moments_match_their_definitions() {
        let p = Moments::proportion(10, 3);
        assert_eq!((p.mean, p.var), (0.3, 0.3 * 0.7));
        // x = [1, 2, 3, 4]
        let m = Moments::sample_mean(4, 10.0, 30.0);
        close(m.var, 5.0 / 3.0, 1e-15);
        // Ratio of x = [1, 0, 2], y = [2, 1, 2]: equal to the sample mean when y is constant.
        let r = Moments::ratio(3, 3.0, 5.0, 3.0, 3.0, 3.0);
        let plain = Moments::sample_mean(3, 3.0, 5.0);
        close(r.mean, plain.mean, 1e-15);
        close(r.var, plain.var, 1e-12);
    }

    #[test]
    fn welch_reduces_to_known_values() {
        // Equal variances and sizes: df = 2(n-1).
        let a = Moments {
            n: 50.0,
            mean: 1.0,
            var: 4.0,
        };
        let b = Moments {
            n: 50.0,
            mean: 2.0,
            var: 4.0,
        };
        close(welch_df(&a, &b), 98.0, 1e-12);
        let e = absolute(&a, &b, 0.05, Method::Welch).unwrap();
        close(e.estimate, 1.0, 1e-15);
        close(e.se, (8.0f64 / 50.0).sqrt(), 1e-15);
        assert!(e.ci.0 < 1.0 && e.ci.1 > 1.0);
        // The CI excludes 0 exactly when p < alpha.
        assert_eq!(e.ci.0 > 0.0, e.p_value < 0.05);
    }

    #[test]
    fn relative_refuses_a_zero_control() {
        let a = Moments {
            n: 50.0,
            mean: 0.0,
            var: 0.0,
        };
        let b = Moments {
            n: 50.0,
            mean: 0.1,
            var: 0.09,
        };
        assert!(relative(&a, &b, 0.05, Method::Welch).is_none());
        assert!(absolute(&a, &b, 0.05, Method::Welch).is_some());
        assert!(absolute(&a, &a, 0.05, Method::Welch).is_none());
    }

    #[test]
    fn sequential_intervals_are_wider() {
        let a = Moments {
            n: 1000.0,
            mean: 0.5,
            var: 0.25,
        };
        let b = Moments {
            n: 1000.0,
            mean: 0.55,
            var: 0.2475,
        };
        let fixed = relative(&a, &b, 0.05, Method::Welch).unwrap();
        let seq = relative(&a, &b, 0.05, Method::Sequential { n_star: 5000.0 }).unwrap();
        assert!(seq.ci.1 - seq.ci.0 > fixed.ci.1 - fixed.ci.0);
        assert!(seq.p_value >= fixed.p_value);
    }

    #[test]
    fn holm_by_hand() {
        // Sorted 0.01, 0.02, 0.03 with m = 3: 0.03, 0.04, 0.03 -> running max 0.03, 0.04, 0.04.
        let adj = holm(&[0.03, 0.01, 0.02]);
        for (x, want) in adj.iter().zip([0.04, 0.03, 0.04]) {
            close(*x, want, 1e-12);
        }
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
        assert_eq!(holm(&[0.2]), vec![0.2]);
        assert!(holm(&[]).is_empty());
    }

    #[test]
    fn chance_to_win_is_one_half_at_zero() {
        let e = Estimate {
            estimate: 0.0,
            se: 0.1,
            ci: (0.0, 0.0),
            p_value: 1.0,
            t: 0.0,
            df: 10.0,
        };
        close(chance_to_win(&e).unwrap(), 0.5, 1e-12);
    }
}

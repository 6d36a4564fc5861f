//! Sample-ratio mismatch: Pearson's chi-square of units per arm against the configured weights,
//! over the arms with a weight above 0.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::report::model::{Srm, SrmArm};

/// Flag threshold for the chi-square p-value.
const SRM_ALPHA: f64 = 0.001;
/// The check is shown only when every expected count is at least this.
const MIN_EXPECTED: f64 = 5.0;

/// Runs the check on `(arm, weight, bucket units)` in config order.
pub(crate) fn check(arms: &[(String, u32, u64)]) -> Srm {
    let live: Vec<&(String, u32, u64)> = arms.iter().filter(|a| a.1 > 0).collect();
    let total: u64 = live.iter().map(|a| a.2).sum();
    let weight_sum: f64 = live.iter().map(|a| f64::from(a.1)).sum();
    let expected = |w: u32| total as f64 * f64::from(w) / weight_sum;
    let out_arms: Vec<SrmArm> = arms
        .iter()
        .map(|(arm, weight, units)| SrmArm {
            arm: arm.clone(),
            weight: *weight,
            units: *units,
            expected: (*weight > 0).then(|| expected(*weight)),
        })
        .collect();
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    let starved: Vec<&str> = live
        .iter()
        .filter(|a| a.2 == 0)
        .map(|a| a.0.as_str())
        .collect();
    if total > 0 && !starved.is_empty() {
        reasons.push("starved_arm".to_owned());
        notes.push(format!(
            "no units in {} despite a weight above 0",
            starved.join(", ")
        ));
    }
    let zero: Vec<String> = arms
        .iter()
        .filter(|a| a.1 == 0 && a.2 > 0)
        .map(|a| format!("{} units in {} (weight 0)", a.2, a.0))
        .collect();
    if !zero.is_empty() {
        reasons.push("units_in_zero_weight_arm".to_owned());
        notes.push(format!("bucket-assigned {}", zero.join(", ")));
    }
    let checked = live.len() >= 2 && live.iter().all(|a| expected(a.1) >= MIN_EXPECTED);
    let (mut chi_square, mut df, mut p_value) = (None, None, None);
    if checked {
        let x2: f64 = live
            .iter()
            .map(|a| {
                let e = expected(a.1);
                (a.2 as f64 - e).powi(2) / e
            })
            .sum();
        let k = (live.len() - 1) as u32;
        let p = ChiSquared::new(f64::from(k))
            .map(|d| d.sf(x2))
            .unwrap_or(f64::NAN);
        if p < SRM_ALPHA {
            reasons.push("chi_square".to_owned());
        }
        chi_square = Some(x2);
        df = Some(k);
        p_value = Some(p);
    }
    let flagged = !reasons.is_empty();
    let mut summary = match (p_value, chi_square, df) {
        (Some(p), Some(x2), Some(k)) => format!(
            "{}: chi-square {x2:.2} (df {k}), p {}",
            if p < SRM_ALPHA { "MISMATCH" } else { "ok" },
            fmt_p(p)
        ),
        _ if live.len() < 2 => {
            "not applicable (fewer than two arms with a weight above 0)".to_owned()
        }
        _ => format!("not checked: fewer than {MIN_EXPECTED} expected units in some arm"),
    };
    if !notes.is_empty() {
        summary = format!("{summary}; FLAGGED: {}", notes.join("; "));
    }
    Srm {
        arms: out_arms,
        checked,
        chi_square,
        df,
        p_value,
        flagged,
        reasons,
        summary,
    }
}

/// A p-value for people: `= 0.123`, or `< 0.001`.
fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_owned()
    } else {
        format!("= {p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arms(v: &[(&str, u32, u64)]) -> Vec<(String, u32, u64)> {
        v.iter().map(|(a, w, u)| (a.to_string(), *w, *u)).collect()
    }

    #[test]
    fn a_clean_split_passes() {
        let s = check(&arms(&[("control", 9000, 9010), ("canary", 1000, 990)]));
        assert!(s.checked && !s.flagged, "{s:?}");
        assert_eq!(s.df, Some(1));
        // (9010-9000)²/9000 + (990-1000)²/1000
        let want = 100.0 / 9000.0 + 100.0 / 1000.0;
        assert!((s.chi_square.unwrap() - want).abs() < 1e-12);
    }

    #[test]
    fn a_clear_mismatch_is_flagged() {
        let s = check(&arms(&[("control", 5000, 5500), ("canary", 5000, 4500)]));
        assert!(s.flagged);
        assert_eq!(s.reasons, vec!["chi_square"]);
        assert!(s.summary.starts_with("MISMATCH"));
    }

    #[test]
    fn a_starved_arm_is_always_flagged() {
        // Too few units for the chi-square, still flagged.
        let s = check(&arms(&[("control", 9000, 8), ("canary", 1000, 0)]));
        assert!(!s.checked);
        assert!(s.flagged);
        assert_eq!(s.reasons, vec!["starved_arm"]);
    }

    #[test]
    fn units_in_a_zero_weight_arm_are_an_error() {
        let s = check(&arms(&[("control", 10000, 100), ("dark", 0, 3)]));
        assert!(s.flagged);
        assert_eq!(s.reasons, vec!["units_in_zero_weight_arm"]);
        assert_eq!(s.arms[1].expected, None);
        assert!(!s.checked, "one live arm: nothing to compare");
    }

    #[test]
    fn small_samples_are_not_checked() {
        let s = check(&arms(&[("control", 9000, 30), ("canary", 1000, 4)]));
        assert!(!s.checked && !s.flagged);
        assert!(s.summary.contains("not checked"));
    }
}

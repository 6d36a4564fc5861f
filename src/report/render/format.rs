//! Numbers, times and per-arm cells as text, shared by the table and the HTML page (and by the
//! verdicts and times the analysis writes into the report).

use crate::report::model::{Arm, ArmTarget, Latency, MetricKind, ShadowSummary};

/// RFC 3339 (UTC, milliseconds) of milliseconds since the Unix epoch.
pub(crate) fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // The inverse of `days_from_civil` (parse/rfc3339.rs): Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A share as a signed percentage with one decimal.
pub(crate) fn signed_pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// A number with four significant digits and a sign.
pub(crate) fn signed_num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x:+}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{x:+.digits$}")
}

/// A number with four significant digits.
pub(crate) fn num(x: f64) -> String {
    let s = signed_num(x);
    s.strip_prefix('+').map(str::to_owned).unwrap_or(s)
}

/// An integer with thousands separators.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The value of a metric mean: a percentage for conversions, a number otherwise.
pub(crate) fn metric_value(kind: MetricKind, x: f64) -> String {
    match kind {
        MetricKind::Conversion => format!("{:.2}%", x * 100.0),
        _ => num(x),
    }
}

/// ` (control)` after an arm that is the control without being named so.
pub(crate) fn control_suffix(a: &Arm) -> &'static str {
    if a.is_control && a.name != "control" {
        " (control)"
    } else {
        ""
    }
}

/// The per-arm figures after the name, shared by the table and the HTML page: weight, units,
/// units in tests, requests, 5xx rate, fallback rate, latency p50/p95/p99.
pub(crate) fn arm_cells(a: &Arm) -> [String; 9] {
    let lat = |f: fn(&Latency) -> f64| a.latency_ms.as_ref().map_or("-".to_owned(), |l| ms(f(l)));
    [
        a.weight
            .map_or("-".to_owned(), |w| format!("{:.2}%", f64::from(w) / 100.0)),
        thousands(a.units),
        thousands(a.units_analysed),
        thousands(a.requests),
        pct(a.error_rate),
        pct(a.fallback_rate),
        lat(|l| l.p50),
        lat(|l| l.p95),
        lat(|l| l.p99),
    ]
}

/// Column heads of [`stream_cells`], after the arm's name.
pub(crate) const STREAM_HEADS: [&str; 6] = [
    "streams",
    "first byte p50 ms",
    "p95 ms",
    "p99 ms",
    "tokens",
    "tokens/s",
];

/// An arm's streamed answers: time to first byte and tokens per second; None without streams.
pub(crate) fn stream_cells(a: &Arm) -> Option<[String; 6]> {
    let s = a.stream?;
    let lat = |f: fn(&Latency) -> f64| {
        s.first_byte_ms
            .as_ref()
            .map_or("-".to_owned(), |l| ms(f(l)))
    };
    Some([
        thousands(s.streams),
        lat(|l| l.p50),
        lat(|l| l.p95),
        lat(|l| l.p99),
        thousands(s.tokens),
        s.tokens_per_s.map_or("-".to_owned(), |t| format!("{t:.1}")),
    ])
}

/// Column heads of [`target_rows`].
pub(crate) const TARGET_HEADS: [&str; 4] = ["arm", "endpoint", "target", "requests"];

/// One row per arm and endpoint it called (arm, endpoint, target, requests with their share of
/// the arm's counted ones), in arm order; empty when no record named an endpoint.
pub(crate) fn target_rows(arms: &[Arm]) -> Vec<[String; 4]> {
    let mut rows = Vec::new();
    for a in arms {
        let total: u64 = a.targets.iter().map(|t| t.requests).sum();
        for (i, t) in a.targets.iter().enumerate() {
            let share = if total > 0 {
                t.requests as f64 / total as f64
            } else {
                0.0
            };
            rows.push([
                if i == 0 {
                    a.name.clone()
                } else {
                    String::new()
                },
                t.endpoint.clone(),
                target_text(t),
                format!("{} ({:.1}%)", thousands(t.requests), share * 100.0),
            ]);
        }
    }
    rows
}

/// The target fields of a call that are set, in words; `-` when none is.
fn target_text(t: &ArmTarget) -> String {
    let parts: Vec<String> = [
        ("inference component", &t.inference_component),
        ("model", &t.target_model),
        ("container", &t.target_container_hostname),
        ("variant", &t.invoked_variant),
    ]
    .into_iter()
    .filter_map(|(what, v)| v.as_ref().map(|v| format!("{what} {v}")))
    .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Column heads of [`shadow_cells`], after the shadow's name.
pub(crate) const SHADOW_HEADS: [&str; 10] = [
    "endpoint",
    "calls",
    "errors",
    "compared",
    "agreement (95% CI)",
    "max_abs_diff p50/p99/max",
    "shadow p50 ms",
    "shadow p99 ms",
    "arm p50 ms",
    "arm p99 ms",
];

/// The per-shadow figures after the name, shared by the table and the HTML page.
pub(crate) fn shadow_cells(s: &ShadowSummary) -> [String; 10] {
    let lat = |l: &Option<Latency>, f: fn(&Latency) -> f64| {
        l.as_ref().map_or("-".to_owned(), |l| ms(f(l)))
    };
    let agreement = match (s.agreement, s.agreement_ci) {
        (Some(a), Some((lo, hi))) => format!(
            "{:.2}% ({:.2}% to {:.2}%)",
            a * 100.0,
            lo * 100.0,
            hi * 100.0
        ),
        (Some(a), None) => format!("{:.2}%", a * 100.0),
        _ => "-".to_owned(),
    };
    let diff = s.max_abs_diff.map_or("-".to_owned(), |d| {
        format!("{} / {} / {}", num(d.p50), num(d.p99), num(d.max))
    });
    [
        s.endpoint.clone().unwrap_or_else(|| "-".to_owned()),
        thousands(s.calls),
        pct(s.error_rate),
        thousands(s.compared),
        agreement,
        diff,
        lat(&s.latency_ms, |l| l.p50),
        lat(&s.latency_ms, |l| l.p99),
        lat(&s.primary_latency_ms, |l| l.p50),
        lat(&s.primary_latency_ms, |l| l.p99),
    ]
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".to_owned(), |x| format!("{:.2}%", x * 100.0))
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse::rfc3339_ms;

    #[test]
    fn signed_numbers_keep_four_digits() {
        assert_eq!(signed_num(0.012345), "+0.01235");
        assert_eq!(signed_num(-12.5), "-12.50");
        assert_eq!(signed_num(1234.5), "+1234");
        assert_eq!(signed_num(0.0), "+0");
        assert_eq!(signed_pct(0.031), "+3.1%");
        assert_eq!(signed_pct(-0.0049), "-0.5%");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn times_read_back_as_written() {
        for ms in [0, 1_795_687_200_250, 951_825_600_123, -86_400_001] {
            assert_eq!(rfc3339_ms(format_ms(ms).as_bytes()), Some(ms), "{ms}");
        }
    }
}

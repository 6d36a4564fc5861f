//! The verdict for people (a table) and for scripts (the contract's JSON).

use std::fmt::Write;

use super::verdict::Verdict;

/// The verdict as JSON, one document.
pub fn json(v: &Verdict) -> String {
    // A Verdict holds only strings, numbers and finite floats: serialising cannot fail, but a
    // failure must not panic either.
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The verdict as a table.
pub fn table(v: &Verdict, golden: &str) -> String {
    let mut out = String::new();
    let status = if v.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        out,
        "validate arm {} (endpoint {}) with {golden}: {status}",
        v.arm, v.endpoint
    );
    let _ = match (v.agreement, v.thresholds.min_agreement) {
        (Some(a), Some(min)) => writeln!(
            out,
            "requests {}  matched {}  mismatched {}  errors {} (max {})  agreement {:.2}% (min {:.2}%)",
            v.requests,
            v.matched,
            v.mismatched,
            v.errors,
            v.thresholds.max_errors,
            a * 100.0,
            min * 100.0
        ),
        _ => writeln!(
            out,
            "requests {}  errors {} (max {})  answers recorded",
            v.requests, v.errors, v.thresholds.max_errors
        ),
    };
    let _ = writeln!(
        out,
        "\n{:>11}  {:>10}  {:>9}  {:>9}  {:>6}",
        "concurrency", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for l in &v.levels {
        let _ = writeln!(
            out,
            "{:>11}  {:>10.1}  {:>9.2}  {:>9.2}  {:>6}",
            l.concurrency, l.requests_per_s, l.latency_ms.p50, l.latency_ms.p99, l.errors
        );
    }
    if let Some(max) = v.thresholds.max_p99_ms {
        let _ = writeln!(
            out,
            "p99 at the highest level: {:.2} ms (max {max} ms)",
            v.latency_ms.p99
        );
    }
    if !v.violations.is_empty() {
        let _ = writeln!(out, "\nthresholds not met:");
        for s in &v.violations {
            let _ = writeln!(out, "  {s}");
        }
    }
    if !v.failures.is_empty() {
        let total = v.mismatched + v.broken_lines + usize::try_from(v.errors).unwrap_or(usize::MAX);
        let _ = if total > v.failures.len() {
            writeln!(
                out,
                "\nfailed lines (the first {} of {total}):",
                v.failures.len()
            )
        } else {
            writeln!(out, "\nfailed lines:")
        };
        for f in &v.failures {
            let _ = writeln!(out, "  line {}: {}", f.line, f.reason);
        }
    }
    if v.broken_lines > 0 {
        let _ = writeln!(out, "\n{} lines of {golden} cannot be used", v.broken_lines);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::verdict::{Applied, Failure, Latency, Level};

    fn verdict() -> Verdict {
        Verdict {
            arm: "canary".into(),
            endpoint: "iris-b".into(),
            requests: 150,
            matched: 140,
            mismatched: 9,
            errors: 1,
            agreement: Some(140.0 / 150.0),
            latency_ms: Latency {
                p50: 1.5,
                p99: 4.25,
            },
            levels: vec![Level {
                concurrency: 4,
                requests_per_s: 900.0,
                latency_ms: Latency {
                    p50: 1.5,
                    p99: 4.25,
                },
                errors: 1,
            }],
            passed: false,
            failures: vec![Failure {
                line: 7,
                reason: "answer differs".into(),
            }],
            broken_lines: 0,
            thresholds: Applied {
                min_agreement: Some(0.95),
                max_p99_ms: Some(50.0),
                max_errors: 0,
            },
            violations: vec!["agreement 0.9333 is below --min-agreement 0.95".into()],
        }
    }

    #[test]
    fn json_has_the_contract_keys() {
        let v: serde_json::Value = serde_json::from_str(&json(&verdict())).unwrap();
        for key in [
            "arm",
            "endpoint",
            "requests",
            "matched",
            "mismatched",
            "errors",
            "agreement",
            "latency_ms",
            "levels",
            "passed",
            "failures",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        assert_eq!(v["levels"][0]["concurrency"], 4);
        assert_eq!(v["levels"][0]["latency_ms"]["p99"], 4.25);
        assert_eq!(v["failures"][0]["line"], 7);
    }

    #[test]
    fn table_says_what_failed() {
        let t = table(&verdict(), "golden.jsonl");
        assert!(t.starts_with("validate arm canary (endpoint iris-b) with golden.jsonl: FAILED"));
        assert!(t.contains("agreement 93.33% (min 95.00%)"));
        assert!(t.contains("line 7: answer differs"));
        assert!(t.contains("below --min-agreement"));
    }
}

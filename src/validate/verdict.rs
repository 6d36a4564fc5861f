//! From the answers to a verdict: each answer judged against its line's `expect` with the shared
//! comparator, latency and throughput per level, and the thresholds applied to the highest level.

use serde::Serialize;
use serde_json::Value;

use super::golden::{BrokenLine, Case, Expect, Golden};
use super::run::{LevelRun, Sent};
use crate::compare::Comparator;
use crate::quantile::quantile;

/// Most failures listed in the output.
pub const MAX_FAILURES: usize = 20;

/// Longest answer excerpt quoted in a failure.
const EXCERPT: usize = 160;

/// The thresholds a run must meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Least share of requests whose answer matches (errors count as not matched).
    pub min_agreement: f64,
    /// Highest p99 latency at the highest concurrency level, in ms.
    pub max_p99_ms: Option<f64>,
    /// Most requests that may fail.
    pub max_errors: u64,
}

/// Whether answers are checked or recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers are compared with `expect`.
    Check,
    /// Answers are written to a new golden file; nothing is compared.
    Record,
}

/// How one answer compares with its line's `expect`.
#[derive(Debug, Clone, PartialEq)]
pub enum Judged {
    /// It matches.
    Matched,
    /// It differs, and how.
    Mismatched(String),
    /// The arm gave no answer.
    Error(String),
}

/// p50 and p99, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// One concurrency level's throughput and latency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests answered per second of the level's wall-clock time.
    pub requests_per_s: f64,
    /// Latency of the answered requests.
    pub latency_ms: Latency,
    /// Requests that failed at this level.
    pub errors: u64,
}

/// One line that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Its line in the golden file.
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// The thresholds as applied, in the output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Applied {
    /// `--min-agreement` (null when recording).
    pub min_agreement: Option<f64>,
    /// `--max-p99-ms`.
    pub max_p99_ms: Option<f64>,
    /// `--max-errors`.
    pub max_errors: u64,
}

/// What `validate` prints (the contract's JSON, plus `thresholds`, `violations`, `broken_lines`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The arm validated.
    pub arm: String,
    /// Its endpoint.
    pub endpoint: String,
    /// Requests sent at the highest level.
    pub requests: usize,
    /// Answers that match.
    pub matched: usize,
    /// Answers that differ.
    pub mismatched: usize,
    /// Requests with no answer.
    pub errors: u64,
    /// `matched / requests`; null when recording.
    pub agreement: Option<f64>,
    /// Latency at the highest level.
    pub latency_ms: Latency,
    /// Every level, in the order run.
    pub levels: Vec<Level>,
    /// Every threshold met and every golden line usable.
    pub passed: bool,
    /// At most [`MAX_FAILURES`] failed lines, in file order.
    pub failures: Vec<Failure>,
    /// Lines of the golden file that cannot be used.
    pub broken_lines: usize,
    /// The thresholds applied.
    pub thresholds: Applied,
    /// Each threshold not met, for people.
    pub violations: Vec<String>,
}

/// Judges one answer against its case's `expect` (a case with none, when recording, matches).
pub fn judge(case: &Case, sent: &Sent, cmp: &Comparator) -> Judged {
    let answer = match &sent.result {
        Ok(a) => &a.body,
        Err(f) => return Judged::Error(f.to_string()),
    };
    let agrees = match &case.expect {
        None => true,
        Some(Expect::Bytes(b)) => b == answer,
        Some(Expect::Json(expected)) => match serde_json::from_slice::<Value>(answer) {
            Ok(actual) => cmp.compare(expected, &actual).agrees,
            Err(_) => matches!(expected, Value::String(s) if s.as_bytes() == &answer[..]),
        },
    };
    if agrees {
        return Judged::Matched;
    }
    let expected = match &case.expect {
        Some(Expect::Json(v)) => match cmp.pointer() {
            Some(p) => v.pointer(p).map_or("nothing".into(), Value::to_string),
            None => v.to_string(),
        },
        Some(Expect::Bytes(b)) => format!("{} bytes", b.len()),
        None => String::new(),
    };
    let actual = match (serde_json::from_slice::<Value>(answer), cmp.pointer()) {
        (Ok(v), Some(p)) => v.pointer(p).map_or("nothing".into(), Value::to_string),
        (Ok(v), None) => v.to_string(),
        (Err(_), _) => String::from_utf8_lossy(answer).into_owned(),
    };
    let at = cmp
        .pointer()
        .map(|p| format!(" at {p}"))
        .unwrap_or_default();
    Judged::Mismatched(format!(
        "answer differs{at}: expected {}, got {}",
        excerpt(&expected),
        excerpt(&actual)
    ))
}

fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn latency(sent: &[Sent]) -> Latency {
    let mut ms: Vec<f64> = sent
        .iter()
        .filter(|s| s.result.is_ok())
        .map(|s| s.latency_ms)
        .collect();
    ms.sort_by(f64::total_cmp);
    Latency {
        p50: quantile(&ms, 0.5),
        p99: quantile(&ms, 0.99),
    }
}

fn level(run: &LevelRun) -> Level {
    let errors = run.sent.iter().filter(|s| s.result.is_err()).count() as u64;
    let answered = run.sent.len() as f64 - errors as f64;
    let secs = run.wall.as_secs_f64();
    Level {
        concurrency: run.concurrency.get(),
        requests_per_s: if secs > 0.0 { answered / secs } else { 0.0 },
        latency_ms: latency(&run.sent),
        errors,
    }
}

/// What the run says: `runs` are the levels in the order run (at least one); the highest level
/// (the last of equals) is judged and held to the thresholds.
pub fn summarise(
    arm: &str,
    endpoint: &str,
    golden: &Golden,
    runs: &[LevelRun],
    cmp: &Comparator,
    thresholds: Thresholds,
    mode: Mode,
) -> Verdict {
    let levels: Vec<Level> = runs.iter().map(level).collect();
    // The level with the most requests in flight, the last of equals (as `highest`).
    let top = runs
        .iter()
        .enumerate()
        .max_by_key(|(i, r)| (r.concurrency, *i))
        .map(|(i, _)| i);
    let sent = top.map_or(&[][..], |i| &runs[i].sent[..]);
    let mut failures: Vec<Failure> = golden.broken.iter().map(broken).collect();
    let (mut matched, mut mismatched, mut errors) = (0usize, 0usize, 0u64);
    for (case, s) in golden.cases.iter().zip(sent) {
        match judge(case, s, cmp) {
            Judged::Matched => matched += 1,
            Judged::Mismatched(reason) => {
                mismatched += 1;
                failures.push(Failure {
                    line: s.line,
                    reason,
                });
            }
            Judged::Error(reason) => {
                errors += 1;
                failures.push(Failure {
                    line: s.line,
                    reason,
                });
            }
        }
    }
    failures.sort_by_key(|f| f.line);
    failures.truncate(MAX_FAILURES);
    let requests = sent.len();
    let (agreement, matched, mismatched) = match mode {
        Mode::Check if requests > 0 => {
            (Some(matched as f64 / requests as f64), matched, mismatched)
        }
        Mode::Check => (Some(0.0), 0, 0),
        Mode::Record => (None, 0, 0),
    };
    let latency_ms = top.map_or(Latency { p50: 0.0, p99: 0.0 }, |i| levels[i].latency_ms);
    let top_concurrency = top.map_or(0, |i| levels[i].concurrency);
    let mut violations = Vec::new();
    if errors > thresholds.max_errors {
        violations.push(format!(
            "{errors} requests failed, more than --max-errors {}",
            thresholds.max_errors
        ));
    }
    if let Some(a) = agreement
        && a < thresholds.min_agreement
    {
        violations.push(format!(
            "agreement {a:.4} is below --min-agreement {}",
            thresholds.min_agreement
        ));
    }
    if let Some(max) = thresholds.max_p99_ms
        && latency_ms.p99 > max
    {
        violations.push(format!(
            "p99 latency {:.2} ms at concurrency {top_concurrency} is above --max-p99-ms {max}",
            latency_ms.p99
        ));
    }
    Verdict {
        arm: arm.to_owned(),
        endpoint: endpoint.to_owned(),
        requests,
        matched,
        mismatched,
        errors,
        agreement,
        latency_ms,
        levels,
        passed: violations.is_empty() && golden.broken.is_empty(),
        failures,
        broken_lines: golden.broken.len(),
        thresholds: Applied {
            min_agreement: (mode == Mode::Check).then_some(thresholds.min_agreement),
            max_p99_ms: thresholds.max_p99_ms,
            max_errors: thresholds.max_errors,
        },
        violations,
    }
}

fn broken(b: &BrokenLine) -> Failure {
    Failure {
        line: b.line,
        reason: format!("unusable line: {}", b.reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::router::{ArmAnswer, ArmFailure};
    use crate::validate::golden::{Purpose, parse};
    use bytes::Bytes;
    use std::num::NonZeroUsize;
    use std::time::Duration;

    fn ok(line: usize, ms: f64, body: &str) -> Sent {
        Sent {
            line,
            latency_ms: ms,
            result: Ok(ArmAnswer {
                body: Bytes::copy_from_slice(body.as_bytes()),
                content_type: None,
                raw: Bytes::new(),
            }),
        }
    }

    fn err(line: usize) -> Sent {
        Sent {
            line,
            latency_ms: 1.0,
            result: Err(ArmFailure {
                kind: ErrorKind::ModelError,
                message: "the model container failed".into(),
            }),
        }
    }

    fn run(c: usize, secs: f64, sent: Vec<Sent>) -> LevelRun {
        LevelRun {
            concurrency: NonZeroUsize::new(c).unwrap(),
            wall: Duration::from_secs_f64(secs),
            sent,
        }
    }

    const GOLDEN: &str = r#"{"body": {}, "expect": {"label": "a", "p": 0.5}}
{"body": {}, "expect": {"label": "b", "p": 0.25}}
{"body": {}, "expect": {"label": "c", "p": 0.125}}
{"body": {}, "expect": {"label": "d", "p": 1.0}}"#;

    fn thresholds() -> Thresholds {
        Thresholds {
            min_agreement: 1.0,
            max_p99_ms: None,
            max_errors: 0,
        }
    }

    fn answers() -> Vec<Sent> {
        vec![
            ok(1, 1.0, r#"{"label": "a", "p": 0.5000001}"#),
            ok(2, 2.0, r#"{"label": "b", "p": 0.3}"#),
            ok(3, 3.0, r#"{"label": "x", "p": 0.125}"#),
            err(4),
        ]
    }

    #[test]
    fn whole_answers_within_the_tolerance() {
        let golden = parse(GOLDEN, Purpose::Check);
        let cmp = Comparator::new(None, Some(1e-3)).unwrap();
        let v = summarise(
            "canary",
            "e",
            &golden,
            &[run(1, 1.0, answers())],
            &cmp,
            thresholds(),
            Mode::Check,
        );
        assert_eq!(
            (v.requests, v.matched, v.mismatched, v.errors),
            (4, 1, 2, 1)
        );
        assert_eq!(v.agreement, Some(0.25));
        assert!(!v.passed);
        assert_eq!(
            v.failures.iter().map(|f| f.line).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert!(
            v.failures[2].reason.starts_with("model_error"),
            "{:?}",
            v.failures
        );
        assert_eq!(v.violations.len(), 2, "{:?}", v.violations);
    }

    #[test]
    fn a_pointer_compares_only_its_value() {
        let golden = parse(GOLDEN, Purpose::Check);
        let cmp = Comparator::new(Some("/label"), None).unwrap();
        let v = summarise(
            "canary",
            "e",
            &golden,
            &[run(1, 1.0, answers())],
            &cmp,
            Thresholds {
                min_agreement: 0.5,
                max_p99_ms: None,
                max_errors: 1,
            },
            Mode::Check,
        );
        assert_eq!((v.matched, v.mismatched, v.errors), (2, 1, 1));
        assert_eq!(v.agreement, Some(0.5));
        assert!(v.passed, "{:?}", v.violations);
        assert_eq!(
            v.failures[0].reason,
            r#"answer differs at /label: expected "c", got "x""#
        );
    }

    #[test]
    fn thresholds_apply_to_the_highest_level() {
        let golden = parse(GOLDEN, Purpose::Check);
        let cmp = Comparator::default();
        let same = |ms: f64| {
            (1..=4)
                .map(|l| {
                    ok(
                        l,
                        ms,
                        match l {
                            1 => r#"{"label": "a", "p": 0.5}"#,
                            2 => r#"{"label": "b", "p": 0.25}"#,
                            3 => r#"{"label": "c", "p": 0.125}"#,
                            _ => r#"{"label": "d", "p": 1.0}"#,
                        },
                    )
                })
                .collect::<Vec<_>>()
        };
        let runs = [run(16, 0.5, same(80.0)), run(1, 2.0, same(5.0))];
        let t = Thresholds {
            max_p99_ms: Some(50.0),
            ..thresholds()
        };
        let v = summarise("a", "e", &golden, &runs, &cmp, t, Mode::Check);
        assert_eq!(v.latency_ms.p99, 80.0);
        assert_eq!(v.levels[0].requests_per_s, 8.0);
        assert_eq!(v.levels[1].requests_per_s, 2.0);
        assert_eq!(v.agreement, Some(1.0));
        assert!(!v.passed);
        assert!(
            v.violations[0].contains("concurrency 16"),
            "{:?}",
            v.violations
        );
        let fast = [run(1, 2.0, same(80.0)), run(16, 0.5, same(5.0))];
        assert!(summarise("a", "e", &golden, &fast, &cmp, t, Mode::Check).passed);
    }

    #[test]
    fn broken_lines_fail_the_run_and_are_listed_first_by_line() {
        let text = format!("{GOLDEN}\nnot json");
        let golden = parse(&text, Purpose::Check);
        let mut sent = answers();
        sent[1] = ok(2, 1.0, r#"{"label": "b", "p": 0.25}"#);
        sent[2] = ok(3, 1.0, r#"{"label": "c", "p": 0.125}"#);
        sent[3] = ok(4, 1.0, r#"{"label": "d", "p": 1.0}"#);
        let v = summarise(
            "a",
            "e",
            &golden,
            &[run(1, 1.0, sent)],
            &Comparator::default(),
            thresholds(),
            Mode::Check,
        );
        assert!(v.violations.is_empty());
        assert!(!v.passed);
        assert_eq!(v.broken_lines, 1);
        assert_eq!(v.failures[0].line, 5);
    }

    #[test]
    fn text_and_binary_answers() {
        let golden = parse(
            "{\"body\": \"x\", \"content_type\": \"text/csv\", \"expect\": \"setosa\"}\n\
             {\"body\": \"x\", \"content_type\": \"text/csv\", \"expect_base64\": \"/w==\"}",
            Purpose::Check,
        );
        let cmp = Comparator::default();
        assert_eq!(
            judge(&golden.cases[0], &ok(1, 1.0, "setosa"), &cmp),
            Judged::Matched
        );
        assert!(matches!(
            judge(&golden.cases[0], &ok(1, 1.0, "virginica"), &cmp),
            Judged::Mismatched(_)
        ));
        let bin = Sent {
            result: Ok(ArmAnswer {
                body: Bytes::from_static(&[0xff]),
                content_type: None,
                raw: Bytes::new(),
            }),
            ..ok(2, 1.0, "")
        };
        assert_eq!(judge(&golden.cases[1], &bin, &cmp), Judged::Matched);
    }

    #[test]
    fn failures_are_capped_and_recording_compares_nothing() {
        let text: Vec<String> = (0..30)
            .map(|_| r#"{"body": {}, "expect": 1}"#.to_owned())
            .collect();
        let golden = parse(&text.join("\n"), Purpose::Check);
        let sent = (1..=30).map(|l| ok(l, 1.0, "2")).collect();
        let v = summarise(
            "a",
            "e",
            &golden,
            &[run(1, 1.0, sent)],
            &Comparator::default(),
            thresholds(),
            Mode::Check,
        );
        assert_eq!(v.failures.len(), MAX_FAILURES);
        assert_eq!(v.mismatched, 30);
        let golden = parse(&text.join("\n"), Purpose::Record);
        let sent = (1..=30).map(|l| ok(l, 1.0, "2")).collect();
        let v = summarise(
            "a",
            "e",
            &golden,
            &[run(1, 1.0, sent)],
            &Comparator::default(),
            thresholds(),
            Mode::Record,
        );
        assert!(v.passed);
        assert_eq!(v.agreement, None);
        assert_eq!(v.thresholds.min_agreement, None);
    }
}

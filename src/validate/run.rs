//! One pass of the golden set at one concurrency level: every case sent once, at most
//! `concurrency` in flight, each timed. What sends a case is passed in, so the pass is tested
//! without a network; `validate` passes the router's own `try_arm`.

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use super::golden::Case;
use crate::router::{ArmAnswer, ArmFailure};

/// One case as sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The case's line in the golden file.
    pub line: usize,
    /// From the call to its answer, in milliseconds.
    pub latency_ms: f64,
    /// The answer, or why there was none.
    pub result: Result<ArmAnswer, ArmFailure>,
}

/// The whole set at one level.
#[derive(Debug, Clone)]
pub struct LevelRun {
    /// Requests in flight at once.
    pub concurrency: NonZeroUsize,
    /// From the first call to the last answer.
    pub wall: Duration,
    /// Every case, in golden-file order.
    pub sent: Vec<Sent>,
}

/// Sends every case once with at most `concurrency` in flight.
pub async fn run_level<'c, F, Fut>(
    cases: &'c [Case],
    concurrency: NonZeroUsize,
    send: F,
) -> LevelRun
where
    F: Fn(&'c Case) -> Fut,
    Fut: Future<Output = Result<ArmAnswer, ArmFailure>>,
{
    let started = Instant::now();
    let send = &send;
    let mut sent: Vec<(usize, Sent)> = stream::iter(cases.iter().enumerate())
        .map(|(i, case)| async move {
            let t = Instant::now();
            let result = send(case).await;
            let latency_ms = t.elapsed().as_secs_f64() * 1000.0;
            (
                i,
                Sent {
                    line: case.line,
                    latency_ms,
                    result,
                },
            )
        })
        .buffer_unordered(concurrency.get())
        .collect()
        .await;
    let wall = started.elapsed();
    sent.sort_by_key(|(i, _)| *i);
    LevelRun {
        concurrency,
        wall,
        sent: sent.into_iter().map(|(_, s)| s).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::validate::golden::{Purpose, parse};
    use bytes::Bytes;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cases(n: usize) -> Vec<Case> {
        let text: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"body": {{"i": {i}}}}}"#))
            .collect();
        parse(&text.join("\n"), Purpose::Record).cases
    }

    #[tokio::test]
    async fn every_case_once_in_order_within_the_level() {
        let cases = cases(40);
        let in_flight = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let run = run_level(&cases, NonZeroUsize::new(4).unwrap(), |case| {
            let (in_flight, peak) = (&in_flight, &peak);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                // Later lines answer sooner: the order must come from the cases, not the answers.
                let ms = 45u64.saturating_sub(case.line as u64);
                tokio::time::sleep(Duration::from_millis(ms / 10)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                if case.line == 3 {
                    return Err(ArmFailure {
                        kind: ErrorKind::Timeout,
                        message: "slow".into(),
                    });
                }
                Ok(ArmAnswer {
                    body: case.body.clone(),
                    content_type: None,
                    raw: Bytes::new(),
                })
            }
        })
        .await;
        assert_eq!(
            run.sent.iter().map(|s| s.line).collect::<Vec<_>>(),
            (1..=40).collect::<Vec<_>>()
        );
        assert_eq!(peak.load(Ordering::SeqCst), 4);
        assert!(run.sent[2].result.is_err());
        assert_eq!(run.sent[0].result.as_ref().unwrap().body, cases[0].body);
        assert!(run.sent.iter().all(|s| s.latency_ms >= 0.0));
    }
}

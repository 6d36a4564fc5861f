//! Shadow calls: for a unit in a shadow's cohort, the same pre-processed body also goes to the
//! shadow's endpoint, started beside the arm's call; the client's answer never depends on it.
//! When both answers are in, they are compared (raw, before post-processing) and one `shadow`
//! record is written. In `serve` the answer goes out at once and the shadow call finishes on
//! its own (bounded by `timeout_ms`, drained at shutdown); in Lambda the answer waits for it,
//! since the process is frozen once the answer is returned.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::parts::{Parts, Shadows};
use super::respond::{millis, new_request_id, rfc3339};
use crate::assign::shadow_bucket;
use crate::config::{Shadow, Timeouts};
use crate::error::ErrorKind;
use crate::record::{Line, RecordSink, ShadowRecord};
use crate::sagemaker::{Invocation, InvokeError, Invoker};

/// How the arm's own call ended, for the comparison.
pub(crate) enum Primary {
    /// The assigned arm's endpoint answered.
    Answered {
        /// Its raw answer.
        raw: Bytes,
        /// Its SageMaker call time.
        model_time: std::time::Duration,
    },
    /// A fallback answered, or nothing did: there is nothing to compare with.
    NotComparable,
}

/// What a shadow call needs, owned: it may outlive its request.
pub(crate) struct Job {
    pub shadow: Shadow,
    pub prediction_id: String,
    pub experiment: String,
    pub config_version: String,
    pub unit: String,
    pub arm: String,
    pub body: Bytes,
    pub content_type: String,
    pub accept: Option<String>,
    pub namespace: String,
    pub timeouts: Timeouts,
}

/// A started shadow call, waiting for the arm's answer.
pub(crate) struct Started {
    primary: oneshot::Sender<Primary>,
    done: tokio::task::JoinHandle<()>,
}

/// The shadows whose cohort holds `unit_id`.
pub(crate) fn cohorts<'c>(shadows: &'c [Shadow], salt: &str, unit_id: &str) -> Vec<&'c Shadow> {
    shadows
        .iter()
        .filter(|s| shadow_bucket(salt, s.name(), unit_id) < s.share())
        .collect()
}

/// Starts `jobs` beside the arm's call.
pub(crate) fn start<I: Invoker, S: RecordSink>(
    parts: &Parts<I, S>,
    jobs: Vec<Job>,
) -> Vec<Started> {
    jobs.into_iter()
        .map(|job| {
            let (tx, rx) = oneshot::channel();
            let fut = run(Arc::clone(&parts.invoker), Arc::clone(&parts.sink), job, rx);
            let done = match &parts.shadows {
                Shadows::Detached(tasks) => tasks.spawn(fut),
                Shadows::Awaited => tokio::spawn(fut),
            };
            Started { primary: tx, done }
        })
        .collect()
}

/// Hands the arm's outcome to the shadow calls; in the awaited mode, waits for them.
pub(crate) async fn finish<I, S>(
    parts: &Parts<I, S>,
    started: Vec<Started>,
    primary: impl Fn() -> Primary,
) {
    let mut waiting = Vec::new();
    for s in started {
        let _ = s.primary.send(primary());
        waiting.push(s.done);
    }
    if matches!(parts.shadows, Shadows::Awaited) {
        for done in waiting {
            let _ = done.await;
        }
    }
}

async fn run<I: Invoker, S: RecordSink>(
    invoker: Arc<I>,
    sink: Arc<S>,
    job: Job,
    primary: oneshot::Receiver<Primary>,
) {
    let request_id = new_request_id();
    let timeout = job.shadow.timeout();
    let call = Invocation {
        endpoint: job.shadow.endpoint(),
        target: job.shadow.target(),
        body: job.body.clone(),
        content_type: &job.content_type,
        accept: job.accept.as_deref(),
        inference_id: &request_id,
        custom_attributes: job.shadow.custom_attributes(),
        timeouts: Timeouts {
            attempt: timeout,
            total: timeout,
            ..job.timeouts
        },
    };
    let t0 = Instant::now();
    let answer = match tokio::time::timeout(timeout, invoker.invoke(call)).await {
        Ok(answer) => answer,
        Err(_) => Err(InvokeError {
            kind: ErrorKind::Timeout,
            code: None,
            message: format!(
                "shadow `{}` did not answer within timeout_ms",
                job.shadow.name()
            ),
        }),
    };
    let latency = t0.elapsed();
    let primary = primary.await.unwrap_or(Primary::NotComparable);
    let (agrees, max_abs_diff) = match (&answer, &primary) {
        (Ok(shadow), Primary::Answered { raw, .. }) => {
            let c = job.shadow.comparator().compare_bytes(raw, &shadow.body);
            (Some(c.agrees), c.max_abs_diff)
        }
        _ => (None, None),
    };
    let error = answer.as_ref().err().map(|e| e.kind);
    if let Err(e) = &answer {
        tracing::debug!(shadow = %job.shadow.name(), kind = %e.kind, "shadow call failed");
    }
    let now = SystemTime::now();
    let ts_ms = now
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let record = ShadowRecord {
        kind: "shadow",
        ts: rfc3339(now),
        request_id: &request_id,
        prediction_id: &job.prediction_id,
        experiment: &job.experiment,
        config_version: &job.config_version,
        unit: &job.unit,
        arm: &job.arm,
        shadow: job.shadow.name(),
        endpoint: job.shadow.endpoint(),
        status: error.map_or(200, |k| k.status().as_u16()),
        error,
        latency_ms: millis(latency),
        agrees,
        max_abs_diff,
        primary_latency_ms: match &primary {
            Primary::Answered { model_time, .. } => Some(millis(*model_time)),
            Primary::NotComparable => None,
        },
        aws: ShadowRecord::emf(&job.namespace, ts_ms),
        calls: 1,
        errors: u32::from(error.is_some()),
        disagreements: u32::from(agrees == Some(false)),
    };
    sink.write(&Line::Shadow(record));
}

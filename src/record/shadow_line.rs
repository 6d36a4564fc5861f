//! The `"kind": "shadow"` record: one per shadow call, with whether its answer agreed with the
//! arm's, and an EMF block per `experiment` and `shadow`.

use serde::Serialize;

use super::emf::{Emf, EmfDirective, EmfMetric};
use crate::error::ErrorKind;

const SHADOW_METRICS: &[EmfMetric] = &[
    EmfMetric {
        name: "calls",
        unit: "Count",
    },
    EmfMetric {
        name: "errors",
        unit: "Count",
    },
    EmfMetric {
        name: "disagreements",
        unit: "Count",
    },
    EmfMetric {
        name: "latency_ms",
        unit: "Milliseconds",
    },
];
const BY_SHADOW: &[&[&str]] = &[&["experiment", "shadow"]];

/// One shadow call.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowRecord<'a> {
    /// Always `shadow`.
    pub kind: &'static str,
    /// RFC 3339 time of the call's end.
    pub ts: String,
    /// The shadow call's own ID.
    pub request_id: &'a str,
    /// The decision's `request_id`.
    pub prediction_id: &'a str,
    /// From the config.
    pub experiment: &'a str,
    /// The version the prediction was served under.
    pub config_version: &'a str,
    /// The unit's pseudonymous ID.
    pub unit: &'a str,
    /// The primary arm.
    pub arm: &'a str,
    /// The shadow's name.
    pub shadow: &'a str,
    /// The shadow's endpoint.
    pub endpoint: &'a str,
    /// What a client would have got from the shadow: 200, or the error's status.
    pub status: u16,
    /// The error kind, when the shadow call failed.
    pub error: Option<ErrorKind>,
    /// The shadow call's time.
    pub latency_ms: f64,
    /// Whether the answers agree; null when either side failed or a fallback answered.
    pub agrees: Option<bool>,
    /// The largest difference of the numbers of both raw answers; null when shapes differ.
    pub max_abs_diff: Option<f64>,
    /// The arm's own SageMaker call time for the same request, to compare latencies pair by
    /// pair; null when the arm's answer is not comparable (it failed, or a fallback answered).
    pub primary_latency_ms: Option<f64>,
    /// The EMF block.
    #[serde(rename = "_aws")]
    pub aws: Emf<'a>,
    /// Always 1.
    pub calls: u32,
    /// 1 when the shadow call failed.
    pub errors: u32,
    /// 1 when the answers disagreed.
    pub disagreements: u32,
}

impl ShadowRecord<'_> {
    /// The EMF block for `namespace` at `timestamp_ms`, with the counters from the record.
    pub fn emf(namespace: &str, timestamp_ms: u64) -> Emf<'_> {
        Emf {
            timestamp: timestamp_ms,
            cloudwatch_metrics: [EmfDirective {
                namespace,
                dimensions: BY_SHADOW,
                metrics: SHADOW_METRICS,
            }],
        }
    }
}

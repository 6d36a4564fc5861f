//! CloudWatch Embedded Metric Format: the `_aws` block of a decision record and the top-level
//! numbers it names. Dimensions are the record's own `experiment` and `arm` fields.

use serde::Serialize;

/// The EMF block and the top-level numeric members it points at.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics<'a> {
    /// The EMF metadata.
    #[serde(rename = "_aws")]
    pub aws: Emf<'a>,
    /// Always 1: one request.
    pub invocations: u32,
    /// 1 when the router answered with a 5xx (the model or SageMaker failed).
    pub errors: u32,
    /// 1 when the fallback arm answered.
    pub fallbacks: u32,
}

/// CloudWatch Embedded Metric Format metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Emf<'a> {
    /// Milliseconds since the Unix epoch.
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
    /// One directive: the namespace, the dimension sets and the metrics.
    #[serde(rename = "CloudWatchMetrics")]
    pub cloudwatch_metrics: [EmfDirective<'a>; 1],
}

/// One EMF metric directive.
#[derive(Debug, Clone, Serialize)]
pub struct EmfDirective<'a> {
    /// The CloudWatch namespace.
    #[serde(rename = "Namespace")]
    pub namespace: &'a str,
    /// Dimension sets; each names top-level string members of the record.
    #[serde(rename = "Dimensions")]
    pub dimensions: &'static [&'static [&'static str]],
    /// The metrics; each names a top-level number of the record.
    #[serde(rename = "Metrics")]
    pub metrics: &'static [EmfMetric],
}

/// One metric name and unit.
#[derive(Debug, Clone, Serialize)]
pub struct EmfMetric {
    /// A top-level numeric member of the record.
    #[serde(rename = "Name")]
    pub name: &'static str,
    /// The CloudWatch unit.
    #[serde(rename = "Unit")]
    pub unit: &'static str,
}

const fn metric(name: &'static str, unit: &'static str) -> EmfMetric {
    EmfMetric { name, unit }
}

pub(crate) const WITH_MODEL_LATENCY: &[EmfMetric] = &[
    metric("invocations", "Count"),
    metric("errors", "Count"),
    metric("fallbacks", "Count"),
    metric("latency_ms", "Milliseconds"),
    metric("model_latency_ms", "Milliseconds"),
];
/// Without `model_latency_ms`: EMF must not name a member the record does not carry.
pub(crate) const WITHOUT_MODEL_LATENCY: &[EmfMetric] = WITH_MODEL_LATENCY.split_at(4).0;
/// A streamed answer's: its time to first byte besides, per arm.
pub(crate) const STREAMED_WITH_MODEL_LATENCY: &[EmfMetric] = &[
    metric("invocations", "Count"),
    metric("errors", "Count"),
    metric("fallbacks", "Count"),
    metric("latency_ms", "Milliseconds"),
    metric("model_latency_ms", "Milliseconds"),
    metric("first_byte_ms", "Milliseconds"),
];
/// Without `model_latency_ms`.
pub(crate) const STREAMED_WITHOUT_MODEL_LATENCY: &[EmfMetric] = &[
    metric("invocations", "Count"),
    metric("errors", "Count"),
    metric("fallbacks", "Count"),
    metric("latency_ms", "Milliseconds"),
    metric("first_byte_ms", "Milliseconds"),
];
pub(crate) const BY_ARM: &[&[&str]] = &[&["experiment", "arm"]];
pub(crate) const BY_EXPERIMENT: &[&[&str]] = &[&["experiment"]];

//! The report as data: what `--format json` prints (schema in docs/report.md) and what the
//! table and HTML renderers read.

use serde::Serialize;

/// Version tag of the JSON document.
pub(crate) const SCHEMA: &str = "canary-router/report/v1";

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The schema of this document: `canary-router/report/v1`.
    pub schema: &'static str,
    /// The program that wrote it, with its version.
    pub generator: String,
    /// The settings the analysis ran with.
    pub options: OptionsUsed,
    /// What was read: lines, records, duplicates, skipped lines.
    pub input: InputSummary,
    /// Every experiment found, in name order.
    pub experiments: Vec<Experiment>,
    /// Some phase's sample-ratio check flagged (what `--fail-on-srm` acts on).
    pub srm_flagged: bool,
}

/// The analysis settings in force.
#[derive(Debug, Clone, Serialize)]
pub struct OptionsUsed {
    /// The `--control` arm, if one was named.
    pub control: Option<String>,
    /// Confidence sequences (`--sequential`) instead of fixed-horizon tests.
    pub sequential: bool,
    /// Tuning parameter N* of the confidence sequences.
    pub n_star: f64,
    /// Two-sided level of tests and intervals.
    pub alpha: f64,
    /// Events analysed per prediction (ratio metrics).
    pub per_prediction_events: Vec<String>,
}

/// What was read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputSummary {
    /// The inputs, as named on the command line (`-` for stdin).
    pub files: Vec<String>,
    /// Every line, blank ones included.
    pub lines: u64,
    /// Lines with only whitespace.
    pub blank_lines: u64,
    /// Decision and outcome records read, duplicates included.
    pub records: u64,
    /// Records left after de-duplication by `request_id`.
    pub unique_records: u64,
    /// Records dropped as repeats of an earlier `request_id`.
    pub duplicates: u64,
    /// Lines skipped: `not_records + corrupt`.
    pub skipped: u64,
    /// Well-formed lines that are not records (platform logs, other JSON).
    pub not_records: u64,
    /// Truncated or corrupt lines.
    pub corrupt: u64,
}

/// One experiment and its phases (config versions), in name order.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// The `experiment` of its records.
    pub name: String,
    /// Its config versions, by first record time.
    pub phases: Vec<Phase>,
}

/// One phase: a config version, whose weights are fixed.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    /// The `config_version` of its records.
    pub config_version: String,
    /// Time of the earliest record (RFC 3339, UTC).
    pub first_ts: Option<String>,
    /// Time of the latest record (RFC 3339, UTC).
    pub last_ts: Option<String>,
    /// The arm the others are compared against.
    pub control: Option<String>,
    /// The configured arms and weights (basis points), in config order.
    pub weights: Vec<(String, u32)>,
    /// Decision records (after de-duplication).
    pub decisions: u64,
    /// Outcome records (after de-duplication), counted or not.
    pub outcomes: u64,
    /// The sample-ratio check.
    pub srm: Srm,
    /// What the tests left out, and problems with the data.
    pub data_quality: DataQuality,
    /// The arms: configured ones in config order, then the others by name.
    pub arms: Vec<Arm>,
    /// The metrics, in event-name order.
    pub metrics: Vec<MetricInfo>,
    /// Every treatment arm against the control, per metric.
    pub comparisons: Vec<Comparison>,
    /// Shadow calls of the phase, per shadow, in name order.
    pub shadows: Vec<ShadowSummary>,
}

/// One shadow within one phase: how often its raw answers agreed with the arm's, how far apart
/// their numbers were, and its latency beside the arm's on the same requests.
#[derive(Debug, Clone, Serialize)]
pub struct ShadowSummary {
    /// The shadow's name.
    pub shadow: String,
    /// Its endpoint.
    pub endpoint: Option<String>,
    /// Shadow calls (shadowed requests).
    pub calls: u64,
    /// Calls that failed or timed out.
    pub errors: u64,
    /// `errors / calls`.
    pub error_rate: Option<f64>,
    /// Calls whose answers could be compared (both sides answered, no fallback).
    pub compared: u64,
    /// Units with a compared call.
    pub units: u64,
    /// Share of compared calls that agreed: a ratio of per-unit sums.
    pub agreement: Option<f64>,
    /// Its interval at the report's confidence level, by the delta method with the unit as
    /// the unit of analysis (as the report's per-prediction ratios).
    pub agreement_ci: Option<(f64, f64)>,
    /// The distribution of `max_abs_diff` over calls where both answers had the same shape.
    pub max_abs_diff: Option<DiffDistribution>,
    /// The shadow's call latency, on calls both sides answered.
    pub latency_ms: Option<Latency>,
    /// The primary arm's call latency on the same requests.
    pub primary_latency_ms: Option<Latency>,
    /// Calls by primary arm.
    pub by_arm: Vec<(String, u64)>,
}

/// Quantiles of `max_abs_diff`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DiffDistribution {
    /// Calls with a number.
    pub count: u64,
    /// Share of those where every number was equal.
    pub zero_share: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Counts that explain what the tests left out, and problems with the data.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataQuality {
    /// Units assigned by an override (user list, country, forced) or with no `assigned_by`:
    /// shown per arm, left out of tests and the SRM check.
    pub units_override: u64,
    /// Units seen in more than one arm of the phase: left out.
    pub units_multi_arm: u64,
    /// Bucket-assigned units in arms of weight 0 (an assignment error).
    pub units_in_zero_weight_arms: u64,
    /// Records without a `unit`.
    pub records_without_unit: u64,
    /// Records without an `arm` (failed before assignment).
    pub records_without_arm: u64,
    /// Records without (valid) `weights`.
    pub records_without_weights: u64,
    /// Records whose `weights` differ from the phase's (most common) weights.
    pub records_with_other_weights: u64,
    /// Outcome records refused by the router (not 2xx) or without an event.
    pub outcomes_not_counted: u64,
    /// Arms in records but not in the weights.
    pub arms_not_in_weights: Vec<String>,
    /// One sentence per problem, for people.
    pub notes: Vec<String>,
}

/// One arm.
#[derive(Debug, Clone, Serialize)]
pub struct Arm {
    /// The arm name.
    pub name: String,
    /// Basis points; null for an arm missing from the weights.
    pub weight: Option<u32>,
    /// This arm is the control of the phase.
    pub is_control: bool,
    /// Distinct units seen in the arm, however assigned.
    pub units: u64,
    /// Units in the tests: assigned by bucket and seen in this arm only.
    pub units_analysed: u64,
    /// Units seen only in this arm, assigned by an override at least once.
    pub units_override: u64,
    /// Units seen in this arm and another one.
    pub units_multi_arm: u64,
    /// Decision records.
    pub requests: u64,
    /// Decisions answered with a 5xx.
    pub errors: u64,
    /// `errors / requests`; null without requests.
    pub error_rate: Option<f64>,
    /// Decisions answered with a 4xx.
    pub client_errors: u64,
    /// Decisions answered by the fallback arm.
    pub fallbacks: u64,
    /// `fallbacks / requests`; null without requests.
    pub fallback_rate: Option<f64>,
    /// Outcome records, counted or not.
    pub outcomes: u64,
    /// Router latency of decisions; null without any.
    pub latency_ms: Option<Latency>,
    /// Where its decisions went: each endpoint and target its own calls named, most requests
    /// first (decisions a fallback answered, or that reached no endpoint, are not counted).
    pub targets: Vec<ArmTarget>,
    /// Streamed answers (`Accept: text/event-stream`), when the arm had any.
    pub stream: Option<ArmStream>,
    /// Each metric of the phase (in the phase's order) over the analysed units.
    pub metrics: Vec<ArmMetric>,
    /// Cumulative analysed units by first-seen time.
    pub timeline: Vec<TimePoint>,
}

/// An endpoint and target an arm's calls named, with the record fields' names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArmTarget {
    /// The SageMaker endpoint.
    pub endpoint: String,
    /// The production variant that answered.
    pub invoked_variant: Option<String>,
    /// The inference component the calls named.
    pub inference_component: Option<String>,
    /// The model of a multi-model endpoint the calls named.
    pub target_model: Option<String>,
    /// The container of a multi-container endpoint the calls named.
    pub target_container_hostname: Option<String>,
    /// Decisions with this endpoint and target.
    pub requests: u64,
}

/// An arm's streamed answers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ArmStream {
    /// Streams that sent a first payload byte.
    pub streams: u64,
    /// Time from the request's arrival to the first payload byte.
    pub first_byte_ms: Option<Latency>,
    /// Tokens, over the streams whose format shows them.
    pub tokens: u64,
    /// Those tokens over the seconds from each stream's first byte to its end.
    pub tokens_per_s: Option<f64>,
}

/// Router latency percentiles (HdrHistogram, three significant digits).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Decisions with a latency.
    pub count: u64,
    /// Mean, in milliseconds.
    pub mean: f64,
    /// Median, in milliseconds.
    pub p50: f64,
    /// 95th percentile, in milliseconds.
    pub p95: f64,
    /// 99th percentile, in milliseconds.
    pub p99: f64,
    /// Largest, in milliseconds.
    pub max: f64,
}

/// A point of the units-over-time curve.
#[derive(Debug, Clone, Serialize)]
pub struct TimePoint {
    /// The time (RFC 3339, UTC).
    pub ts: String,
    /// Analysed units first seen at or before `ts`.
    pub units: u64,
}

/// How a metric is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Share of units with at least one event; variance p(1-p).
    Conversion,
    /// Mean per unit of the sum of its event values; sample variance.
    Value,
    /// Sum of event values over number of predictions, per unit; delta method.
    Ratio,
}

/// One metric of the phase.
#[derive(Debug, Clone, Serialize)]
pub struct MetricInfo {
    /// `correct` (ratio), `click:conversion`, `click:value`.
    pub id: String,
    /// The event it is computed from.
    pub event: String,
    /// How it is computed.
    pub kind: MetricKind,
    /// Name used in verdicts: `correct`, `click conversion`, `click value per unit`.
    pub label: String,
}

/// A metric in one arm, over its analysed units.
#[derive(Debug, Clone, Serialize)]
pub struct ArmMetric {
    /// The metric id ([`MetricInfo::id`]).
    pub metric: String,
    /// Analysed units.
    pub units: u64,
    /// Units with at least one event.
    pub units_converted: u64,
    /// Sum of event values.
    pub value_sum: f64,
    /// Predictions (ratio metrics only).
    pub predictions: Option<f64>,
    /// The arm's statistic: share, mean per unit, or ratio.
    pub mean: f64,
    /// Unit-level variance (delta method for ratios).
    pub variance: f64,
    /// 95% interval of the arm's mean (t, n-1 df); null below 2 units.
    pub ci_low: Option<f64>,
    /// Upper end of the interval of `ci_low`.
    pub ci_high: Option<f64>,
}

/// The direction a comparison points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Significantly better than the control.
    Better,
    /// Significantly worse than the control.
    Worse,
    /// No significant difference.
    NoSignificantDifference,
    /// Too few units, or no variation, to test.
    NotEnoughData,
}

/// One treatment arm against the control on one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The metric id ([`MetricInfo::id`]).
    pub metric: String,
    /// The treatment arm.
    pub arm: String,
    /// The control arm.
    pub control: String,
    /// `welch_t` (fixed horizon) or `sequential` (always-valid confidence sequence).
    pub method: &'static str,
    /// Number of treatment arms in the Holm family (p-values adjusted when above 1).
    pub holm_family: usize,
    /// Analysed units of the control.
    pub control_units: u64,
    /// Analysed units of the treatment arm.
    pub arm_units: u64,
    /// The control's statistic.
    pub control_mean: f64,
    /// The treatment arm's statistic.
    pub arm_mean: f64,
    /// `arm_mean - control_mean`, Welch's t.
    pub absolute: Option<Effect>,
    /// `(arm_mean - control_mean) / control_mean`, delta method.
    pub relative: Option<Effect>,
    /// P(relative lift > 0), Gaussian, flat prior.
    pub chance_to_win: Option<f64>,
    /// What the verdict says, as a word.
    pub direction: Direction,
    /// One sentence for people.
    pub verdict: String,
}

/// An estimate, its interval and its test, from one method.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Effect {
    /// The point estimate.
    pub estimate: f64,
    /// Its standard error.
    pub se: f64,
    /// Unadjusted 95% interval (an always-valid one with `--sequential`).
    pub ci_low: f64,
    /// Upper end of the interval of `ci_low`.
    pub ci_high: f64,
    /// Two-sided p-value (always valid with `--sequential`).
    pub p_value: f64,
    /// Holm-adjusted across the treatment arms (null with one treatment arm).
    pub p_value_holm: Option<f64>,
    /// Test statistic: `estimate / se`.
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
}

/// One arm in the check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmArm {
    /// The arm name.
    pub arm: String,
    /// Basis points.
    pub weight: u32,
    /// Units assigned by bucket, seen in this arm only.
    pub units: u64,
    /// Expected units under the weights (null for arms of weight 0).
    pub expected: Option<f64>,
}

/// The result for one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Srm {
    /// The configured arms, in config order.
    pub arms: Vec<SrmArm>,
    /// Whether the chi-square was computed and shown (every expected count at least 5).
    pub checked: bool,
    /// Pearson's chi-square statistic; null when not checked.
    pub chi_square: Option<f64>,
    /// Its degrees of freedom (arms with weight above 0, minus 1); null when not checked.
    pub df: Option<u32>,
    /// Its p-value; null when not checked.
    pub p_value: Option<f64>,
    /// Any reason below fired.
    pub flagged: bool,
    /// `chi_square` (p < 0.001), `starved_arm` (weight above 0, no units),
    /// `units_in_zero_weight_arm` (bucket-assigned units where no bucket leads).
    pub reasons: Vec<String>,
    /// A sentence for people.
    pub summary: String,
}

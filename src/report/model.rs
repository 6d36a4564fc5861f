//! The report as data: what `--format json` prints (schema in docs/report.md) and what the
//! table and HTML renderers read.

use serde::Serialize;

use super::srm::Srm;

/// Version tag of the JSON document.
pub const SCHEMA: &str = "canary-router/report/v1";

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    /// The program that wrote it, with its version.
    pub generator: String,
    pub options: OptionsUsed,
    pub input: InputSummary,
    pub experiments: Vec<Experiment>,
    /// Some phase's sample-ratio check flagged (what `--fail-on-srm` acts on).
    pub srm_flagged: bool,
}

/// The analysis settings in force.
#[derive(Debug, Clone, Serialize)]
pub struct OptionsUsed {
    pub control: Option<String>,
    pub sequential: bool,
    pub n_star: f64,
    pub alpha: f64,
    pub per_prediction_events: Vec<String>,
}

/// What was read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputSummary {
    pub files: Vec<String>,
    /// Every line, blank ones included.
    pub lines: u64,
    pub blank_lines: u64,
    /// Decision and outcome records read, duplicates included.
    pub records: u64,
    /// Records left after de-duplication by `request_id`.
    pub unique_records: u64,
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
    pub name: String,
    pub phases: Vec<Phase>,
}

/// One phase: a config version, whose weights are fixed.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub config_version: String,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    /// The arm the others are compared against.
    pub control: Option<String>,
    /// The configured arms and weights (basis points), in config order.
    pub weights: Vec<(String, u32)>,
    pub decisions: u64,
    pub outcomes: u64,
    pub srm: Srm,
    pub data_quality: DataQuality,
    pub arms: Vec<Arm>,
    pub metrics: Vec<MetricInfo>,
    pub comparisons: Vec<Comparison>,
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
    pub records_without_unit: u64,
    pub records_without_arm: u64,
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
    pub name: String,
    /// Basis points; null for an arm missing from the weights.
    pub weight: Option<u32>,
    pub is_control: bool,
    /// Distinct units seen in the arm, however assigned.
    pub units: u64,
    /// Units in the tests: assigned by bucket and seen in this arm only.
    pub units_analysed: u64,
    pub units_override: u64,
    pub units_multi_arm: u64,
    /// Decision records.
    pub requests: u64,
    /// Decisions answered with a 5xx.
    pub errors: u64,
    pub error_rate: Option<f64>,
    /// Decisions answered with a 4xx.
    pub client_errors: u64,
    /// Decisions answered by the fallback arm.
    pub fallbacks: u64,
    pub fallback_rate: Option<f64>,
    pub outcomes: u64,
    pub latency_ms: Option<Latency>,
    pub metrics: Vec<ArmMetric>,
    /// Cumulative analysed units by first-seen time.
    pub timeline: Vec<TimePoint>,
}

/// Router latency percentiles (HdrHistogram, three significant digits).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// A point of the units-over-time curve.
#[derive(Debug, Clone, Serialize)]
pub struct TimePoint {
    pub ts: String,
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
    pub event: String,
    pub kind: MetricKind,
    /// Name used in verdicts: `correct`, `click conversion`, `click value per unit`.
    pub label: String,
}

/// A metric in one arm, over its analysed units.
#[derive(Debug, Clone, Serialize)]
pub struct ArmMetric {
    pub metric: String,
    pub units: u64,
    /// Units with at least one event.
    pub units_converted: u64,
    /// Sum of event values.
    pub value_sum: f64,
    /// Predictions (ratio metrics only).
    pub predictions: Option<f64>,
    pub mean: f64,
    /// Unit-level variance (delta method for ratios).
    pub variance: f64,
    /// 95% interval of the arm's mean (t, n-1 df); null below 2 units.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

/// The direction a comparison points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Better,
    Worse,
    NoSignificantDifference,
    NotEnoughData,
}

/// One treatment arm against the control on one metric.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub metric: String,
    pub arm: String,
    pub control: String,
    /// `welch_t` (fixed horizon) or `sequential` (always-valid confidence sequence).
    pub method: &'static str,
    /// Number of treatment arms in the Holm family (p-values adjusted when above 1).
    pub holm_family: usize,
    pub control_units: u64,
    pub arm_units: u64,
    pub control_mean: f64,
    pub arm_mean: f64,
    /// `arm_mean - control_mean`, Welch's t.
    pub absolute: Option<Effect>,
    /// `(arm_mean - control_mean) / control_mean`, delta method.
    pub relative: Option<Effect>,
    /// P(relative lift > 0), Gaussian, flat prior.
    pub chance_to_win: Option<f64>,
    pub direction: Direction,
    pub verdict: String,
}

/// An estimate, its interval and its test, from one method.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Effect {
    pub estimate: f64,
    pub se: f64,
    /// Unadjusted 95% interval (an always-valid one with `--sequential`).
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// Holm-adjusted across the treatment arms (null with one treatment arm).
    pub p_value_holm: Option<f64>,
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
}

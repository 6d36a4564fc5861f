//! The settings of one analysis.

/// Analysis settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The control arm; by default the first arm of each phase's weights.
    pub control: Option<String>,
    /// Always-valid confidence sequences instead of fixed-horizon tests.
    pub sequential: bool,
    /// Tuning parameter N* of the confidence sequences.
    pub n_star: f64,
    /// Two-sided level of tests and intervals.
    pub alpha: f64,
    /// Events analysed per prediction (sum of values over predictions, per unit).
    pub per_prediction: Vec<String>,
    /// Parsing threads; 0 picks the number of cores (at most 8).
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            control: None,
            sequential: false,
            n_star: 5000.0,
            alpha: 0.05,
            per_prediction: vec!["correct".to_owned()],
            threads: 0,
        }
    }
}

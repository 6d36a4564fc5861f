//! The demo's checks before and beside traffic: `validate` on the canary against the control's
//! recorded answers before phase `demo.1` (the validate module's own code, through the demo's
//! router), and the shadow phase's config and its summary from the report.

use std::fmt::Write;
use std::num::NonZeroUsize;
use std::path::Path;

use serde_json::{Value, json};

use crate::compare::Comparator;
use crate::emulator::iris_samples;
use crate::record::RecordSink;
use crate::report::Report;
use crate::router::Router;
use crate::sagemaker::Invoker;
use crate::validate::golden::{self, Purpose};
use crate::validate::verdict::{self, Mode, Thresholds};
use crate::validate::{highest, recorded, render, send_all};

/// The shadow of the shadow phase: the canary's endpoint for half the users.
pub(crate) const SHADOW: &str = "canary-shadow";

/// The version of the shadow phase.
pub(crate) const SHADOW_VERSION: &str = "demo.5";

/// The canary must agree with the control on this share of labels. The canary is the better
/// model, so it disagrees where the control is wrong: the gate is for a canary that is broken,
/// not for one that is different.
const MIN_AGREEMENT: f64 = 0.75;

/// Slower than this at 8 requests in flight and the canary would not go out.
const MAX_P99_MS: f64 = 250.0;

/// What the validate step found.
pub(crate) struct Validated {
    /// Its table, shortened for the demo.
    pub text: String,
    /// Every threshold met.
    pub passed: bool,
}

/// Records the control's answers on the Iris rows into `golden_path`, then validates the canary
/// against them with `--match /label` at concurrency 1 and 8.
pub(crate) async fn validate_canary<I: Invoker, S: RecordSink>(
    router: &Router<I, S>,
    golden_path: &Path,
) -> Result<Validated, std::io::Error> {
    let sample: String = iris_samples()
        .iter()
        .map(|(x, _)| json!({"body": {"features": x}}).to_string() + "\n")
        .collect();
    let sample = golden::parse(&sample, Purpose::Record);
    let one = [NonZeroUsize::MIN];
    let control = send_all(router, "control", &sample, &one).await;
    let text = highest(&control).map_or_else(String::new, |run| recorded(&sample.cases, run));
    std::fs::write(golden_path, &text)?;

    let golden = golden::parse(&text, Purpose::Check);
    let levels = [
        NonZeroUsize::MIN,
        NonZeroUsize::new(8).unwrap_or(NonZeroUsize::MIN),
    ];
    let runs = send_all(router, "canary", &golden, &levels).await;
    let cmp = Comparator::new(Some("/label"), None).unwrap_or_default();
    let thresholds = Thresholds {
        min_agreement: MIN_AGREEMENT,
        max_p99_ms: Some(MAX_P99_MS),
        max_errors: 0,
    };
    let endpoint = router
        .config()
        .arms()
        .iter()
        .find(|a| a.name() == "canary")
        .map(|a| a.endpoint().to_owned())
        .unwrap_or_default();
    let mut v = verdict::summarise(
        "canary",
        &endpoint,
        &golden,
        &runs,
        &cmp,
        thresholds,
        Mode::Check,
    );
    let passed = v.passed;
    v.failures.truncate(3);
    Ok(Validated {
        text: render::table(&v, &golden_path.display().to_string()),
        passed,
    })
}

/// The shadow phase's config: the last phase's split, with the canary's endpoint as a shadow
/// for half the users, compared on the label.
pub(crate) fn shadow_config(last_phase: &str) -> Result<String, serde_json::Error> {
    let mut v: Value = serde_json::from_str(last_phase)?;
    v["version"] = json!(SHADOW_VERSION);
    v["shadow"] = json!([{
        "name": SHADOW,
        "endpoint": v["arms"][1]["endpoint"],
        "share": 5000,
        "timeout_ms": 1000,
        "match": "/label"
    }]);
    serde_json::to_string_pretty(&v)
}

/// One line on the shadow phase, from the report of the demo's records.
pub(crate) fn shadow_line(report: &Report) -> String {
    let found = report
        .experiments
        .iter()
        .flat_map(|e| &e.phases)
        .filter(|p| p.config_version == SHADOW_VERSION)
        .flat_map(|p| &p.shadows)
        .find(|s| s.shadow == SHADOW);
    let Some(s) = found else {
        return format!("shadow phase {SHADOW_VERSION}: no shadow records\n");
    };
    let mut out = format!(
        "shadow phase {SHADOW_VERSION}: {} of the users' requests also went to the canary's endpoint as shadow `{SHADOW}`: {} calls, {} errors",
        "half", s.calls, s.errors
    );
    if let (Some(a), Some((lo, hi))) = (s.agreement, s.agreement_ci) {
        let _ = write!(
            out,
            ", labels agree on {:.1}% (95% CI {:.1}% to {:.1}%)",
            a * 100.0,
            lo * 100.0,
            hi * 100.0
        );
    }
    if let (Some(sh), Some(arm)) = (s.latency_ms, s.primary_latency_ms) {
        let _ = write!(
            out,
            "; call latency p50 {:.2} ms (shadow) vs {:.2} ms (arm), p99 {:.2} vs {:.2} ms",
            sh.p50, arm.p50, sh.p99, arm.p99
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_shadow_phase_config_is_valid() {
        let phases = crate::demo::phases();
        let last = crate::demo::phase_config(&phases[phases.len() - 1]).unwrap();
        let cfg = Config::parse(&shadow_config(&last).unwrap()).unwrap();
        assert_eq!(cfg.version(), SHADOW_VERSION);
        assert_eq!(cfg.shadows().len(), 1);
        assert_eq!(cfg.shadows()[0].endpoint(), "iris-b");
    }
}

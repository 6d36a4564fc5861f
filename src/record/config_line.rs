//! The `"kind": "config"` line: a config document the router refused, while the last good one
//! keeps serving. Its EMF metric `config_refusals` (per `experiment`) is what an AppConfig
//! deployment's monitor watches, so a document that some instances refuse is rolled back
//! everywhere.

use serde::Serialize;

use super::emf::{Emf, EmfDirective, EmfMetric};

const REFUSALS: &[EmfMetric] = &[EmfMetric {
    name: "config_refusals",
    unit: "Count",
}];
const BY_EXPERIMENT: &[&[&str]] = &[&["experiment"]];

/// One refused config document.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigRefusal<'a> {
    /// Always `config`.
    pub kind: &'static str,
    /// RFC 3339 time of the refusal.
    pub ts: String,
    /// The experiment of the config still serving.
    pub experiment: &'a str,
    /// The version still serving.
    pub config_version: &'a str,
    /// The version the refused document names, when it names one.
    pub refused_version: Option<&'a str>,
    /// Why it was refused (the key and the reason).
    pub reason: &'a str,
    /// The EMF block.
    #[serde(rename = "_aws")]
    pub aws: Emf<'a>,
    /// Always 1.
    pub config_refusals: u32,
}

impl<'a> ConfigRefusal<'a> {
    /// The line for a refusal at `ts` (RFC 3339) / `timestamp_ms`.
    pub fn new(
        namespace: &'a str,
        ts: String,
        timestamp_ms: u64,
        serving: (&'a str, &'a str),
        refused_version: Option<&'a str>,
        reason: &'a str,
    ) -> Self {
        let (experiment, config_version) = serving;
        ConfigRefusal {
            kind: "config",
            ts,
            experiment,
            config_version,
            refused_version,
            reason,
            aws: Emf {
                timestamp: timestamp_ms,
                cloudwatch_metrics: [EmfDirective {
                    namespace,
                    dimensions: BY_EXPERIMENT,
                    metrics: REFUSALS,
                }],
            },
            config_refusals: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_line_names_its_metric_and_dimension() {
        let line = ConfigRefusal::new(
            "CanaryRouter",
            "2026-12-02T10:00:00.000Z".into(),
            7,
            ("exp", "v1"),
            Some("v2"),
            "arms[1].weight: weights sum to 9000, not 10000",
        );
        let v = serde_json::to_value(&line).unwrap();
        assert_eq!(v["kind"], "config");
        assert_eq!(v["config_version"], "v1");
        assert_eq!(v["refused_version"], "v2");
        assert_eq!(v["config_refusals"], 1);
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Dimensions"], serde_json::json!([["experiment"]]));
        assert_eq!(d["Metrics"][0]["Name"], "config_refusals");
        assert!(v[d["Dimensions"][0][0].as_str().unwrap()].is_string());
    }
}

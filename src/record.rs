//! One record per request: `decision` for `/predict` (with a CloudWatch EMF block), `outcome` for
//! `/feedback`. Records go to stdout as raw JSON lines; nothing meant for people goes there.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

use crate::assign::AssignedBy;
use crate::error::ErrorKind;
use crate::identity::IdSource;

/// `decision` or `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Decision,
    Outcome,
}

/// One line of the record stream, with the contract's field names.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub kind: Kind,
    pub ts: String,
    pub request_id: String,
    pub experiment: String,
    pub config_version: String,
    pub unit: Option<String>,
    pub id_source: IdSource,
    pub assigned_by: Option<AssignedBy>,
    pub bucket: Option<u32>,
    pub arm: Option<String>,
    pub weights: Arc<Value>,
    pub served_arm: Option<String>,
    pub endpoint: Option<String>,
    pub invoked_variant: Option<String>,
    pub status: u16,
    pub error: Option<ErrorKind>,
    pub latency_ms: f64,
    pub model_latency_ms: Option<f64>,
    #[serde(flatten)]
    pub outcome: Option<OutcomeFields>,
    #[serde(flatten)]
    pub metrics: Option<Metrics>,
}

/// Fields only outcome records carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeFields {
    pub event: Option<String>,
    pub value: Option<f64>,
    pub prediction_id: Option<String>,
}

/// The EMF block and the top-level numeric members it points at.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    #[serde(rename = "_aws")]
    pub aws: Emf,
    /// Always 1: one request.
    pub invocations: u32,
    /// 1 when the router answered with a 5xx (the model or SageMaker failed).
    pub errors: u32,
    /// 1 when the fallback arm answered.
    pub fallbacks: u32,
}

/// CloudWatch Embedded Metric Format metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Emf {
    #[serde(rename = "Timestamp")]
    pub timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    pub cloudwatch_metrics: [EmfDirective; 1],
}

/// One EMF metric directive.
#[derive(Debug, Clone, Serialize)]
pub struct EmfDirective {
    #[serde(rename = "Namespace")]
    pub namespace: String,
    #[serde(rename = "Dimensions")]
    pub dimensions: Vec<Vec<&'static str>>,
    #[serde(rename = "Metrics")]
    pub metrics: Vec<EmfMetric>,
}

/// One metric name and unit.
#[derive(Debug, Clone, Serialize)]
pub struct EmfMetric {
    #[serde(rename = "Name")]
    pub name: &'static str,
    #[serde(rename = "Unit")]
    pub unit: &'static str,
}

impl Metrics {
    /// Metrics of one decision: dimensions are the record's own `experiment` and `arm` (just
    /// `experiment` when no arm was assigned, since EMF needs every dimension to be present).
    pub fn for_decision(
        namespace: &str,
        timestamp_ms: u64,
        has_arm: bool,
        status: u16,
        fallback: bool,
        has_model_latency: bool,
    ) -> Metrics {
        let mut metrics = vec![
            EmfMetric {
                name: "invocations",
                unit: "Count",
            },
            EmfMetric {
                name: "errors",
                unit: "Count",
            },
            EmfMetric {
                name: "fallbacks",
                unit: "Count",
            },
            EmfMetric {
                name: "latency_ms",
                unit: "Milliseconds",
            },
        ];
        if has_model_latency {
            metrics.push(EmfMetric {
                name: "model_latency_ms",
                unit: "Milliseconds",
            });
        }
        let dimensions = if has_arm {
            vec![vec!["experiment", "arm"]]
        } else {
            vec![vec!["experiment"]]
        };
        Metrics {
            aws: Emf {
                timestamp: timestamp_ms,
                cloudwatch_metrics: [EmfDirective {
                    namespace: namespace.to_owned(),
                    dimensions,
                    metrics,
                }],
            },
            invocations: 1,
            errors: u32::from(status >= 500),
            fallbacks: u32::from(fallback),
        }
    }
}

/// Where records go.
pub trait RecordSink: Send + Sync + 'static {
    /// Writes one record; failures to write are reported on stderr, never to the client.
    fn write(&self, record: &Record);
}

impl<T: RecordSink> RecordSink for Arc<T> {
    fn write(&self, record: &Record) {
        (**self).write(record);
    }
}

/// Records as JSON lines on stdout (CloudWatch Logs in Lambda).
#[derive(Debug, Clone, Copy)]
pub struct StdoutSink;

impl RecordSink for StdoutSink {
    fn write(&self, record: &Record) {
        match serde_json::to_vec(record) {
            Ok(mut line) => {
                line.push(b'\n');
                // One write of the whole line under the lock: concurrent requests never interleave.
                let mut out = std::io::stdout().lock();
                if let Err(e) = out.write_all(&line).and_then(|()| out.flush()) {
                    tracing::error!(error = %e, "cannot write a record to stdout");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot serialise a record"),
        }
    }
}

/// Records appended to a JSON-lines file (the demo's `records.jsonl`).
pub struct FileSink(Mutex<std::io::BufWriter<std::fs::File>>);

impl FileSink {
    /// Creates (or truncates) the file.
    pub fn create(path: &std::path::Path) -> std::io::Result<Self> {
        Ok(FileSink(Mutex::new(std::io::BufWriter::new(
            std::fs::File::create(path)?,
        ))))
    }

    /// Writes buffered records to the file.
    pub fn flush(&self) -> std::io::Result<()> {
        match self.0.lock() {
            Ok(mut w) => w.flush(),
            Err(_) => Err(std::io::Error::other("record file lock poisoned")),
        }
    }
}

impl RecordSink for FileSink {
    fn write(&self, record: &Record) {
        if let Ok(mut w) = self.0.lock() {
            let result = serde_json::to_writer(&mut *w, record)
                .map_err(std::io::Error::other)
                .and_then(|()| w.write_all(b"\n"));
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot write a record to the records file");
            }
        }
    }
}

/// Records kept in memory, for tests and the demo.
#[derive(Debug, Clone, Default)]
pub struct MemorySink(pub Arc<Mutex<Vec<Value>>>);

impl MemorySink {
    /// Everything written so far, as JSON values.
    pub fn records(&self) -> Vec<Value> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl RecordSink for MemorySink {
    fn write(&self, record: &Record) {
        if let (Ok(v), Ok(mut all)) = (serde_json::to_value(record), self.0.lock()) {
            all.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decision_record_shape_and_emf() {
        let r = Record {
            kind: Kind::Decision,
            ts: "2026-11-26T10:00:00Z".into(),
            request_id: "r1".into(),
            experiment: "exp".into(),
            config_version: "v1".into(),
            unit: Some("ab".into()),
            id_source: IdSource::Header,
            assigned_by: Some(AssignedBy::Bucket),
            bucket: Some(42),
            arm: Some("canary".into()),
            weights: Arc::new(json!([["control", 9000], ["canary", 1000]])),
            served_arm: Some("control".into()),
            endpoint: Some("e".into()),
            invoked_variant: Some("AllTraffic".into()),
            status: 200,
            error: None,
            latency_ms: 1.5,
            model_latency_ms: Some(1.0),
            outcome: None,
            metrics: Some(Metrics::for_decision(
                "CanaryRouter",
                7,
                true,
                200,
                true,
                true,
            )),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["kind"], "decision");
        assert_eq!(v["id_source"], "header");
        assert_eq!(v["assigned_by"], "bucket");
        assert_eq!(v["error"], Value::Null);
        assert!(v.get("event").is_none(), "outcome fields only on outcomes");
        let emf = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(emf["Dimensions"], json!([["experiment", "arm"]]));
        // Every metric named in the directive is a top-level number of the record.
        for m in emf["Metrics"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            assert!(v[name].is_number(), "{name}");
        }
        for dim in emf["Dimensions"][0].as_array().unwrap() {
            assert!(v[dim.as_str().unwrap()].is_string());
        }
        assert_eq!(v["fallbacks"], 1);
        assert_eq!(v["errors"], 0);
        assert_eq!(v["_aws"]["Timestamp"], 7);
    }

    #[test]
    fn emf_without_an_arm_uses_experiment_only() {
        let m = Metrics::for_decision("NS", 1, false, 502, false, false);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["experiment"]])
        );
        assert_eq!(v["errors"], 1);
        let names: Vec<_> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_owned())
            .collect();
        assert!(!names.contains(&"model_latency_ms".to_owned()));
    }
}

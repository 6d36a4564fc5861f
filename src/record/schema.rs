//! The record's fields, with the contract's names: one JSON line per request.

use serde::Serialize;
use serde_json::Value;

use super::config_line::ConfigRefusal;
use super::emf::{
    BY_ARM, BY_EXPERIMENT, Emf, EmfDirective, Metrics, STREAMED_WITH_MODEL_LATENCY,
    STREAMED_WITHOUT_MODEL_LATENCY, WITH_MODEL_LATENCY, WITHOUT_MODEL_LATENCY,
};
use super::shadow_line::ShadowRecord;
use crate::assign::AssignedBy;
use crate::error::ErrorKind;
use crate::identity::IdSource;

/// `decision` or `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One `/predict` request.
    Decision,
    /// One `/feedback` request.
    Outcome,
}

/// One line of the record stream, with the contract's field names. It borrows from the config
/// and the request: a record is built, written and dropped within one call.
#[derive(Debug, Clone, Serialize)]
pub struct Record<'a> {
    /// `decision` or `outcome`.
    pub kind: Kind,
    /// RFC 3339 time of the answer.
    pub ts: String,
    /// Unique per request.
    pub request_id: &'a str,
    /// From the config.
    pub experiment: &'a str,
    /// The config version the request was served under.
    pub config_version: &'a str,
    /// Hex SHA-256 of `salt:unit_id`; never the raw ID.
    pub unit: Option<String>,
    /// Where the unit ID came from.
    pub id_source: IdSource,
    /// Which rule chose the arm.
    pub assigned_by: Option<AssignedBy>,
    /// 0..9999.
    pub bucket: Option<u32>,
    /// The assigned arm.
    pub arm: Option<&'a str>,
    /// The config's arms and weights in config order.
    pub weights: &'a Value,
    /// The arm whose endpoint answered (differs from `arm` on fallback).
    pub served_arm: Option<&'a str>,
    /// The SageMaker endpoint called last.
    pub endpoint: Option<&'a str>,
    /// The production variant that answered.
    pub invoked_variant: Option<&'a str>,
    /// The inference component the last call named.
    pub inference_component: Option<&'a str>,
    /// The model of a multi-model endpoint the last call named.
    pub target_model: Option<&'a str>,
    /// The container of a multi-container endpoint the last call named.
    pub target_container_hostname: Option<&'a str>,
    /// The HTTP status returned to the client.
    pub status: u16,
    /// The error kind, when the request failed.
    pub error: Option<ErrorKind>,
    /// Total time in the router.
    pub latency_ms: f64,
    /// Time waiting on endpoints.
    pub model_latency_ms: Option<f64>,
    /// Outcome records only.
    #[serde(flatten)]
    pub outcome: Option<&'a OutcomeFields>,
    /// Streamed answers only.
    #[serde(flatten)]
    pub stream: Option<&'a StreamFields>,
    /// The client went away before the answer; the record still carries the status the answer
    /// would have had. Left out when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub client_closed: bool,
    /// Decision records only.
    #[serde(flatten)]
    pub metrics: Option<Metrics<'a>>,
}

/// Fields only the decision records of streamed answers carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StreamFields {
    /// Always true.
    pub streamed: bool,
    /// From the request's arrival to the first payload byte sent; null when none was.
    pub first_byte_ms: Option<f64>,
    /// Payload bytes sent to the client.
    pub response_bytes: u64,
    /// Tokens, where the answer's format (TGI, LMI, OpenAI style) shows them.
    pub tokens: Option<u64>,
    /// The finish reason, where the format shows it.
    pub finish_reason: Option<String>,
}

/// Fields only outcome records carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutcomeFields {
    /// The business event (`click`).
    pub event: Option<String>,
    /// Its value (default 1.0).
    pub value: Option<f64>,
    /// The `request_id` of the prediction it is about.
    pub prediction_id: Option<String>,
}

/// One line of the record stream: a request's record, or a refused config document.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Line<'a> {
    /// A `decision` or `outcome` record.
    Request(Record<'a>),
    /// A `config` line.
    ConfigRefused(ConfigRefusal<'a>),
    /// A `shadow` record.
    Shadow(ShadowRecord<'a>),
}

impl<'a> Record<'a> {
    /// The metrics of a decision record, derived from the record itself so that the two never
    /// disagree: per `experiment` and `arm` (just `experiment` when no arm was assigned, since
    /// EMF needs every dimension to be present).
    pub fn decision_metrics(&self, namespace: &'a str, timestamp_ms: u64) -> Metrics<'a> {
        let fallback = matches!((self.arm, self.served_arm), (Some(a), Some(s)) if a != s);
        Metrics {
            aws: Emf {
                timestamp: timestamp_ms,
                cloudwatch_metrics: [EmfDirective {
                    namespace,
                    dimensions: if self.arm.is_some() {
                        BY_ARM
                    } else {
                        BY_EXPERIMENT
                    },
                    // EMF must not name a member the record does not carry.
                    metrics: match (
                        self.model_latency_ms.is_some(),
                        self.stream.and_then(|s| s.first_byte_ms).is_some(),
                    ) {
                        (true, false) => WITH_MODEL_LATENCY,
                        (false, false) => WITHOUT_MODEL_LATENCY,
                        (true, true) => STREAMED_WITH_MODEL_LATENCY,
                        (false, true) => STREAMED_WITHOUT_MODEL_LATENCY,
                    },
                }],
            },
            invocations: 1,
            errors: u32::from(self.status >= 500),
            fallbacks: u32::from(fallback),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decision<'a>(weights: &'a Value) -> Record<'a> {
        Record {
            kind: Kind::Decision,
            ts: "2026-11-26T10:00:00Z".into(),
            request_id: "r1",
            experiment: "exp",
            config_version: "v1",
            unit: Some("ab".into()),
            id_source: IdSource::Header,
            assigned_by: Some(AssignedBy::Bucket),
            bucket: Some(42),
            arm: Some("canary"),
            weights,
            served_arm: Some("control"),
            endpoint: Some("e"),
            invoked_variant: Some("AllTraffic"),
            inference_component: None,
            target_model: None,
            target_container_hostname: None,
            status: 200,
            error: None,
            latency_ms: 1.5,
            model_latency_ms: Some(1.0),
            outcome: None,
            stream: None,
            client_closed: false,
            metrics: None,
        }
    }

    #[test]
    fn decision_record_shape_and_emf() {
        let weights = json!([["control", 9000], ["canary", 1000]]);
        let mut r = decision(&weights);
        r.metrics = Some(r.decision_metrics("CanaryRouter", 7));
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
        assert_eq!(v["fallbacks"], 1, "served by another arm than assigned");
        assert_eq!(v["errors"], 0);
        assert_eq!(v["_aws"]["Timestamp"], 7);
    }

    #[test]
    fn a_streamed_record_adds_time_to_first_byte_per_arm() {
        let weights = json!([["control", 9000], ["canary", 1000]]);
        let mut stream = StreamFields {
            streamed: true,
            first_byte_ms: Some(12.5),
            response_bytes: 100,
            tokens: Some(3),
            finish_reason: Some("length".into()),
        };
        for model_latency in [Some(20.0), None] {
            let mut r = decision(&weights);
            r.model_latency_ms = model_latency;
            r.stream = Some(&stream);
            r.metrics = Some(r.decision_metrics("CanaryRouter", 7));
            let v = serde_json::to_value(&r).unwrap();
            let names: Vec<&str> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap())
                .collect();
            assert!(names.contains(&"first_byte_ms"), "{names:?}");
            for name in names {
                assert!(v[name].is_number(), "{name}");
            }
        }
        // No first byte (the stream failed before it): not named.
        stream.first_byte_ms = None;
        let mut r = decision(&weights);
        r.stream = Some(&stream);
        let v = serde_json::to_value(r.decision_metrics("CanaryRouter", 7)).unwrap();
        assert!(!v.to_string().contains("first_byte_ms"));
    }

    #[test]
    fn emf_without_an_arm_uses_experiment_only() {
        let weights = json!([]);
        let mut r = decision(&weights);
        r.arm = None;
        r.served_arm = None;
        r.status = 502;
        r.model_latency_ms = None;
        let m = r.decision_metrics("NS", 1);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["experiment"]])
        );
        assert_eq!(v["errors"], 1);
        assert_eq!(v["fallbacks"], 0);
        let names: Vec<_> = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["invocations", "errors", "fallbacks", "latency_ms"]);
    }
}

//! `POST /feedback`: admission → identity (never minted) → assignment → the outcome body →
//! `202` and the outcome record.

use std::time::Instant;

use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

use super::admit::{admit, refuse};
use super::assignment;
use super::identify::{self, Anonymous};
use super::parts::Parts;
use super::request::{Moment, Request, Response};
use super::respond::{Failure, header_str, json_response};
use super::route::Route;
use super::ticket::{Reached, Ticket};
use crate::config::{Config, names::is_token};
use crate::error::ErrorKind;
use crate::record::{Kind, OutcomeFields, RecordSink};
use crate::sagemaker::Invoker;
use crate::transform;

/// Longest `prediction_id` accepted: request IDs are far shorter.
const MAX_PREDICTION_ID_LEN: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    event: String,
    value: Option<f64>,
    prediction_id: Option<String>,
}

pub(super) fn feedback<I: Invoker, S: RecordSink>(
    parts: &Parts<I, S>,
    cfg: &Config,
    moment: Moment<'_>,
    req: Request,
    started: Instant,
) -> Response {
    let Request {
        method,
        headers,
        body,
        request_id,
        client,
        ..
    } = req;
    let ticket = Ticket::open(
        parts.sink.as_ref(),
        cfg,
        moment,
        Kind::Outcome,
        started,
        request_id,
        client,
    );
    let body = match admit(Route::Feedback, &method, &headers, body) {
        Ok(body) => body,
        Err(f) => return refuse(ticket, f),
    };
    let now = moment.now;
    let identity = match identify::identify(cfg, &parts.keys, &headers, Anonymous::Refuse, now) {
        Ok(Some(identity)) => identity,
        Ok(None) => {
            return ticket.fail(
                Reached::Admission,
                identify::no_unit(cfg, &Anonymous::Refuse),
            );
        }
        Err(f) => return ticket.fail(Reached::Admission, f),
    };
    let assigned = assignment::assign(cfg, moment.phase.split(), &headers, identity);
    let reached = Reached::Assignment(&assigned);
    match parse_feedback(&headers, &body) {
        Ok(outcome) => {
            let arm = cfg.arm(assigned.arm()).map_or("", |a| a.name());
            let answer = json!({"request_id": ticket.request_id(), "arm": arm});
            let resp = json_response(StatusCode::ACCEPTED, &answer);
            ticket.answer(reached, resp, Some(&outcome))
        }
        Err(f) => ticket.fail(reached, f),
    }
}

/// The outcome body: `{"event", "value", "prediction_id"}`, checked field by field.
fn parse_feedback(headers: &HeaderMap, body: &[u8]) -> Result<OutcomeFields, Failure> {
    let bad = |m: String| Failure::new(ErrorKind::BadRequest, m);
    if let Some(ct) = header_str(headers, header::CONTENT_TYPE)
        && !transform::is_json(ct)
    {
        return Err(Failure::new(
            ErrorKind::UnsupportedMediaType,
            format!("feedback is JSON: send Content-Type: application/json, not `{ct}`"),
        ));
    }
    let body: FeedbackBody =
        serde_json::from_slice(body).map_err(|e| bad(format!("feedback body: {e}")))?;
    if !is_token(&body.event, 64) {
        return Err(bad("`event` must match [A-Za-z0-9_.-]{1,64}".to_owned()));
    }
    let value = body.value.unwrap_or(1.0);
    if !value.is_finite() {
        return Err(bad("`value` must be a finite number".to_owned()));
    }
    if let Some(p) = &body.prediction_id
        && (p.is_empty() || p.len() > MAX_PREDICTION_ID_LEN)
    {
        return Err(bad("`prediction_id` must be 1 to 128 characters".to_owned()));
    }
    Ok(OutcomeFields {
        event: Some(body.event),
        value: Some(value),
        prediction_id: body.prediction_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<OutcomeFields, Failure> {
        parse_feedback(&HeaderMap::new(), body.as_bytes())
    }

    #[test]
    fn outcome_bodies() {
        let ok = parse(r#"{"event": "click", "prediction_id": "p-1"}"#).unwrap();
        assert_eq!(ok.value, Some(1.0));
        assert_eq!(ok.prediction_id.as_deref(), Some("p-1"));
        for bad in [
            r#"{"event": ""}"#,
            r#"{"event": "a b"}"#,
            r#"{"event": "click", "value": "1"}"#,
            r#"{"event": "click", "extra": 1}"#,
            r#"{"event": "click", "prediction_id": ""}"#,
            "not json",
        ] {
            assert_eq!(parse(bad).unwrap_err().kind, ErrorKind::BadRequest, "{bad}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let err = parse_feedback(&headers, br#"{"event": "click"}"#).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnsupportedMediaType);
    }
}

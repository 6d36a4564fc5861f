//! `POST /predict`: admission → identity → assignment → invocation → answer and record, each
//! stage taking what the one before produced.

use std::time::Instant;

use http::{HeaderMap, header};

use super::admit::{admit, refuse};
use super::assignment::{self, Assigned};
use super::identify::{self, Anonymous};
use super::invoke::{self, Call, Fallback, Invoked};
use super::parts::Parts;
use super::request::{Moment, Request, Response, Wire};
use super::respond::{Failure, header_str, rfc3339, set};
use super::route::Route;
use super::shadow::{self, Primary};
use super::stream;
use super::ticket::{Reached, Ticket};
use crate::config::Config;
use crate::error::ErrorKind;
use crate::record::{Kind, RecordSink};
use crate::sagemaker::{Invoker, ModelAnswer};
use crate::transform;

pub(super) async fn predict<I: Invoker, S: RecordSink>(
    parts: &Parts<I, S>,
    cfg: &Config,
    moment: Moment<'_>,
    req: Request,
    started: Instant,
    wire: Wire,
    decorate: &(dyn Fn(&mut HeaderMap) + Sync),
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
        Kind::Decision,
        started,
        request_id,
        client,
    );
    let body = match admit(Route::Predict, &method, &headers, body) {
        Ok(body) => body,
        Err(f) => return refuse(ticket, f),
    };
    let now = moment.now;
    let anonymous = Anonymous::Mint(&parts.minter);
    let identity = match identify::identify(cfg, &parts.keys, &headers, anonymous, now) {
        Ok(Some(identity)) => identity,
        Ok(None) => {
            let failure = identify::no_unit(cfg, &Anonymous::Mint(&parts.minter));
            return ticket.fail(Reached::Admission, failure);
        }
        Err(f) => return ticket.fail(Reached::Admission, f),
    };
    let assigned = assignment::assign(cfg, moment.phase.split(), &headers, identity);
    let content_type = header_str(&headers, header::CONTENT_TYPE).unwrap_or("application/json");
    if let Err(f) = check_content_type(cfg, content_type) {
        return ticket.fail(Reached::Assignment(&assigned), f);
    }
    let ts = rfc3339(now);
    let call_for = |request_id| Call {
        body: &body,
        content_type,
        accept: header_str(&headers, header::ACCEPT).filter(|a| !a.contains("*/*")),
        country: cfg
            .overrides()
            .country()
            .and_then(|c| header_str(&headers, c.header())),
        ts: &ts,
        request_id,
    };
    if stream::wants_stream(&headers) {
        // The ticket moves into the stream, which outlives this borrow of its ID.
        let request_id = ticket.request_id().to_owned();
        let call = call_for(&request_id);
        return stream::stream(
            parts, cfg, started, ticket, &assigned, &call, wire, decorate,
        )
        .await;
    }
    let call = call_for(ticket.request_id());
    let shadows = start_shadows(parts, cfg, moment, &assigned, &call);
    let outcome = invoke::invoke(
        parts.invoker.as_ref(),
        cfg,
        assigned.arm(),
        &call,
        Fallback::Configured,
    )
    .await;
    if !shadows.is_empty() {
        let primary = || match &outcome {
            Ok((invoked, answer)) if invoked.served() == Some(assigned.arm()) => {
                Primary::Answered {
                    raw: answer.body.clone(),
                    model_time: invoked.model_time(),
                }
            }
            _ => Primary::NotComparable,
        };
        shadow::finish(parts, shadows, primary).await;
    }
    match outcome {
        Ok((invoked, answer)) => respond(ticket, cfg, &assigned, &invoked, answer),
        Err(stopped) => {
            let reached = match &stopped.invoked {
                Some(invoked) => Reached::Invocation(&assigned, invoked),
                None => Reached::Assignment(&assigned),
            };
            ticket.fail(reached, stopped.failure)
        }
    }
}

/// The shadow calls of this unit's cohorts, started beside the arm's call with the body as
/// pre-processed for the arm. A body the arm's pre-processing refuses is refused for the arm
/// too, and then nothing is shadowed.
fn start_shadows<I: Invoker, S: RecordSink>(
    parts: &Parts<I, S>,
    cfg: &Config,
    moment: Moment<'_>,
    assigned: &Assigned,
    call: &Call<'_>,
) -> Vec<shadow::Started> {
    let cohorts = shadow::cohorts(cfg.shadows(), cfg.salt(), &assigned.identity.unit_id);
    if cohorts.is_empty() {
        return Vec::new();
    }
    let Ok(body) = invoke::prepare_body(cfg, assigned.arm(), call) else {
        return Vec::new();
    };
    let arm = cfg.arm(assigned.arm()).map_or("", |a| a.name());
    let unit = assigned.assignment.unit.to_hex();
    let jobs = cohorts
        .into_iter()
        .map(|s| shadow::Job {
            shadow: s.clone(),
            prediction_id: call.request_id.to_owned(),
            experiment: cfg.experiment().to_owned(),
            config_version: moment.phase.version().to_owned(),
            unit: unit.clone(),
            arm: arm.to_owned(),
            body: body.clone(),
            content_type: call.content_type.to_owned(),
            accept: call.accept.map(str::to_owned),
            namespace: cfg.metrics_namespace().to_owned(),
            timeouts: cfg.timeouts(),
        })
        .collect();
    shadow::start(parts, jobs)
}

/// Post-processing, then the answer: the endpoint's bytes and content type unchanged when the
/// serving arm has no post-processing.
fn respond<S: RecordSink>(
    ticket: Ticket<'_, S>,
    cfg: &Config,
    assigned: &Assigned,
    invoked: &Invoked,
    answer: ModelAnswer,
) -> Response {
    let reached = Reached::Invocation(assigned, invoked);
    let served = invoked.served().unwrap_or(assigned.arm());
    let (body, content_type) = match invoke::postprocessed(cfg, served, answer) {
        Ok(answer) => answer,
        Err(failure) => return ticket.fail(reached, failure),
    };
    let mut resp = http::Response::new(body);
    set(
        resp.headers_mut(),
        header::CONTENT_TYPE,
        content_type
            .as_deref()
            .unwrap_or("application/octet-stream"),
    );
    ticket.answer(reached, resp, None)
}

pub(crate) fn check_content_type(cfg: &Config, content_type: &str) -> Result<(), Failure> {
    if accepts(cfg.content_types(), content_type) {
        Ok(())
    } else {
        Err(Failure::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Content-Type `{content_type}` is not accepted; send one of: {}",
                cfg.content_types().join(", ")
            ),
        ))
    }
}

/// Whether a content type is in the accepted list (`image/*` style ranges allowed).
fn accepts(allowed: &[String], content_type: &str) -> bool {
    let essence = transform::media_essence(content_type);
    allowed.iter().any(|a| match a.strip_suffix("/*") {
        Some(prefix) => essence.split('/').next() == Some(prefix) && essence.contains('/'),
        None => *a == essence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_ranges() {
        let allowed = vec!["application/json".to_owned(), "image/*".to_owned()];
        assert!(accepts(&allowed, "application/json; charset=utf-8"));
        assert!(accepts(&allowed, "image/png"));
        assert!(!accepts(&allowed, "text/csv"));
        assert!(!accepts(&allowed, "image"));
    }
}

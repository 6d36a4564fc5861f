//! The one record of a `/predict` or `/feedback` request. A [`Ticket`] is opened when the
//! request is routed and consumed when it is answered: [`Ticket::answer`] and
//! [`Ticket::fail`] take it by value and write the record, so a request cannot be answered
//! without its record, or recorded twice. Dropped unanswered (a cancelled future, a panic
//! unwinding), it still writes its record, as an internal failure.

use std::time::{Duration, Instant, UNIX_EPOCH};

use http::{HeaderValue, StatusCode, header};

use super::assignment::Assigned;
use super::invoke::Invoked;
use super::request::{Client, Moment, Response};
use super::respond::{Failure, millis, rfc3339, set};
use crate::config::{Config, Target};
use crate::error::ErrorKind;
use crate::identity::IdSource;
use crate::record::{Kind, Line, OutcomeFields, Record, RecordSink, StreamFields};

/// How far a request got, which is what its record and headers can say.
#[derive(Clone, Copy)]
pub(crate) enum Reached<'r> {
    /// Refused before a unit was assigned (method, size, identity).
    Admission,
    /// A unit was assigned an arm; no endpoint was called.
    Assignment(&'r Assigned),
    /// Endpoints were called.
    Invocation(&'r Assigned, &'r Invoked),
}

impl<'r> Reached<'r> {
    fn assigned(self) -> Option<&'r Assigned> {
        match self {
            Reached::Admission => None,
            Reached::Assignment(a) | Reached::Invocation(a, _) => Some(a),
        }
    }

    fn invoked(self) -> Option<&'r Invoked> {
        match self {
            Reached::Invocation(_, i) => Some(i),
            _ => None,
        }
    }
}

/// A request on its way to its one record.
pub(crate) struct Ticket<'a, S: RecordSink> {
    sink: &'a S,
    cfg: &'a Config,
    moment: Moment<'a>,
    kind: Kind,
    started: Instant,
    request_id: String,
    client: Client,
    /// A streamed answer's client went away mid-stream.
    client_left: bool,
    /// Set once the record is written; read only by `Drop`.
    written: bool,
}

impl<'a, S: RecordSink> Ticket<'a, S> {
    /// Opens the record of a request that arrived at `started`.
    pub(crate) fn open(
        sink: &'a S,
        cfg: &'a Config,
        moment: Moment<'a>,
        kind: Kind,
        started: Instant,
        request_id: String,
        client: Client,
    ) -> Self {
        Ticket {
            sink,
            cfg,
            moment,
            kind,
            started,
            request_id,
            client,
            client_left: false,
            written: false,
        }
    }

    /// The request's ID, for messages and SageMaker's inference ID.
    pub(crate) fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The router's headers for an answer that reached `reached`; `close` sets them too.
    pub(crate) fn headers(&self, reached: Reached<'_>, headers: &mut http::HeaderMap) {
        set(headers, "x-canary-request-id", &self.request_id);
        if let Some(a) = reached.assigned() {
            set(headers, "x-canary-arm", arm_name(self.cfg, a.arm()));
            set(
                headers,
                "x-canary-config-version",
                self.moment.phase.version(),
            );
            if let Some(served) = reached
                .invoked()
                .and_then(Invoked::served)
                .filter(|s| *s != a.arm())
            {
                set(headers, "x-canary-served-arm", arm_name(self.cfg, served));
            }
            if let Some(c) = a.set_cookie()
                && let Ok(v) = HeaderValue::from_str(c)
            {
                headers.append(header::SET_COOKIE, v);
            }
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    /// Writes the record of a streamed answer once its stream ended, failed or lost its client.
    pub(crate) fn close_stream(
        mut self,
        reached: Reached<'_>,
        error: Option<ErrorKind>,
        stream: &StreamFields,
        client_left: bool,
    ) {
        if client_left {
            self.client_left = true;
        }
        self.write_with(reached, StatusCode::OK, error, None, Some(stream));
    }

    /// Answers with the contract's error body and writes the record.
    pub(crate) fn fail(self, reached: Reached<'_>, failure: Failure) -> Response {
        let resp = failure.response(&self.request_id);
        self.close(reached, resp, Some(failure.kind), None)
    }

    /// Answers `resp` and writes the record; `outcome` for feedback.
    pub(crate) fn answer(
        self,
        reached: Reached<'_>,
        resp: Response,
        outcome: Option<&OutcomeFields>,
    ) -> Response {
        self.close(reached, resp, None, outcome)
    }

    fn close(
        mut self,
        reached: Reached<'_>,
        mut resp: Response,
        error: Option<ErrorKind>,
        outcome: Option<&OutcomeFields>,
    ) -> Response {
        self.headers(reached, resp.headers_mut());
        self.write_with(reached, resp.status(), error, outcome, None);
        resp
    }

    fn write_with(
        &mut self,
        reached: Reached<'_>,
        status: StatusCode,
        error: Option<ErrorKind>,
        outcome: Option<&OutcomeFields>,
        stream: Option<&StreamFields>,
    ) {
        self.written = true;
        let cfg = self.cfg;
        let Moment { now, phase } = self.moment;
        let assigned = reached.assigned();
        let invoked = reached.invoked();
        let target = invoked.and_then(|i| i.target(cfg));
        let empty_outcome = OutcomeFields::default();
        let outcome = match self.kind {
            Kind::Outcome => Some(outcome.unwrap_or(&empty_outcome)),
            Kind::Decision => None,
        };
        let mut record = Record {
            kind: self.kind,
            ts: rfc3339(now),
            request_id: &self.request_id,
            experiment: cfg.experiment(),
            config_version: phase.version(),
            unit: assigned.map(|a| a.assignment.unit.to_hex()),
            id_source: assigned.map_or(IdSource::None, Assigned::id_source),
            assigned_by: assigned.map(|a| a.assignment.assigned_by),
            bucket: assigned.map(|a| a.assignment.bucket),
            arm: assigned.map(|a| arm_name(cfg, a.arm())),
            weights: phase.weights_json(),
            served_arm: invoked.and_then(Invoked::served).map(|s| arm_name(cfg, s)),
            endpoint: invoked.map(|i| i.endpoint(cfg)),
            invoked_variant: invoked.and_then(Invoked::invoked_variant),
            inference_component: target_name(target, |t| {
                matches!(t, Target::InferenceComponent(_))
            }),
            target_model: target_name(target, |t| matches!(t, Target::Model(_))),
            target_container_hostname: target_name(target, |t| {
                matches!(t, Target::ContainerHostname(_))
            }),
            status: status.as_u16(),
            error,
            latency_ms: millis(self.started.elapsed()),
            model_latency_ms: invoked.map(|i| millis(i.model_time())),
            outcome,
            stream,
            client_closed: self.client_left || self.client.is_gone(),
            metrics: None,
        };
        if self.kind == Kind::Decision {
            let ts_ms = now
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_millis();
            let ts_ms = u64::try_from(ts_ms).unwrap_or(u64::MAX);
            record.metrics = Some(record.decision_metrics(cfg.metrics_namespace(), ts_ms));
        }
        self.sink.write(&Line::Request(record));
    }
}

impl<S: RecordSink> Drop for Ticket<'_, S> {
    fn drop(&mut self) {
        if !self.written {
            // Only a cancelled future or a panic gets here: the answer the client would have
            // had is unknown, so the record says what the router would have answered for a
            // failure of its own.
            self.write_with(
                Reached::Admission,
                ErrorKind::Internal.status(),
                Some(ErrorKind::Internal),
                None,
                None,
            );
        }
    }
}

fn target_name(target: Option<&Target>, kind: impl Fn(&Target) -> bool) -> Option<&str> {
    target.filter(|t| kind(t)).map(Target::name)
}

fn arm_name(cfg: &Config, index: usize) -> &str {
    cfg.arm(index).map_or("", |a| a.name())
}

//! The router itself, written once: a request in, a response and one record out. Lambda mode
//! and `serve` are thin front doors that convert to and from these types.
//!
//! A `/predict` goes through typed stages, each taking what the one before produced:
//! admission (`admit`) → identity (`identify`) → assignment (`assignment`) → invocation
//! (`invoke`) → the answer and its record (`ticket`). `/feedback` shares the first three.

mod admit;
mod arm;
mod assignment;
mod feedback;
mod health;
mod identify;
mod invoke;
mod meter;
mod parts;
mod predict;
mod request;
mod respond;
mod route;
mod shadow;
mod stream;
mod ticket;

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use http::{Method, StatusCode};

pub use arm::{ArmAnswer, ArmFailure};
pub use parts::Minter;
pub use request::{
    Body, Client, ClientGuard, MAX_BODY_BYTES, MAX_HEADER_BYTES, Request, Response, StreamBody,
    StreamIn, StreamOut, Wire,
};
pub use respond::{new_request_id, rfc3339};
pub use route::{Route, route};
pub use stream::wants_stream;

use crate::config::{Config, ConfigError, VersionBook};
use crate::cors;
use crate::error::ErrorKind;
use crate::identity::{self, CookieKeys};
use crate::record::{Kind, RecordSink};
use crate::sagemaker::Invoker;
use parts::{Parts, Shadows};
use request::Moment;
use respond::{Failure, empty, method_not_allowed};
use ticket::{Reached, Ticket};
use tokio_util::task::TaskTracker;

/// The router: configuration (swappable on reload), cookie keys, the endpoint invoker and the
/// record sink, all built once at start-up.
pub struct Router<I, S> {
    config: RwLock<Arc<Config>>,
    /// Every version served so far with its split; also serialises reloads.
    versions: Mutex<VersionBook>,
    parts: Parts<I, S>,
}

impl<I: Invoker, S: RecordSink> Router<I, S> {
    /// A router over a validated config.
    pub fn new(config: Config, keys: CookieKeys, invoker: I, sink: S) -> Self {
        let mut versions = VersionBook::default();
        // A fresh book takes any first config.
        let _ = config.bind_versions(&mut versions);
        Router {
            config: RwLock::new(Arc::new(config)),
            versions: Mutex::new(versions),
            parts: Parts {
                keys,
                invoker: Arc::new(invoker),
                sink: Arc::new(sink),
                minter: Box::new(identity::mint_id),
                shadows: Shadows::Awaited,
            },
        }
    }

    /// Lets answers go out before their shadow calls finish (a server that keeps running);
    /// `tasks` tracks the shadow calls, for a drain when the server stops.
    pub fn with_detached_shadows(mut self, tasks: TaskTracker) -> Self {
        self.parts.shadows = Shadows::Detached(tasks);
        self
    }

    /// Sends `body` through the arm named `arm` exactly as `/predict` would (its pre-processing,
    /// endpoint, target and post-processing), without a fallback and without a record: what
    /// `validate` runs a golden set through.
    pub async fn try_arm(
        &self,
        arm: &str,
        body: bytes::Bytes,
        content_type: &str,
        accept: Option<&str>,
    ) -> Result<ArmAnswer, ArmFailure> {
        let cfg = self.config();
        arm::try_arm(&self.parts, &cfg, arm, body, content_type, accept).await
    }

    /// The tracker of detached shadow calls, when answers do not wait for them.
    pub fn shadow_tasks(&self) -> Option<&TaskTracker> {
        match &self.parts.shadows {
            Shadows::Detached(tasks) => Some(tasks),
            Shadows::Awaited => None,
        }
    }

    /// Replaces the random ID minter (the demo's seeded users need reproducible IDs).
    pub fn with_minter(mut self, minter: Minter) -> Self {
        self.parts.minter = minter;
        self
    }

    /// The config now in force.
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in a new config atomically, unless it changes the split of a version this process
    /// has already served. Requests in flight finish on the config they started with.
    pub fn reload(&self, next: Config) -> Result<(), ConfigError> {
        let mut versions = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.config().check_reload(&next)?;
        next.bind_versions(&mut versions)?;
        let next = Arc::new(next);
        match self.config.write() {
            Ok(mut c) => *c = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }

    /// The record sink, for front doors that share it.
    pub fn sink(&self) -> &S {
        self.parts.sink.as_ref()
    }

    /// Handles one request; never panics on input, always answers. A streamed answer
    /// (`Accept: text/event-stream`) is read to its end and answered whole.
    pub async fn handle(&self, req: Request) -> Response {
        self.answer(req, Wire::Buffered).await
    }

    /// Handles one request, streaming a streamed answer to `wire`: for [`Wire::Streamed`] the
    /// head and body go out through it as the model sends them, and the returned response is
    /// the answer only when no head was sent (the request did not stream, or failed first).
    pub async fn answer(&self, req: Request, wire: Wire) -> Response {
        let started = Instant::now();
        let cfg = self.config();
        let now = SystemTime::now();
        let moment = Moment {
            now,
            phase: cfg.phase_at(now),
        };
        let route = Route::of(&req.path);
        let origin = cors::allowed_origin(cfg.cors(), &req.headers).cloned();
        let mut resp = if route != Route::Unknown && cors::is_preflight(&req.method, &req.headers) {
            let mut r = empty(StatusCode::NO_CONTENT);
            if let (Some(c), Some(_)) = (cfg.cors(), &origin) {
                cors::preflight(r.headers_mut(), c, cfg.user_header());
            }
            r
        } else {
            match route {
                Route::Health if req.method == Method::GET => health::health(&cfg, moment.now),
                Route::Health => method_not_allowed(&req.request_id, "GET"),
                Route::Predict => {
                    let decorate = |h: &mut http::HeaderMap| cors::decorate(h, origin.as_ref());
                    predict::predict(&self.parts, &cfg, moment, req, started, wire, &decorate).await
                }
                Route::Feedback => feedback::feedback(&self.parts, &cfg, moment, req, started),
                Route::Unknown => self.not_found(&cfg, moment, req, started),
            }
        };
        cors::decorate(resp.headers_mut(), origin.as_ref());
        resp
    }

    /// An unknown route is answered and recorded as a decision with no unit, so that a
    /// misconfigured client shows in the records.
    fn not_found(
        &self,
        cfg: &Config,
        moment: Moment<'_>,
        req: Request,
        started: Instant,
    ) -> Response {
        let path = req.path.split('?').next().unwrap_or("").to_owned();
        let ticket = Ticket::open(
            self.parts.sink.as_ref(),
            cfg,
            moment,
            Kind::Decision,
            started,
            req.request_id,
            req.client,
        );
        let failure = Failure::new(
            ErrorKind::NotFound,
            format!("no route {path}: use POST /predict, POST /feedback or GET /health"),
        );
        ticket.fail(Reached::Admission, failure)
    }
}

//! The router itself, written once: a request in, a response and one record out. Lambda mode
//! and `serve` are thin front doors that convert to and from these types.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::assign::{self, AssignedBy, Assignment, OverrideHits};
use crate::config::{Config, ConfigError};
use crate::cors;
use crate::error::ErrorKind;
use crate::identity::{self, CookieCheck, CookieKeys, IdSource};
use crate::record::{Kind, Metrics, OutcomeFields, Record, RecordSink};
use crate::sagemaker::{Invocation, InvokeError, Invoker, ModelAnswer};
use crate::transform::{self, RequestContext};

/// Largest request body accepted: Lambda's synchronous payload limit.
pub const MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// A request as both front doors hand it over.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path, possibly with an API Gateway stage prefix (`/prod/predict`).
    pub path: String,
    pub headers: HeaderMap,
    /// Already decoded from base64 where the event carried it so. Front doors that stream
    /// pass at most `MAX_BODY_BYTES + 1` bytes, enough to know it is too large.
    pub body: Bytes,
    pub request_id: String,
}

/// The response both front doors send back.
pub type Response = http::Response<Bytes>;

/// The routes the router answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Predict,
    Feedback,
    Health,
    Unknown,
}

/// Matches a path with or without one leading stage segment (`/prod/predict` is `/predict`).
pub fn route(path: &str) -> Route {
    let path = path.split('?').next().unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let last = match segments.as_slice() {
        [one] | [_, one] => *one,
        _ => return Route::Unknown,
    };
    match last {
        "predict" => Route::Predict,
        "feedback" => Route::Feedback,
        "health" => Route::Health,
        _ => Route::Unknown,
    }
}

/// The router: configuration (swappable on reload), cookie keys, the endpoint invoker and the
/// record sink, all built once at start-up.
pub struct Router<I, S> {
    config: RwLock<Arc<Config>>,
    keys: CookieKeys,
    invoker: I,
    sink: S,
    minter: Minter,
}

/// Makes new unit IDs for anonymous users: random in production, seeded in the demo.
pub type Minter = Box<dyn Fn() -> String + Send + Sync>;

/// What the handler learned about a request, turned into the record at the end.
struct Trace {
    kind: Kind,
    started: Instant,
    request_id: String,
    id_source: IdSource,
    assignment: Option<Assignment>,
    set_cookie: Option<String>,
    served_arm: Option<usize>,
    endpoint: Option<String>,
    invoked_variant: Option<String>,
    model_latency: Option<Duration>,
    outcome: Option<OutcomeFields>,
}

/// A failure with the kind and a message the client can act on.
struct Failure {
    kind: ErrorKind,
    message: String,
}

impl Failure {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl From<InvokeError> for Failure {
    fn from(e: InvokeError) -> Self {
        Failure::new(e.kind, e.message)
    }
}

/// The resolved identity of a request.
struct Identity {
    unit_id: Option<String>,
    source: IdSource,
    set_cookie: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    event: String,
    value: Option<f64>,
    prediction_id: Option<String>,
}

impl<I: Invoker, S: RecordSink> Router<I, S> {
    /// A router over a validated config.
    pub fn new(config: Config, keys: CookieKeys, invoker: I, sink: S) -> Self {
        Router {
            config: RwLock::new(Arc::new(config)),
            keys,
            invoker,
            sink,
            minter: Box::new(identity::mint_id),
        }
    }

    /// Replaces the random ID minter (the demo's seeded users need reproducible IDs).
    pub fn with_minter(mut self, minter: Minter) -> Self {
        self.minter = minter;
        self
    }

    /// The config now in force.
    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in a new config atomically, unless it changes the split under the same version.
    /// Requests in flight finish on the config they started with.
    pub fn reload(&self, next: Config) -> Result<(), ConfigError> {
        self.config().check_reload(&next)?;
        let next = Arc::new(next);
        match self.config.write() {
            Ok(mut c) => *c = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }

    /// The record sink, for front doors that share it.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Handles one request; never panics on input, always answers.
    pub async fn handle(&self, req: Request) -> Response {
        let started = Instant::now();
        let cfg = self.config();
        let route = route(&req.path);
        let origin = cors::allowed_origin(cfg.cors.as_ref(), &req.headers).cloned();
        let mut resp = if route != Route::Unknown && cors::is_preflight(&req.method, &req.headers) {
            let mut r = empty(StatusCode::NO_CONTENT);
            if let (Some(c), Some(_)) = (&cfg.cors, &origin) {
                cors::preflight(r.headers_mut(), c, &cfg.user_header);
            }
            r
        } else {
            match route {
                Route::Health if req.method == Method::GET => health(&cfg),
                Route::Health => method_not_allowed(&req.request_id, "GET"),
                Route::Predict => self.predict(&cfg, req, started).await,
                Route::Feedback => self.feedback(&cfg, req, started),
                Route::Unknown => {
                    let mut trace = Trace::new(Kind::Decision, started, req.request_id);
                    let failure = Failure::new(
                        ErrorKind::NotFound,
                        format!(
                            "no route {}: use POST /predict, POST /feedback or GET /health",
                            req.path.split('?').next().unwrap_or("")
                        ),
                    );
                    trace.id_source = IdSource::None;
                    self.finish_error(&cfg, trace, failure)
                }
            }
        };
        cors::decorate(resp.headers_mut(), origin.as_ref());
        resp
    }

    async fn predict(&self, cfg: &Config, req: Request, started: Instant) -> Response {
        let trace = Trace::new(Kind::Decision, started, req.request_id.clone());
        let now = SystemTime::now();
        let (mut trace, unit_id) = match self.admit(cfg, &req, trace, now) {
            Ok(admitted) => admitted,
            Err(resp) => return *resp,
        };
        let assignment = assign_unit(cfg, &req.headers, &unit_id);
        trace.assignment = Some(assignment);
        match self.serve_prediction(cfg, &req, &mut trace, now).await {
            Ok((answer, body)) => {
                let content_type = answer
                    .content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream");
                let mut resp = http::Response::new(body);
                set_header(&mut resp, header::CONTENT_TYPE, content_type);
                self.finish(cfg, trace, resp, None)
            }
            Err(f) => self.finish_error(cfg, trace, f),
        }
    }

    /// Pre-processing, the arm's endpoint (then the fallback's), post-processing.
    async fn serve_prediction(
        &self,
        cfg: &Config,
        req: &Request,
        trace: &mut Trace,
        now: SystemTime,
    ) -> Result<(ModelAnswer, Bytes), Failure> {
        let assignment = trace
            .assignment
            .ok_or_else(|| Failure::new(ErrorKind::Internal, "prediction without an assignment"))?;
        let content_type = header_str(&req.headers, header::CONTENT_TYPE)
            .unwrap_or("application/json")
            .to_owned();
        if !accepts(&cfg.content_types, &content_type) {
            return Err(Failure::new(
                ErrorKind::UnsupportedMediaType,
                format!(
                    "Content-Type `{content_type}` is not accepted; send one of: {}",
                    cfg.content_types.join(", ")
                ),
            ));
        }
        let accept = header_str(&req.headers, header::ACCEPT).filter(|a| !a.contains("*/*"));
        let ts = rfc3339(now);
        let country = cfg
            .overrides
            .country
            .as_ref()
            .and_then(|c| header_str(&req.headers, c.header.clone()));
        let mut arm_idx = assignment.arm;
        let mut model_time = Duration::ZERO;
        let result = loop {
            let arm = &cfg.arms[arm_idx];
            let body = prepare_body(
                cfg,
                arm_idx,
                &req.body,
                &content_type,
                country,
                &ts,
                &trace.request_id,
            )?;
            let call = Invocation {
                endpoint: &arm.endpoint,
                target_variant: arm.target_variant.as_deref(),
                body,
                content_type: &content_type,
                accept,
                inference_id: &trace.request_id,
                custom_attributes: &arm.custom_attributes,
                timeouts: cfg.timeouts,
            };
            trace.endpoint = Some(arm.endpoint.clone());
            let t0 = Instant::now();
            // The total timeout bounds all endpoint time of the request, fallback included, so
            // a slow arm and its fallback never outlast the function's own timeout.
            let remaining = cfg.timeouts.total.saturating_sub(model_time);
            let outcome = match tokio::time::timeout(remaining, self.invoker.invoke(call)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(InvokeError {
                    kind: ErrorKind::Timeout,
                    code: None,
                    message: format!(
                        "endpoint `{}` did not answer within the {} ms left of timeouts.total_ms",
                        arm.endpoint,
                        remaining.as_millis()
                    ),
                }),
            };
            model_time += t0.elapsed();
            trace.model_latency = Some(model_time);
            match outcome {
                Ok(answer) => {
                    trace.served_arm = Some(arm_idx);
                    break Ok(answer);
                }
                Err(e) => {
                    tracing::warn!(
                        request_id = %trace.request_id,
                        arm = %arm.name,
                        endpoint = %arm.endpoint,
                        kind = %e.kind,
                        code = e.code.as_deref().unwrap_or("-"),
                        "endpoint call failed"
                    );
                    match cfg.fallback {
                        Some(fb)
                            if fb != arm_idx
                                && arm_idx == assignment.arm
                                && e.kind.allows_fallback() =>
                        {
                            arm_idx = fb;
                        }
                        _ => break Err(Failure::from(e)),
                    }
                }
            }
        };
        let answer = result?;
        trace.invoked_variant = answer.invoked_variant.clone();
        let served = &cfg.arms[arm_idx];
        let body = match &served.postprocess {
            None => answer.body.clone(),
            Some(spec) => {
                let is_json = answer
                    .content_type
                    .as_deref()
                    .is_none_or(transform::is_json);
                if !is_json {
                    return Err(Failure::new(
                        ErrorKind::Internal,
                        format!(
                            "post-processing needs a JSON answer; endpoint `{}` sent {}",
                            served.endpoint,
                            answer.content_type.as_deref().unwrap_or("no content type")
                        ),
                    ));
                }
                Bytes::from(
                    transform::postprocess(spec, &answer.body)
                        .map_err(|e| Failure::new(ErrorKind::Internal, e.to_string()))?,
                )
            }
        };
        let mut answer = answer;
        if served.postprocess.is_some() {
            answer.content_type = Some("application/json".to_owned());
        }
        Ok((answer, body))
    }

    fn feedback(&self, cfg: &Config, req: Request, started: Instant) -> Response {
        let mut trace = Trace::new(Kind::Outcome, started, req.request_id.clone());
        trace.outcome = Some(OutcomeFields {
            event: None,
            value: None,
            prediction_id: None,
        });
        let (mut trace, unit_id) = match self.admit(cfg, &req, trace, SystemTime::now()) {
            Ok(admitted) => admitted,
            Err(resp) => return *resp,
        };
        trace.assignment = Some(assign_unit(cfg, &req.headers, &unit_id));
        match parse_feedback(&req) {
            Ok(fields) => {
                trace.outcome = Some(fields);
                let arm = trace
                    .assignment
                    .map(|a| cfg.arms[a.arm].name.clone())
                    .unwrap_or_default();
                let body = json!({"request_id": trace.request_id, "arm": arm});
                let mut resp = json_response(StatusCode::ACCEPTED, &body);
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                self.finish(cfg, trace, resp, None)
            }
            Err(f) => self.finish_error(cfg, trace, f),
        }
    }

    /// What `/predict` and `/feedback` check before anything else: the method, the body size and
    /// the identity (a prediction may mint one, feedback never does). Errors are answered and
    /// recorded here.
    fn admit(
        &self,
        cfg: &Config,
        req: &Request,
        mut trace: Trace,
        now: SystemTime,
    ) -> Result<(Trace, String), Box<Response>> {
        let feedback = trace.kind == Kind::Outcome;
        let fail = |trace: Trace, f: Failure| Box::new(self.finish_error(cfg, trace, f));
        if req.method != Method::POST {
            let route = if feedback { "/feedback" } else { "/predict" };
            let f = Failure::new(ErrorKind::MethodNotAllowed, format!("use POST {route}"));
            let mut resp = fail(trace, f);
            resp.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return Err(resp);
        }
        if req.body.len() > MAX_BODY_BYTES {
            return Err(fail(trace, too_large()));
        }
        let identity = match self.identify(cfg, &req.headers, !feedback, now) {
            Ok(id) => id,
            Err(f) => return Err(fail(trace, f)),
        };
        trace.id_source = identity.source;
        trace.set_cookie = identity.set_cookie;
        let Some(unit_id) = identity.unit_id else {
            let message = if feedback {
                format!(
                    "feedback needs the identity of a prediction: send the {} header or the cookie set by /predict",
                    cfg.user_header
                )
            } else {
                format!(
                    "send the {} header: cookies are disabled in this config",
                    cfg.user_header
                )
            };
            return Err(fail(trace, Failure::new(ErrorKind::NoUnit, message)));
        };
        Ok((trace, unit_id))
    }

    fn identify(
        &self,
        cfg: &Config,
        headers: &HeaderMap,
        mint: bool,
        now: SystemTime,
    ) -> Result<Identity, Failure> {
        let header_value = headers.get(&cfg.user_header).map(HeaderValue::as_bytes);
        let from_header = identity::from_header(cfg.user_header.as_str(), header_value)
            .map_err(|e| Failure::new(ErrorKind::BadRequest, e.to_string()))?;
        if let Some(id) = from_header {
            return Ok(Identity {
                unit_id: Some(id),
                source: IdSource::Header,
                set_cookie: None,
            });
        }
        if !cfg.cookie.enabled {
            return Ok(Identity {
                unit_id: None,
                source: IdSource::None,
                set_cookie: None,
            });
        }
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        match identity::from_cookies(cookies, &cfg.cookie, &self.keys, now) {
            CookieCheck::Valid { id, renew } => {
                let set_cookie =
                    renew.then(|| identity::set_cookie(&cfg.cookie, &self.keys, &id, now));
                Ok(Identity {
                    unit_id: Some(id),
                    source: IdSource::Cookie,
                    set_cookie,
                })
            }
            CookieCheck::Absent if mint => {
                let id = (self.minter)();
                let set_cookie = Some(identity::set_cookie(&cfg.cookie, &self.keys, &id, now));
                Ok(Identity {
                    unit_id: Some(id),
                    source: IdSource::Minted,
                    set_cookie,
                })
            }
            CookieCheck::Absent => Ok(Identity {
                unit_id: None,
                source: IdSource::None,
                set_cookie: None,
            }),
        }
    }

    fn finish_error(&self, cfg: &Config, trace: Trace, failure: Failure) -> Response {
        let body = json!({
            "error": failure.kind.as_str(),
            "message": failure.message,
            "request_id": trace.request_id,
        });
        let resp = json_response(failure.kind.status(), &body);
        self.finish(cfg, trace, resp, Some(failure.kind))
    }

    /// Adds the router's headers to the response and writes the request's one record.
    fn finish(
        &self,
        cfg: &Config,
        trace: Trace,
        mut resp: Response,
        error: Option<ErrorKind>,
    ) -> Response {
        let status = resp.status().as_u16();
        let headers = resp.headers_mut();
        set(headers, "x-canary-request-id", &trace.request_id);
        if let Some(a) = &trace.assignment {
            set(headers, "x-canary-arm", &cfg.arms[a.arm].name);
            set(headers, "x-canary-config-version", &cfg.raw.version);
            if let Some(served) = trace.served_arm.filter(|s| *s != a.arm) {
                set(headers, "x-canary-served-arm", &cfg.arms[served].name);
            }
        }
        if let Some(c) = &trace.set_cookie
            && let Ok(v) = HeaderValue::from_str(c)
        {
            headers.append(header::SET_COOKIE, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let now = SystemTime::now();
        let latency = trace.started.elapsed();
        let fallback =
            matches!((trace.assignment, trace.served_arm), (Some(a), Some(s)) if a.arm != s);
        let metrics = (trace.kind == Kind::Decision).then(|| {
            Metrics::for_decision(
                &cfg.metrics_namespace,
                now.duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis() as u64,
                trace.assignment.is_some(),
                status,
                fallback,
                trace.model_latency.is_some(),
            )
        });
        let record = Record {
            kind: trace.kind,
            ts: rfc3339(now),
            request_id: trace.request_id,
            experiment: cfg.raw.experiment.clone(),
            config_version: cfg.raw.version.clone(),
            unit: trace.assignment.map(|a| a.unit.to_hex()),
            id_source: trace.id_source,
            assigned_by: trace.assignment.map(|a| a.assigned_by),
            bucket: trace.assignment.map(|a| a.bucket),
            arm: trace.assignment.map(|a| cfg.arms[a.arm].name.clone()),
            weights: Arc::clone(&cfg.weights),
            served_arm: trace.served_arm.map(|s| cfg.arms[s].name.clone()),
            endpoint: trace.endpoint,
            invoked_variant: trace.invoked_variant,
            status,
            error,
            latency_ms: millis(latency),
            model_latency_ms: trace.model_latency.map(millis),
            outcome: trace.outcome,
            metrics,
        };
        self.sink.write(&record);
        resp
    }
}

impl Trace {
    fn new(kind: Kind, started: Instant, request_id: String) -> Self {
        Trace {
            kind,
            started,
            request_id,
            id_source: IdSource::None,
            assignment: None,
            set_cookie: None,
            served_arm: None,
            endpoint: None,
            invoked_variant: None,
            model_latency: None,
            outcome: None,
        }
    }
}

/// Resolves overrides from the request (only those the config enables) and assigns the unit.
fn assign_unit(cfg: &Config, headers: &HeaderMap, unit_id: &str) -> Assignment {
    let o = &cfg.overrides;
    let forced = o.forced.as_ref().and_then(|rule| {
        let arm = cfg.arm_index(header_str(headers, rule.header.clone())?.trim())?;
        let secret = headers.get(&rule.secret_header)?.as_bytes();
        let digest: [u8; 32] = Sha256::digest(secret).into();
        constant_time_eq(&digest, &rule.secret_sha256).then_some(arm)
    });
    let user_list = o.users.get(unit_id).copied();
    let country = o.country.as_ref().and_then(|rule| {
        let code = header_str(headers, rule.header.clone())?
            .trim()
            .to_ascii_uppercase();
        rule.arms.get(&code).copied()
    });
    let hits = OverrideHits {
        forced,
        user_list,
        country,
    };
    let a = assign::assign(&cfg.raw.salt, unit_id, &cfg.split, hits);
    debug_assert!(a.assigned_by != AssignedBy::Bucket || a.arm == cfg.split.arm_for(a.bucket));
    a
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The body the arm's endpoint gets: pre-processed JSON, checked JSON, or bytes as they came.
fn prepare_body(
    cfg: &Config,
    arm_idx: usize,
    body: &Bytes,
    content_type: &str,
    country: Option<&str>,
    ts: &str,
    request_id: &str,
) -> Result<Bytes, Failure> {
    if !transform::is_json(content_type) {
        return Ok(body.clone());
    }
    let arm = &cfg.arms[arm_idx];
    let bad = |e: transform::TransformError| Failure::new(ErrorKind::BadRequest, e.to_string());
    match &arm.preprocess {
        None => {
            transform::check_json(body).map_err(bad)?;
            Ok(body.clone())
        }
        Some(spec) => {
            let ctx = RequestContext {
                country,
                arm: &arm.name,
                timestamp: ts,
                experiment: &cfg.raw.experiment,
                request_id,
            };
            transform::preprocess(spec, body, &ctx)
                .map(Bytes::from)
                .map_err(bad)
        }
    }
}

fn parse_feedback(req: &Request) -> Result<OutcomeFields, Failure> {
    let bad = |m: String| Failure::new(ErrorKind::BadRequest, m);
    if let Some(ct) = header_str(&req.headers, header::CONTENT_TYPE)
        && !transform::is_json(ct)
    {
        return Err(Failure::new(
            ErrorKind::UnsupportedMediaType,
            format!("feedback is JSON: send Content-Type: application/json, not `{ct}`"),
        ));
    }
    let body: FeedbackBody =
        serde_json::from_slice(&req.body).map_err(|e| bad(format!("feedback body: {e}")))?;
    let event_ok = (1..=64).contains(&body.event.len())
        && body
            .event
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !event_ok {
        return Err(bad("`event` must match [A-Za-z0-9_.-]{1,64}".to_owned()));
    }
    let value = body.value.unwrap_or(1.0);
    if !value.is_finite() {
        return Err(bad("`value` must be a finite number".to_owned()));
    }
    if let Some(p) = &body.prediction_id
        && (p.is_empty() || p.len() > 128)
    {
        return Err(bad("`prediction_id` must be 1 to 128 characters".to_owned()));
    }
    Ok(OutcomeFields {
        event: Some(body.event),
        value: Some(value),
        prediction_id: body.prediction_id,
    })
}

fn health(cfg: &Config) -> Response {
    let arms: Vec<_> = cfg
        .arms
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "endpoint": a.endpoint,
                "weight": a.weight,
                "target_variant": a.target_variant,
            })
        })
        .collect();
    let body = json!({
        "status": "ok",
        "experiment": cfg.raw.experiment,
        "config_version": cfg.raw.version,
        "arms": arms,
        "fallback": cfg.fallback.map(|f| cfg.arms[f].name.clone()),
    });
    let mut resp = json_response(StatusCode::OK, &body);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn method_not_allowed(request_id: &str, allow: &'static str) -> Response {
    let body = json!({
        "error": ErrorKind::MethodNotAllowed.as_str(),
        "message": format!("use {allow}"),
        "request_id": request_id,
    });
    let mut resp = json_response(StatusCode::METHOD_NOT_ALLOWED, &body);
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

fn too_large() -> Failure {
    Failure::new(
        ErrorKind::PayloadTooLarge,
        format!("request body is over {MAX_BODY_BYTES} bytes (the Lambda payload limit)"),
    )
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = http::Response::new(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn empty(status: StatusCode) -> Response {
    let mut resp = http::Response::new(Bytes::new());
    *resp.status_mut() = status;
    resp
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn set_header(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn header_str<K: header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether a content type is in the accepted list (`image/*` style ranges allowed).
fn accepts(allowed: &[String], content_type: &str) -> bool {
    let essence = transform::media_essence(content_type);
    allowed.iter().any(|a| match a.strip_suffix("/*") {
        Some(prefix) => essence.split('/').next() == Some(prefix) && essence.contains('/'),
        None => *a == essence,
    })
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// RFC 3339 with millisecond precision, UTC.
pub fn rfc3339(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    dt.format(&fmt).unwrap_or_default()
}

/// A fresh request ID for front doors that have none (UUID v4 layout).
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = assign::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_and_without_stage() {
        assert_eq!(route("/predict"), Route::Predict);
        assert_eq!(route("/prod/predict"), Route::Predict);
        assert_eq!(route("/prod/predict/"), Route::Predict);
        assert_eq!(route("/feedback?x=1"), Route::Feedback);
        assert_eq!(route("/v1/health"), Route::Health);
        assert_eq!(route("/a/b/predict"), Route::Unknown);
        assert_eq!(route("/"), Route::Unknown);
        assert_eq!(route("/prod"), Route::Unknown);
    }

    #[test]
    fn content_type_ranges() {
        let allowed = vec!["application/json".to_owned(), "image/*".to_owned()];
        assert!(accepts(&allowed, "application/json; charset=utf-8"));
        assert!(accepts(&allowed, "image/png"));
        assert!(!accepts(&allowed, "text/csv"));
        assert!(!accepts(&allowed, "image"));
    }

    #[test]
    fn timestamps_and_ids() {
        let t = UNIX_EPOCH + Duration::from_millis(1_764_151_200_123);
        assert_eq!(rfc3339(t), "2025-11-26T10:00:00.123Z");
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_ne!(id, new_request_id());
    }
}

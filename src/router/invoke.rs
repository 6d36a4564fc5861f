//! Stage 4, invocation: the arm's pre-processing, its endpoint, and on an endpoint failure the
//! fallback arm's, all within `timeouts.total_ms`.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::respond::Failure;
use crate::config::{Config, Target};
use crate::error::ErrorKind;
use crate::sagemaker::{Invocation, InvokeError, Invoker, ModelAnswer};
use crate::transform::{self, RequestContext};

/// What the request's body and headers give every attempt.
pub(crate) struct Call<'r> {
    pub body: &'r Bytes,
    pub content_type: &'r str,
    pub accept: Option<&'r str>,
    pub country: Option<&'r str>,
    pub ts: &'r str,
    pub request_id: &'r str,
}

/// The endpoints a request called: the last one, the arm that answered, and the time spent.
#[derive(Debug, Clone)]
pub(crate) struct Invoked {
    last_arm: usize,
    served: Option<usize>,
    invoked_variant: Option<String>,
    model_time: Duration,
}

impl Invoked {
    /// What a stream's calls came to: `served` is the arm whose endpoint answered.
    pub(crate) fn new(
        last_arm: usize,
        served: Option<usize>,
        invoked_variant: Option<String>,
        model_time: Duration,
    ) -> Self {
        Invoked {
            last_arm,
            served,
            invoked_variant,
            model_time,
        }
    }

    /// The endpoint called last.
    pub(crate) fn endpoint<'c>(&self, cfg: &'c Config) -> &'c str {
        cfg.arm(self.last_arm).map_or("", |a| a.endpoint())
    }

    /// The target the last call named on its endpoint.
    pub(crate) fn target<'c>(&self, cfg: &'c Config) -> Option<&'c Target> {
        cfg.arm(self.last_arm).and_then(|a| a.target())
    }

    /// The arm whose endpoint answered; `None` when none did.
    pub(crate) fn served(&self) -> Option<usize> {
        self.served
    }

    /// The production variant that answered.
    pub(crate) fn invoked_variant(&self) -> Option<&str> {
        self.invoked_variant.as_deref()
    }

    /// Time spent waiting on endpoints, every attempt included.
    pub(crate) fn model_time(&self) -> Duration {
        self.model_time
    }
}

/// Whether a failed call may fall back to the config's fallback arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// As the config says (requests).
    Configured,
    /// Never: the arm itself is being tested (`validate`).
    Never,
}

/// The answer as the client gets it: post-processed by the arm that served it, else the
/// endpoint's bytes and content type unchanged.
pub(crate) fn postprocessed(
    cfg: &Config,
    served: usize,
    answer: ModelAnswer,
) -> Result<(Bytes, Option<String>), Failure> {
    let Some((arm, spec)) = cfg
        .arm(served)
        .and_then(|a| a.postprocess().map(|p| (a, p)))
    else {
        return Ok((answer.body, answer.content_type));
    };
    let is_json = answer
        .content_type
        .as_deref()
        .is_none_or(transform::is_json);
    if !is_json {
        return Err(Failure::new(
            ErrorKind::Internal,
            format!(
                "post-processing needs a JSON answer; endpoint `{}` sent {}",
                arm.endpoint(),
                answer.content_type.as_deref().unwrap_or("no content type")
            ),
        ));
    }
    transform::postprocess(spec, &answer.body)
        .map(|body| (Bytes::from(body), Some("application/json".to_owned())))
        .map_err(|e| Failure::new(ErrorKind::Internal, e.to_string()))
}

/// Why invocation stopped without an answer, and what it had called by then.
pub(crate) struct Stopped {
    pub invoked: Option<Invoked>,
    pub failure: Failure,
}

/// Calls `arm`'s endpoint, then the fallback's if the config has one and the failure allows it.
pub(crate) async fn invoke<I: Invoker>(
    invoker: &I,
    cfg: &Config,
    arm: usize,
    call: &Call<'_>,
    fallback: Fallback,
) -> Result<(Invoked, ModelAnswer), Stopped> {
    let timeouts = cfg.timeouts();
    let mut invoked: Option<Invoked> = None;
    let mut current = arm;
    loop {
        let Some(spec) = cfg.arm(current) else {
            return Err(Stopped {
                invoked,
                failure: Failure::new(ErrorKind::Internal, "assigned an arm the config lacks"),
            });
        };
        let body = match prepare_body(cfg, current, call) {
            Ok(body) => body,
            Err(failure) => return Err(Stopped { invoked, failure }),
        };
        let request = Invocation {
            endpoint: spec.endpoint(),
            target: spec.target(),
            body,
            content_type: call.content_type,
            accept: call.accept,
            inference_id: call.request_id,
            custom_attributes: spec.custom_attributes(),
            timeouts,
        };
        let spent = invoked.as_ref().map_or(Duration::ZERO, |i| i.model_time);
        // The total timeout bounds all endpoint time of the request, fallback included, so
        // a slow arm and its fallback never outlast the function's own timeout.
        let remaining = timeouts.total.saturating_sub(spent);
        let t0 = Instant::now();
        let outcome = match tokio::time::timeout(remaining, invoker.invoke(request)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(InvokeError {
                kind: ErrorKind::Timeout,
                code: None,
                message: format!(
                    "endpoint `{}` did not answer within the {} ms left of timeouts.total_ms",
                    spec.endpoint(),
                    remaining.as_millis()
                ),
            }),
        };
        let so_far = Invoked {
            last_arm: current,
            served: None,
            invoked_variant: None,
            model_time: spent + t0.elapsed(),
        };
        match outcome {
            Ok(answer) => {
                let invoked = Invoked {
                    served: Some(current),
                    invoked_variant: answer.invoked_variant.clone(),
                    ..so_far
                };
                return Ok((invoked, answer));
            }
            Err(e) => {
                tracing::warn!(
                    request_id = %call.request_id,
                    arm = %spec.name(),
                    endpoint = %spec.endpoint(),
                    kind = %e.kind,
                    code = e.code.as_deref().unwrap_or("-"),
                    "endpoint call failed"
                );
                invoked = Some(so_far);
                let fallback_arm = match fallback {
                    Fallback::Configured => cfg.fallback(),
                    Fallback::Never => None,
                };
                match fallback_arm {
                    Some(fb) if fb != current && current == arm && e.kind.allows_fallback() => {
                        current = fb;
                    }
                    _ => {
                        return Err(Stopped {
                            invoked,
                            failure: Failure::from(e),
                        });
                    }
                }
            }
        }
    }
}

/// The body the arm's endpoint gets: pre-processed JSON, checked JSON, or bytes as they came.
pub(crate) fn prepare_body(cfg: &Config, arm: usize, call: &Call<'_>) -> Result<Bytes, Failure> {
    if !transform::is_json(call.content_type) {
        return Ok(call.body.clone());
    }
    let bad = |e: transform::TransformError| Failure::new(ErrorKind::BadRequest, e.to_string());
    let Some(spec) = cfg.arm(arm) else {
        return Err(Failure::new(ErrorKind::Internal, "no such arm"));
    };
    match spec.preprocess() {
        None => {
            transform::check_json(call.body).map_err(bad)?;
            Ok(call.body.clone())
        }
        Some(pre) => {
            let ctx = RequestContext {
                country: call.country,
                arm: spec.name(),
                timestamp: call.ts,
                experiment: cfg.experiment(),
                request_id: call.request_id,
            };
            transform::preprocess(pre, call.body, &ctx)
                .map(Bytes::from)
                .map_err(bad)
        }
    }
}

//! One request through one arm exactly as `/predict` serves it — the arm's pre-processing, its
//! endpoint and target, its post-processing — with no fallback and no record: what `validate`
//! sends a golden set through, so that it tests the router's own code, not a copy.

use std::time::SystemTime;

use bytes::Bytes;

use super::invoke::{self, Call, Fallback};
use super::parts::Parts;
use super::predict::check_content_type;
use super::respond::{new_request_id, rfc3339};
use crate::config::Config;
use crate::error::ErrorKind;
use crate::record::RecordSink;
use crate::sagemaker::Invoker;

/// What one arm answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmAnswer {
    /// The answer as a client gets it (post-processed when the arm post-processes).
    pub body: Bytes,
    /// Its content type.
    pub content_type: Option<String>,
    /// The endpoint's own answer, before post-processing.
    pub raw: Bytes,
}

/// Why one arm gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ArmFailure {
    /// The error kind a client would see.
    pub kind: ErrorKind,
    /// What happened.
    pub message: String,
}

/// Sends `body` through the arm named `arm` as a `/predict` would, without a fallback.
pub(crate) async fn try_arm<I: Invoker, S: RecordSink>(
    parts: &Parts<I, S>,
    cfg: &Config,
    arm: &str,
    body: Bytes,
    content_type: &str,
    accept: Option<&str>,
) -> Result<ArmAnswer, ArmFailure> {
    {
        let fail = |kind, message: String| ArmFailure { kind, message };
        let index = cfg
            .arm_index(arm)
            .ok_or_else(|| fail(ErrorKind::NotFound, format!("no arm `{arm}` in the config")))?;
        check_content_type(cfg, content_type).map_err(|f| fail(f.kind, f.message))?;
        let request_id = new_request_id();
        let ts = rfc3339(SystemTime::now());
        let call = Call {
            body: &body,
            content_type,
            accept,
            country: None,
            ts: &ts,
            request_id: &request_id,
        };
        let (invoked, answer) =
            invoke::invoke(parts.invoker.as_ref(), cfg, index, &call, Fallback::Never)
                .await
                .map_err(|s| fail(s.failure.kind, s.failure.message))?;
        let raw = answer.body.clone();
        let served = invoked.served().unwrap_or(index);
        let (body, content_type) =
            invoke::postprocessed(cfg, served, answer).map_err(|f| fail(f.kind, f.message))?;
        Ok(ArmAnswer {
            body,
            content_type,
            raw,
        })
    }
}

//! Endpoints that host several models behind one name, as SageMaker does besides production
//! variants: inference components, multi-model endpoints (`TargetModel`) and multi-container
//! endpoints (`TargetContainerHostname`). Which hosted model a request reaches, or SageMaker's
//! error when the request names none, an unknown one, or a kind the endpoint does not have.

use serde::Serialize;

use super::wire::ServiceError;

/// How an endpoint hosts its models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Inference components (`X-Amzn-SageMaker-Inference-Component`).
    InferenceComponent,
    /// A multi-model endpoint (`X-Amzn-SageMaker-Target-Model`).
    Model,
    /// A multi-container endpoint with direct invocation (`X-Amzn-SageMaker-Target-Container-Hostname`).
    Container,
}

impl TargetKind {
    /// The models-file key of the endpoint's hosted models.
    pub fn key(self) -> &'static str {
        match self {
            TargetKind::InferenceComponent => "inference_components",
            TargetKind::Model => "models",
            TargetKind::Container => "containers",
        }
    }

    /// Every kind.
    pub const ALL: [TargetKind; 3] = [
        TargetKind::InferenceComponent,
        TargetKind::Model,
        TargetKind::Container,
    ];
}

/// The targets a request names, one header each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requested<'a> {
    /// `X-Amzn-SageMaker-Inference-Component`.
    pub inference_component: Option<&'a str>,
    /// `X-Amzn-SageMaker-Target-Model`.
    pub target_model: Option<&'a str>,
    /// `X-Amzn-SageMaker-Target-Container-Hostname`.
    pub target_container_hostname: Option<&'a str>,
}

impl<'a> Requested<'a> {
    fn of(&self, kind: TargetKind) -> Option<&'a str> {
        match kind {
            TargetKind::InferenceComponent => self.inference_component,
            TargetKind::Model => self.target_model,
            TargetKind::Container => self.target_container_hostname,
        }
    }
}

/// The hosted model a request reaches: `None` for an endpoint of plain variants (which takes
/// no target header), else the name of one of `hosted`.
pub fn choose<'n>(
    endpoint: &str,
    hosted: Option<(TargetKind, &[&'n str])>,
    requested: Requested<'_>,
) -> Result<Option<&'n str>, ServiceError> {
    let kind = hosted.map(|(k, _)| k);
    // A header for a kind the endpoint does not have.
    if let Some(other) = TargetKind::ALL
        .into_iter()
        .find(|k| Some(*k) != kind && requested.of(*k).is_some())
    {
        let message = match other {
            TargetKind::InferenceComponent => format!(
                "Inference Component Name header is not allowed for endpoint {endpoint}: it has no inference components."
            ),
            TargetKind::Model => {
                format!(
                    "Endpoint {endpoint} is not a multi-model endpoint: TargetModel is not allowed."
                )
            }
            TargetKind::Container => format!(
                "Endpoint {endpoint} is not configured for direct invocation: TargetContainerHostname is not allowed."
            ),
        };
        return Err(ServiceError::validation(message));
    }
    let Some((kind, names)) = hosted else {
        return Ok(None);
    };
    let Some(wanted) = requested.of(kind) else {
        let message = match kind {
            TargetKind::InferenceComponent => format!(
                "Inference Component Name header is required for endpoints to which you plan to deploy inference components. Please include Inference Component Name header or consider using SageMaker models. (endpoint {endpoint})"
            ),
            TargetKind::Model => {
                format!("TargetModel header is required for multi-model endpoint {endpoint}.")
            }
            TargetKind::Container => format!(
                "TargetContainerHostname header is required for endpoint {endpoint}, which is configured for direct invocation."
            ),
        };
        return Err(ServiceError::validation(message));
    };
    match names.iter().find(|n| **n == wanted) {
        Some(n) => Ok(Some(n)),
        None => Err(ServiceError::validation(match kind {
            TargetKind::InferenceComponent => {
                format!("Inference component {wanted} not found for endpoint {endpoint}.")
            }
            TargetKind::Model => format!(
                "Failed to download model data for TargetModel {wanted} of endpoint {endpoint}: no such model."
            ),
            TargetKind::Container => {
                format!("Container hostname {wanted} not found for endpoint {endpoint}.")
            }
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IC: Option<(TargetKind, &[&str])> =
        Some((TargetKind::InferenceComponent, &["ic-a", "ic-b"]));

    #[test]
    fn each_kind_takes_its_own_header_and_only_it() {
        let ic = |n| Requested {
            inference_component: Some(n),
            ..Requested::default()
        };
        assert_eq!(choose("e", IC, ic("ic-b")).unwrap(), Some("ic-b"));
        let missing = choose("e", IC, Requested::default()).unwrap_err();
        assert!(missing.message.contains("is required"), "{missing:?}");
        let unknown = choose("e", IC, ic("ic-x")).unwrap_err();
        assert!(unknown.message.contains("ic-x not found"), "{unknown:?}");
        let wrong = Requested {
            target_model: Some("m.tar.gz"),
            ..ic("ic-a")
        };
        assert!(choose("e", IC, wrong).is_err());
        assert_eq!(choose("e", None, Requested::default()).unwrap(), None);
        assert!(choose("e", None, ic("ic-a")).is_err());
        let mme = Some((TargetKind::Model, &["a.tar.gz"][..]));
        let tm = Requested {
            target_model: Some("a.tar.gz"),
            ..Requested::default()
        };
        assert_eq!(choose("e", mme, tm).unwrap(), Some("a.tar.gz"));
    }
}

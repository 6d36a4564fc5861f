//! Where on an endpoint an arm's requests go: SageMaker hosts several models on one endpoint as
//! production variants, inference components, the models of a multi-model endpoint, or the
//! containers of a multi-container endpoint. An arm names at most one.

use super::error::ConfigError;
use super::names::is_sagemaker_name;

/// The one target an arm (or a shadow) names on its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `target_variant`: a production variant (`TargetVariant`).
    Variant(String),
    /// `inference_component`: an inference component (`InferenceComponentName`).
    InferenceComponent(String),
    /// `target_model`: a model of a multi-model endpoint (`TargetModel`).
    Model(String),
    /// `target_container_hostname`: a container of a multi-container endpoint with direct
    /// invocation (`TargetContainerHostname`).
    ContainerHostname(String),
}

impl Target {
    /// The config key that names this kind of target.
    pub fn key(&self) -> &'static str {
        match self {
            Target::Variant(_) => "target_variant",
            Target::InferenceComponent(_) => "inference_component",
            Target::Model(_) => "target_model",
            Target::ContainerHostname(_) => "target_container_hostname",
        }
    }

    /// The name it carries.
    pub fn name(&self) -> &str {
        match self {
            Target::Variant(n)
            | Target::InferenceComponent(n)
            | Target::Model(n)
            | Target::ContainerHostname(n) => n,
        }
    }

    /// Whether `InvokeEndpointWithResponseStream` can reach it (it has no `TargetModel`).
    pub fn can_stream(&self) -> bool {
        !matches!(self, Target::Model(_))
    }
}

/// The target keys as written, in their order of precedence for messages.
pub(crate) struct RawTargets<'a> {
    pub target_variant: &'a Option<String>,
    pub inference_component: &'a Option<String>,
    pub target_model: &'a Option<String>,
    pub target_container_hostname: &'a Option<String>,
}

/// The one target named under `key` (`arms[1]`), checked; two or more is an error.
pub(crate) fn target(key: &str, raw: RawTargets<'_>) -> Result<Option<Target>, ConfigError> {
    let named: Vec<Target> = [
        raw.target_variant.clone().map(Target::Variant),
        raw.inference_component
            .clone()
            .map(Target::InferenceComponent),
        raw.target_model.clone().map(Target::Model),
        raw.target_container_hostname
            .clone()
            .map(Target::ContainerHostname),
    ]
    .into_iter()
    .flatten()
    .collect();
    let t = match named.as_slice() {
        [] => return Ok(None),
        [one] => one.clone(),
        [a, b, ..] => {
            return Err(ConfigError::invalid(
                format!("{key}.{}", b.key()),
                format!("an arm names at most one target; `{}` is set too", a.key()),
            ));
        }
    };
    let valid = match &t {
        Target::Model(m) => {
            // SageMaker's TargetModel: `\A\S[\p{Print}]*\z`, up to 1024 characters.
            (1..=1024).contains(&m.len())
                && !m.starts_with(char::is_whitespace)
                && !m.chars().any(char::is_control)
        }
        other => is_sagemaker_name(other.name()),
    };
    if !valid {
        let what = match &t {
            Target::Model(_) => {
                "a TargetModel (1 to 1024 printable characters, not starting with a space)"
            }
            Target::Variant(_) => "a SageMaker variant name",
            Target::InferenceComponent(_) => "a SageMaker inference component name",
            Target::ContainerHostname(_) => "a SageMaker container hostname",
        };
        return Err(ConfigError::invalid(
            format!("{key}.{}", t.key()),
            format!("`{}` is not {what}", t.name()),
        ));
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(
        v: Option<&str>,
        ic: Option<&str>,
        m: Option<&str>,
        h: Option<&str>,
    ) -> Result<Option<Target>, ConfigError> {
        let (v, ic, m, h) = (
            v.map(String::from),
            ic.map(String::from),
            m.map(String::from),
            h.map(String::from),
        );
        target(
            "arms[0]",
            RawTargets {
                target_variant: &v,
                inference_component: &ic,
                target_model: &m,
                target_container_hostname: &h,
            },
        )
    }

    #[test]
    fn at_most_one_target_each_checked() {
        assert_eq!(t(None, None, None, None).unwrap(), None);
        assert_eq!(
            t(Some("VariantB"), None, None, None).unwrap(),
            Some(Target::Variant("VariantB".into()))
        );
        assert_eq!(
            t(None, Some("ic-b"), None, None).unwrap(),
            Some(Target::InferenceComponent("ic-b".into()))
        );
        assert_eq!(
            t(None, None, Some("models/b.tar.gz"), None).unwrap(),
            Some(Target::Model("models/b.tar.gz".into()))
        );
        assert!(!Target::Model("m".into()).can_stream());
        let err = t(Some("v"), Some("ic"), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "arms[0].inference_component: an arm names at most one target; `target_variant`"
            ),
            "{err}"
        );
        let err = t(None, None, None, Some("bad_host"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("arms[0].target_container_hostname: `bad_host` is not"),
            "{err}"
        );
        assert!(t(None, None, Some(" lead"), None).is_err());
        assert!(t(None, None, Some(&"m".repeat(1025)), None).is_err());
    }
}

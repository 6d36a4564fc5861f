//! The arms: names, endpoints, targets, weights in basis points, and the transforms each uses.

use std::collections::HashMap;
use std::sync::Arc;

use super::error::ConfigError;
use super::names::{is_sagemaker_name, is_token};
use super::raw::{RawArm, RawConfig};
use super::target::{RawTargets, Target, target};
use crate::assign::BUCKETS;
use crate::transform::{PostSpec, PreSpec};

/// One arm, ready to serve.
#[derive(Debug, Clone)]
pub struct Arm {
    name: String,
    endpoint: String,
    weight: u32,
    target: Option<Target>,
    preprocess: Option<Arc<PreSpec>>,
    postprocess: Option<Arc<PostSpec>>,
    custom_attributes: String,
}

impl Arm {
    /// The arm's name, as records and headers carry it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SageMaker endpoint this arm invokes.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The arm's share in basis points.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The one target this arm names on its endpoint, if any.
    pub fn target(&self) -> Option<&Target> {
        self.target.as_ref()
    }

    /// The production variant this arm targets, if any.
    pub fn target_variant(&self) -> Option<&str> {
        match &self.target {
            Some(Target::Variant(v)) => Some(v),
            _ => None,
        }
    }

    /// The arm's own pre-processing, else the global one.
    pub fn preprocess(&self) -> Option<&PreSpec> {
        self.preprocess.as_deref()
    }

    /// The arm's own post-processing, else the global one.
    pub fn postprocess(&self) -> Option<&PostSpec> {
        self.postprocess.as_deref()
    }

    /// `experiment=...;arm=...`, sent as SageMaker custom attributes.
    pub fn custom_attributes(&self) -> &str {
        &self.custom_attributes
    }
}

/// Checks every arm and the weights' sum; returns each arm's index by name.
pub(crate) fn check_arms(raw: &[RawArm]) -> Result<HashMap<String, usize>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::invalid("arms", "needs at least one arm"));
    }
    let mut index = HashMap::new();
    for (i, arm) in raw.iter().enumerate() {
        let key = format!("arms[{i}]");
        if !is_token(&arm.name, 64) {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("`{}` must match [A-Za-z0-9_.-]{{1,64}}", arm.name),
            ));
        }
        if index.insert(arm.name.clone(), i).is_some() {
            return Err(ConfigError::invalid(
                format!("{key}.name"),
                format!("arm `{}` is listed twice", arm.name),
            ));
        }
        if !is_sagemaker_name(&arm.endpoint) {
            return Err(ConfigError::invalid(
                format!("{key}.endpoint"),
                format!(
                    "`{}` is not a SageMaker endpoint name (letters, digits and hyphens, up to 63)",
                    arm.endpoint
                ),
            ));
        }
        target(&key, raw_targets(arm))?;
        if arm.weight > BUCKETS {
            return Err(ConfigError::invalid(
                format!("{key}.weight"),
                format!("{} is above 10000 basis points", arm.weight),
            ));
        }
        if let Some(p) = &arm.preprocess {
            p.validate(&format!("{key}.preprocess"))?;
        }
        if let Some(p) = &arm.postprocess {
            p.validate(&format!("{key}.postprocess"))?;
        }
    }
    // Each weight is at most BUCKETS, so the sum of a few of them cannot overflow a u64.
    let sum: u64 = raw.iter().map(|a| u64::from(a.weight)).sum();
    if sum != u64::from(BUCKETS) {
        return Err(ConfigError::invalid(
            format!("arms[{}].weight", raw.len() - 1),
            format!("weights sum to {sum}, not 10000"),
        ));
    }
    Ok(index)
}

fn raw_targets(arm: &RawArm) -> RawTargets<'_> {
    RawTargets {
        target_variant: &arm.target_variant,
        inference_component: &arm.inference_component,
        target_model: &arm.target_model,
        target_container_hostname: &arm.target_container_hostname,
    }
}

/// The arms with the global transforms filled in where an arm has none of its own.
pub(crate) fn build_arms(raw: &RawConfig) -> Vec<Arm> {
    let global_pre = raw.preprocess.clone().map(Arc::new);
    let global_post = raw.postprocess.clone().map(Arc::new);
    raw.arms
        .iter()
        .map(|a| Arm {
            name: a.name.clone(),
            endpoint: a.endpoint.clone(),
            weight: a.weight,
            // Checked by check_arms: a config that reaches here has at most one valid target.
            target: target("", raw_targets(a)).ok().flatten(),
            preprocess: a.preprocess.clone().map(Arc::new).or(global_pre.clone()),
            postprocess: a.postprocess.clone().map(Arc::new).or(global_post.clone()),
            custom_attributes: format!("experiment={};arm={}", raw.experiment, a.name),
        })
        .collect()
}

//! The AWS SDK config, loaded once at start-up: the standard chain, or static local settings
//! when the SageMaker endpoint is a loopback emulator.

use aws_config::BehaviorVersion;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_sdk_sagemakerruntime::config::{Credentials, Region};

use crate::config::Env;

/// The SDK config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkConfigError {
    /// No region in the environment or the profile.
    #[error("no AWS region: set AWS_REGION (SageMaker endpoints are regional)")]
    NoRegion,
}

/// Loads the AWS SDK config once. Pointed at a loopback emulator with no credentials or region
/// in the environment, it uses static local ones: the default chain would otherwise probe the
/// instance-metadata address, which leaves the machine and costs seconds.
pub async fn sdk_config(env: &dyn Env) -> Result<aws_config::SdkConfig, SdkConfigError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // Stalled-stream protection polls every body; model answers are small and bounded by
        // the operation timeout already.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    // Runtimes and local tools pass unset variables as empty strings: empty means unset.
    let set = |name: &str| env.var(name).is_some_and(|v| !v.trim().is_empty());
    let local = env
        .var("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME")
        .is_some_and(|u| is_loopback_url(&u));
    if local {
        if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") {
            loader = loader.region(Region::new("us-east-1"));
        }
        if !set("AWS_ACCESS_KEY_ID") && !set("AWS_PROFILE") {
            loader = loader.credentials_provider(local_credentials());
        }
    }
    let sdk = loader.load().await;
    if sdk.region().is_none() {
        return Err(SdkConfigError::NoRegion);
    }
    Ok(sdk)
}

/// SDK config for a local emulator at `endpoint_url`: fixed region and static credentials, so
/// nothing probes the instance-metadata address.
pub async fn local_sdk_config(endpoint_url: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .endpoint_url(endpoint_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(local_credentials())
        .load()
        .await
}

/// Static credentials for a local emulator, which accepts any signature.
fn local_credentials() -> Credentials {
    Credentials::new(
        "AKIDLOCALEMULATOR",
        "local-emulator-secret",
        None,
        None,
        "canary-router-local",
    )
}

/// Whether a URL points at this machine.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        assert!(is_loopback_url("http://127.0.0.1:8080"));
        assert!(is_loopback_url("http://localhost:8080/"));
        assert!(is_loopback_url("http://[::1]:9000"));
        assert!(is_loopback_url("http://127.0.0.2"));
        assert!(!is_loopback_url(
            "https://runtime.sagemaker.us-east-1.amazonaws.com"
        ));
        assert!(!is_loopback_url("http://10.0.0.1:8080"));
    }
}

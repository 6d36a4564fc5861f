//! The AppConfig configuration profile's validator: the same binary, as a second Lambda
//! function (`CANARY_MODE=appconfig-validator`), so that AppConfig refuses a document before
//! deploying it by exactly the rules the router applies (weights summing to 10000, arms named
//! by overrides and steps, unknown keys...), which a JSON Schema cannot express.

use base64::Engine;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Config;

/// What AppConfig sends a Lambda validator.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorEvent {
    /// The application's ID.
    #[serde(default)]
    pub application_id: String,
    /// The profile's ID.
    #[serde(default)]
    pub configuration_profile_id: String,
    /// AppConfig's version number of the document.
    #[serde(default)]
    pub configuration_version: String,
    /// The document, base64.
    pub content: String,
}

/// Validates a document as the router would; the config's own version on success.
pub fn validate(event: &ValidatorEvent) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(event.content.trim())
        .map_err(|_| "the content is not base64".to_owned())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "the document is not UTF-8".to_owned())?;
    let config = Config::parse(text).map_err(|e| {
        format!(
            "configuration version {} is not a valid canary-router config: {e}",
            event.configuration_version
        )
    })?;
    Ok(config.version().to_owned())
}

/// Runs the validator as the Lambda function until the runtime stops it. A refusal is an error
/// answer (AppConfig reads `X-Amz-Function-Error`), with the reason as its message.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<ValidatorEvent>| async move {
        match validate(&event.payload) {
            Ok(version) => {
                tracing::info!(%version, appconfig_version = %event.payload.configuration_version, "document valid");
                Ok::<Value, lambda_runtime::Error>(json!({"valid": true, "version": version}))
            }
            Err(reason) => {
                tracing::warn!(%reason, "document refused");
                Err(reason.into())
            }
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(doc: &str) -> ValidatorEvent {
        ValidatorEvent {
            application_id: "app".into(),
            configuration_profile_id: "p".into(),
            configuration_version: "3".into(),
            content: base64::engine::general_purpose::STANDARD.encode(doc),
        }
    }

    #[test]
    fn documents_are_checked_by_the_router_rules() {
        let good = r#"{"experiment": "e", "version": "v7", "salt": "s",
            "arms": [{"name": "a", "endpoint": "ep", "weight": 10000}]}"#;
        assert_eq!(validate(&event(good)), Ok("v7".into()));
        let bad = good.replace("10000", "9000");
        let err = validate(&event(&bad)).unwrap_err();
        assert!(
            err.contains("version 3") && err.contains("weights sum to 9000"),
            "{err}"
        );
        let mut not_b64 = event(good);
        not_b64.content = "!!".into();
        assert_eq!(validate(&not_b64).unwrap_err(), "the content is not base64");
    }
}

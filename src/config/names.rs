//! The name rules config values follow: tokens, SageMaker names, media ranges, header names.

use http::HeaderName;

use super::error::ConfigError;

/// `[A-Za-z0-9_.-]{1,max}`: arm names, cookie names, feedback events.
pub(crate) fn is_token(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// SageMaker's name pattern: `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}`.
pub(crate) fn is_sagemaker_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

/// `type/subtype` or `type/*`, with RFC 6838's restricted name characters.
pub(crate) fn is_media_range(s: &str) -> bool {
    let mut parts = s.split('/');
    let (Some(t), Some(sub), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    ok(t) && (sub == "*" || ok(sub))
}

/// A header name from the config, or an error naming the key.
pub(crate) fn header_name(key: &str, value: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(value.as_bytes()).map_err(|_| {
        ConfigError::invalid(key, format!("`{value}` is not a valid HTTP header name"))
    })
}

/// Refuses an empty or all-whitespace value.
pub(crate) fn non_empty(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::invalid(key, "must not be empty"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sagemaker_names() {
        assert!(is_sagemaker_name("imgclf-a"));
        assert!(is_sagemaker_name("A1"));
        assert!(!is_sagemaker_name(""));
        assert!(!is_sagemaker_name("-a"));
        assert!(!is_sagemaker_name("a-"));
        assert!(!is_sagemaker_name("no_underscores"));
        assert!(!is_sagemaker_name(&"a".repeat(64)));
        assert!(is_sagemaker_name(&"a".repeat(63)));
    }

    #[test]
    fn media_ranges() {
        assert!(is_media_range("application/json"));
        assert!(is_media_range("image/*"));
        assert!(!is_media_range("json"));
        assert!(!is_media_range("a/b/c"));
        assert!(!is_media_range("*/json"));
    }
}

//! CORS for browsers calling the router from another origin: cookies cross origins only when
//! the response allows that origin with credentials.

use http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::config::Cors;

/// Headers a browser script may read from router responses.
pub const EXPOSED_HEADERS: &str =
    "X-Canary-Arm, X-Canary-Served-Arm, X-Canary-Config-Version, X-Canary-Request-Id";

/// The request's origin when the config allows it.
pub fn allowed_origin<'a>(cors: Option<&Cors>, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
    let cors = cors?;
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    cors.allowed_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(text))
        .then_some(origin)
}

/// Whether a request is a CORS preflight (OPTIONS with Access-Control-Request-Method).
pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
    method == http::Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Adds the headers every response to an allowed origin carries.
pub fn decorate(out: &mut HeaderMap, origin: Option<&HeaderValue>) {
    out.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        out.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

/// Adds the preflight answer's headers for an allowed origin.
pub fn preflight(out: &mut HeaderMap, cors: &Cors, user_header: &HeaderName) {
    out.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    let allow = format!("Content-Type, Accept, {user_header}");
    if let Ok(v) = HeaderValue::from_str(&allow) {
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
    out.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(cors.max_age_seconds),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allowed_origins: vec!["https://app.example.com".into()],
            max_age_seconds: 600,
        }
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example.com"),
        );
        assert!(allowed_origin(Some(&cors()), &h).is_some());
        assert!(allowed_origin(None, &h).is_none());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(allowed_origin(Some(&cors()), &h).is_none());
        let mut out = HeaderMap::new();
        decorate(&mut out, None);
        assert!(!out.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        assert_eq!(out[header::VARY], "Origin");
    }

    #[test]
    fn preflight_allows_credentials_and_the_user_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example.com"),
        );
        h.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        assert!(is_preflight(&http::Method::OPTIONS, &h));
        assert!(!is_preflight(&http::Method::POST, &h));
        let mut out = HeaderMap::new();
        decorate(&mut out, allowed_origin(Some(&cors()), &h));
        preflight(&mut out, &cors(), &HeaderName::from_static("x-user-id"));
        assert_eq!(out[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(
            out[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert!(
            out[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .contains("x-user-id")
        );
        assert_eq!(out[header::ACCESS_CONTROL_MAX_AGE], "600");
    }
}

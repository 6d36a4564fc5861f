//! Where an AWS AppConfig document comes from: the AppConfig Lambda extension (or the AppConfig
//! Agent, which has the same API) on `localhost:$AWS_APPCONFIG_EXTENSION_HTTP_PORT`, at
//! `/applications/APP/environments/ENV/configurations/PROFILE`. Pure: the target named by
//! `CANARY_APPCONFIG`, the request path, and what an answer means.

use std::time::Duration;

use super::error::ConfigError;

/// The extension's port when `AWS_APPCONFIG_EXTENSION_HTTP_PORT` is not set.
pub const DEFAULT_APPCONFIG_PORT: u16 = 2772;
/// How often a running router asks the extension for the document, when
/// `CANARY_CONFIG_REFRESH_MS` is not set.
pub const DEFAULT_REFRESH_MS: u64 = 1000;
/// The shortest refresh interval accepted: the extension answers from its own cache, but a
/// tighter loop only burns CPU.
pub const MIN_REFRESH_MS: u64 = 100;
/// Largest document read: AppConfig's hosted configurations are at most 2 MB.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// The application, environment and profile of `CANARY_APPCONFIG`, and the extension's port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfigTarget {
    application: String,
    environment: String,
    profile: String,
    port: u16,
    refresh: Duration,
}

impl AppConfigTarget {
    /// Parses `APPLICATION/ENVIRONMENT/PROFILE` (names or IDs), the port variable's value and
    /// the refresh interval's, each checked.
    pub fn parse(
        value: &str,
        port: Option<&str>,
        refresh_ms: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let parts: Vec<&str> = value.trim().split('/').collect();
        let [application, environment, profile] = parts.as_slice() else {
            return Err(ConfigError::Environment {
                var: "CANARY_APPCONFIG",
                reason: format!(
                    "`{}` is not APPLICATION/ENVIRONMENT/PROFILE (three names or IDs separated by /)",
                    value.trim()
                ),
            });
        };
        for part in [application, environment, profile] {
            if part.trim().is_empty() || part.len() > 128 || part.chars().any(char::is_control) {
                return Err(ConfigError::Environment {
                    var: "CANARY_APPCONFIG",
                    reason: format!(
                        "`{part}` is not an AppConfig name or ID (1 to 128 printable characters)"
                    ),
                });
            }
        }
        let port = match port.map(str::trim).filter(|p| !p.is_empty()) {
            None => DEFAULT_APPCONFIG_PORT,
            Some(p) => {
                p.parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| ConfigError::Environment {
                        var: "AWS_APPCONFIG_EXTENSION_HTTP_PORT",
                        reason: format!("`{p}` is not a TCP port"),
                    })?
            }
        };
        let refresh_ms = match refresh_ms.map(str::trim).filter(|r| !r.is_empty()) {
            None => DEFAULT_REFRESH_MS,
            Some(r) => r
                .parse::<u64>()
                .ok()
                .filter(|ms| (MIN_REFRESH_MS..=3_600_000).contains(ms))
                .ok_or_else(|| ConfigError::Environment {
                    var: "CANARY_CONFIG_REFRESH_MS",
                    reason: format!(
                        "`{r}` is not a number of milliseconds from {MIN_REFRESH_MS} to 3600000"
                    ),
                })?,
        };
        Ok(AppConfigTarget {
            application: application.to_string(),
            environment: environment.to_string(),
            profile: profile.to_string(),
            port,
            refresh: Duration::from_millis(refresh_ms),
        })
    }

    /// The extension's port on localhost.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How often a running router asks for the document.
    pub fn refresh(&self) -> Duration {
        self.refresh
    }

    /// The request path, each name percent-encoded.
    pub fn path(&self) -> String {
        format!(
            "/applications/{}/environments/{}/configurations/{}",
            encode(&self.application),
            encode(&self.environment),
            encode(&self.profile)
        )
    }

    /// `APP/ENV/PROFILE`, for messages.
    pub fn name(&self) -> String {
        format!("{}/{}/{}", self.application, self.environment, self.profile)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A document the extension served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The config text.
    pub text: String,
    /// AppConfig's version number of it, when the extension sent one.
    pub version: Option<String>,
}

/// Why no document came back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Nothing answered on the port (the extension has not started, or has gone away).
    #[error("the AppConfig extension on localhost:{port} cannot be reached: {reason}")]
    Unreachable {
        /// The port tried.
        port: u16,
        /// The connection error.
        reason: String,
    },
    /// The extension did not answer in time.
    #[error("the AppConfig extension did not answer within {0} ms")]
    Timeout(u128),
    /// The extension answered with an error (its 400, 404 or 500, say).
    #[error("the AppConfig extension answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of its text body.
        body: String,
    },
    /// The document is not text.
    #[error("the AppConfig document is {0}")]
    Unreadable(String),
}

impl FetchError {
    /// Whether waiting may help (at start-up the extension may still be starting).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Unreachable { .. } | FetchError::Timeout(_) => true,
            FetchError::Status { status, .. } => *status >= 500,
            FetchError::Unreadable(_) => false,
        }
    }
}

/// What an answer of the extension means: a document on 200, an error otherwise. Both version
/// headers are read (the extension's model names `ConfigurationVersion`, the Agent's docs show
/// `Configuration-Version`); neither is required.
pub fn read_answer(
    status: u16,
    version_header: Option<&str>,
    body: &[u8],
) -> Result<Document, FetchError> {
    if status != 200 {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)])
            .trim()
            .to_owned();
        return Err(FetchError::Status { status, body: text });
    }
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(FetchError::Unreadable(format!(
            "{} bytes, over the {MAX_DOCUMENT_BYTES} accepted",
            body.len()
        )));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| FetchError::Unreadable("not UTF-8 text".into()))?
        .to_owned();
    Ok(Document {
        text,
        version: version_header.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_three_parts_and_a_port() {
        let t = AppConfigTarget::parse("canary/prod/router config", None, None).unwrap();
        assert_eq!(t.port(), 2772);
        assert_eq!(t.refresh(), Duration::from_millis(1000));
        assert_eq!(
            t.path(),
            "/applications/canary/environments/prod/configurations/router%20config"
        );
        let t = AppConfigTarget::parse(" a1b2c3/d4e5/f6 ", Some("2773"), Some("250")).unwrap();
        assert_eq!((t.port(), t.refresh()), (2773, Duration::from_millis(250)));
        for bad in ["a/b", "a/b/c/d", "a//c", "", "a/b/\u{7}"] {
            let err = AppConfigTarget::parse(bad, None, None)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("CANARY_APPCONFIG:"), "{bad}: {err}");
        }
        let err = AppConfigTarget::parse("a/b/c", Some("http"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("AWS_APPCONFIG_EXTENSION_HTTP_PORT:"),
            "{err}"
        );
        let err = AppConfigTarget::parse("a/b/c", None, Some("5"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("CANARY_CONFIG_REFRESH_MS:"), "{err}");
    }

    #[test]
    fn answers_are_documents_or_errors() {
        let doc = read_answer(200, Some("7"), b"{\"a\": 1}").unwrap();
        assert_eq!(
            (doc.text.as_str(), doc.version.as_deref()),
            ("{\"a\": 1}", Some("7"))
        );
        let err = read_answer(404, None, b"Configuration profile not found\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the AppConfig extension answered 404: Configuration profile not found"
        );
        assert!(!err.is_transient());
        assert!(read_answer(500, None, b"boom").unwrap_err().is_transient());
        assert!(matches!(
            read_answer(200, None, b"\xff"),
            Err(FetchError::Unreadable(_))
        ));
    }
}

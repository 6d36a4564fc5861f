//! A stand-in for the AWS AppConfig Lambda extension's local HTTP API (the AppConfig Agent has
//! the same), for developing and testing against `CANARY_APPCONFIG` with no AWS account:
//! `GET /applications/APP/environments/ENV/configurations/PROFILE` answers the file
//! `DIR/APP/ENV/PROFILE.json` (or `DIR/APP/ENV/PROFILE`), read on every request, so editing the
//! file is a new deployment. Each change of a file's contents is a new version number, sent
//! in both headers the real services are documented with (`ConfigurationVersion` and
//! `Configuration-Version`). Errors are the extension's: 400, 404 and 500 with a text body.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

/// Documents served from a directory.
#[derive(Debug)]
pub struct AppConfigStore {
    dir: PathBuf,
    /// Per file: the digest of the contents last served and its version number.
    versions: Mutex<HashMap<PathBuf, (u64, u64)>>,
}

impl AppConfigStore {
    /// Documents under `dir` (`DIR/APP/ENV/PROFILE.json`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        AppConfigStore {
            dir: dir.into(),
            versions: Mutex::new(HashMap::new()),
        }
    }

    /// The directory served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The answer to `GET /applications/{app}/environments/{env}/configurations/{profile}`,
    /// the names still percent-encoded as they came.
    pub fn answer(&self, app: &str, env: &str, profile: &str) -> http::Response<Bytes> {
        let names: Option<Vec<String>> = [app, env, profile].iter().map(|s| decode(s)).collect();
        let Some(names) = names.filter(|n| n.iter().all(|s| is_safe(s))) else {
            return text(
                StatusCode::BAD_REQUEST,
                "Invalid application, environment or configuration profile name",
            );
        };
        let base = self.dir.join(&names[0]).join(&names[1]);
        let candidates = [
            base.join(format!("{}.json", names[2])),
            base.join(&names[2]),
        ];
        let found = candidates.iter().find(|p| p.is_file());
        let Some(path) = found else {
            return text(
                StatusCode::NOT_FOUND,
                &format!(
                    "Configuration not found: application {}, environment {}, profile {}",
                    names[0], names[1], names[2]
                ),
            );
        };
        let body = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("Error reading configuration: {e}"),
                );
            }
        };
        let version = self.version_of(path, &body);
        let mut resp = http::Response::new(Bytes::from(body));
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("configurationversion", HeaderValue::from(version));
        h.insert("configuration-version", HeaderValue::from(version));
        resp
    }

    fn version_of(&self, path: &Path, body: &[u8]) -> u64 {
        let mut h = DefaultHasher::new();
        body.hash(&mut h);
        let digest = h.finish();
        let mut versions = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = versions.entry(path.to_owned()).or_insert((digest, 1));
        if entry.0 != digest {
            *entry = (digest, entry.1.saturating_add(1));
        }
        entry.1
    }
}

/// The answer to any other request under `/applications`.
pub fn bad_request() -> http::Response<Bytes> {
    text(
        StatusCode::BAD_REQUEST,
        "Use GET /applications/APPLICATION/environments/ENVIRONMENT/configurations/PROFILE",
    )
}

fn text(status: StatusCode, message: &str) -> http::Response<Bytes> {
    let mut resp = http::Response::new(Bytes::from(format!("{message}\n")));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/text"),
    );
    resp
}

/// A name may not climb out of the directory.
fn is_safe(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

fn decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_documents_and_each_change_a_new_version() {
        let dir = std::env::temp_dir().join(format!("appconfig-store-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("app/prod")).unwrap();
        std::fs::write(dir.join("app/prod/router config.json"), "{\"v\": 1}").unwrap();
        let store = AppConfigStore::new(&dir);
        let r = store.answer("app", "prod", "router%20config");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["configuration-version"], "1");
        assert_eq!(r.headers()["configurationversion"], "1");
        assert_eq!(r.body().as_ref(), b"{\"v\": 1}");
        assert_eq!(
            store.answer("app", "prod", "router%20config").headers()["configuration-version"],
            "1"
        );
        std::fs::write(dir.join("app/prod/router config.json"), "{\"v\": 2}").unwrap();
        assert_eq!(
            store.answer("app", "prod", "router%20config").headers()["configuration-version"],
            "2"
        );
        let missing = store.answer("app", "prod", "nope");
        assert_eq!(missing.status(), 404);
        assert_eq!(missing.headers()["content-type"], "application/text");
        assert_eq!(store.answer("..", "prod", "x").status(), 400);
        assert_eq!(store.answer("app", "%2e%2e", "x").status(), 400);
        assert_eq!(store.answer("app", "prod", "%zz").status(), 400);
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! Where the config text comes from: the environment (`CANARY_CONFIG`, `CANARY_CONFIG_FILE`) or
//! a file, always through the `Env` seam so that tests never touch the process environment.

use std::path::{Path, PathBuf};

use super::error::ConfigError;

/// Where configuration comes from: the process environment in production, a map in tests.
pub trait Env {
    /// The value of a variable, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// The contents of a file.
    fn read(&self, path: &Path) -> std::io::Result<String>;
}

/// The real environment and file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read(&self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// Where a config came from, for messages and reloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `CANARY_CONFIG`: inline JSON, fixed for the life of the process.
    Inline,
    /// A file (`--config` or `CANARY_CONFIG_FILE`), which `serve` watches.
    File(PathBuf),
}

/// Reads the config text from `CANARY_CONFIG` or `CANARY_CONFIG_FILE`; `None` when neither is set.
/// A variable set to nothing (or whitespace) is refused when it is the only one set, so that a
/// blank value never falls back to anything; beside another source it counts as unset, as
/// template tools pass an omitted value as an empty string.
pub fn text_from_env(env: &dyn Env) -> Result<Option<(String, Source)>, ConfigError> {
    const INLINE: &str = "CANARY_CONFIG";
    const FILE: &str = "CANARY_CONFIG_FILE";
    let (inline, file) = (env.var(INLINE), env.var(FILE));
    let filled = |v: &Option<String>| v.as_ref().is_some_and(|v| !v.trim().is_empty());
    match (filled(&inline), filled(&file)) {
        (true, true) => Err(ConfigError::BothSources),
        (true, false) => Ok(inline.map(|text| (text, Source::Inline))),
        (false, true) => {
            let path = PathBuf::from(file.unwrap_or_default().trim());
            read_file(env, &path).map(|t| Some((t, Source::File(path))))
        }
        (false, false) if inline.is_some() => Err(ConfigError::Empty { var: INLINE }),
        (false, false) if file.is_some() => Err(ConfigError::Empty { var: FILE }),
        (false, false) => Ok(None),
    }
}

/// Reads a config file through the seam.
pub fn read_file(env: &dyn Env, path: &Path) -> Result<String, ConfigError> {
    env.read(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct MapEnv(HashMap<&'static str, &'static str>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
        fn read(&self, path: &Path) -> std::io::Result<String> {
            if path == Path::new("/etc/canary.json") {
                Ok("{}".into())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                ))
            }
        }
    }

    #[test]
    fn env_sources() {
        let env = MapEnv(HashMap::from([("CANARY_CONFIG", "{\"a\":1}")]));
        assert_eq!(
            text_from_env(&env).unwrap(),
            Some(("{\"a\":1}".into(), Source::Inline))
        );
        let env = MapEnv(HashMap::from([("CANARY_CONFIG_FILE", "/etc/canary.json")]));
        assert_eq!(
            text_from_env(&env).unwrap(),
            Some(("{}".into(), Source::File("/etc/canary.json".into())))
        );
        let env = MapEnv(HashMap::from([
            ("CANARY_CONFIG", "{}"),
            ("CANARY_CONFIG_FILE", "/x"),
        ]));
        assert!(matches!(text_from_env(&env), Err(ConfigError::BothSources)));
        let env = MapEnv(HashMap::from([("CANARY_CONFIG_FILE", "/missing.json")]));
        let err = text_from_env(&env).unwrap_err().to_string();
        assert!(
            err.starts_with("cannot read config file /missing.json"),
            "{err}"
        );
        assert_eq!(text_from_env(&MapEnv(HashMap::new())).unwrap(), None);
    }

    #[test]
    fn a_blank_source_is_refused_unless_another_is_set() {
        for blank in ["", "  \n\t"] {
            let env = MapEnv(HashMap::from([("CANARY_CONFIG", blank)]));
            let err = text_from_env(&env).unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Empty {
                        var: "CANARY_CONFIG"
                    }
                ),
                "{err}"
            );
            let env = MapEnv(HashMap::from([("CANARY_CONFIG_FILE", blank)]));
            assert!(matches!(
                text_from_env(&env),
                Err(ConfigError::Empty { .. })
            ));
            let env = MapEnv(HashMap::from([
                ("CANARY_CONFIG", blank),
                ("CANARY_CONFIG_FILE", "/etc/canary.json"),
            ]));
            assert_eq!(
                text_from_env(&env).unwrap(),
                Some(("{}".into(), Source::File("/etc/canary.json".into())))
            );
        }
    }
}

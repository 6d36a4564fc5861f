//! Where the config text comes from: the environment (`CANARY_CONFIG`, `CANARY_CONFIG_FILE`) or
//! a file, always through the `Env` seam so that tests never touch the process environment.

use std::path::{Path, PathBuf};

use super::appconfig::AppConfigTarget;
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
    /// `CANARY_APPCONFIG`: the AppConfig extension, asked again every refresh interval.
    AppConfig(AppConfigTarget),
}

/// Where the environment says the config comes from, with its text for the inline and file
/// sources; `None` when nothing is set. At most one of `CANARY_CONFIG`, `CANARY_CONFIG_FILE`
/// and `CANARY_APPCONFIG` may be set. A variable set to nothing (or whitespace) is refused when
/// it is the only one set, so that a blank value never falls back to anything; beside another
/// source it counts as unset, as template tools pass an omitted value as an empty string.
pub fn source_from_env(env: &dyn Env) -> Result<Option<(Option<String>, Source)>, ConfigError> {
    const INLINE: &str = "CANARY_CONFIG";
    const FILE: &str = "CANARY_CONFIG_FILE";
    const APPCONFIG: &str = "CANARY_APPCONFIG";
    let vars = [INLINE, FILE, APPCONFIG].map(|name| (name, env.var(name)));
    let filled: Vec<(&str, String)> = vars
        .iter()
        .filter_map(|(name, v)| {
            v.as_ref()
                .filter(|v| !v.trim().is_empty())
                .map(|v| (*name, v.clone()))
        })
        .collect();
    match filled.as_slice() {
        [] => match vars.iter().find(|(_, v)| v.is_some()) {
            Some((var, _)) => Err(ConfigError::Empty { var }),
            None => Ok(None),
        },
        [(INLINE, text)] => Ok(Some((Some(text.clone()), Source::Inline))),
        [(FILE, path)] => {
            let path = PathBuf::from(path.trim());
            let text = read_file(env, &path)?;
            Ok(Some((Some(text), Source::File(path))))
        }
        [(_, target)] => {
            let target = AppConfigTarget::parse(
                target,
                env.var("AWS_APPCONFIG_EXTENSION_HTTP_PORT").as_deref(),
                env.var("CANARY_CONFIG_REFRESH_MS").as_deref(),
            )?;
            Ok(Some((None, Source::AppConfig(target))))
        }
        _ => Err(ConfigError::BothSources),
    }
}

/// Reads the config text from `CANARY_CONFIG` or `CANARY_CONFIG_FILE`; `None` when neither is
/// set. An AppConfig source has no text yet: this is `None` for it too (see
/// [`source_from_env`]).
pub fn text_from_env(env: &dyn Env) -> Result<Option<(String, Source)>, ConfigError> {
    Ok(source_from_env(env)?.and_then(|(text, source)| text.map(|t| (t, source))))
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
    fn at_most_one_source_and_appconfig_is_parsed() {
        let env = MapEnv(HashMap::from([("CANARY_APPCONFIG", "app/env/profile")]));
        match source_from_env(&env).unwrap() {
            Some((None, Source::AppConfig(t))) => assert_eq!(t.name(), "app/env/profile"),
            other => panic!("{other:?}"),
        }
        let env = MapEnv(HashMap::from([
            ("CANARY_APPCONFIG", "app/env/profile"),
            ("CANARY_CONFIG", "{}"),
        ]));
        assert!(matches!(
            source_from_env(&env),
            Err(ConfigError::BothSources)
        ));
        let env = MapEnv(HashMap::from([("CANARY_APPCONFIG", "app/env")]));
        assert!(matches!(
            source_from_env(&env),
            Err(ConfigError::Environment { .. })
        ));
        let env = MapEnv(HashMap::from([("CANARY_APPCONFIG", " ")]));
        assert!(matches!(
            source_from_env(&env),
            Err(ConfigError::Empty {
                var: "CANARY_APPCONFIG"
            })
        ));
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

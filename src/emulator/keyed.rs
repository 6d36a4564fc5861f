//! Reading a JSON object of the models file key by key, each error naming its key path
//! (`endpoints.e.variants[0].faults.error_rate: must be between 0 and 1`).

use serde_json::{Map, Value};

use crate::config::error::Invalid;

/// A JSON object being read, with its key path for messages.
pub(crate) struct Obj<'a> {
    path: String,
    pub(crate) map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(v: &'a Value, path: &str) -> Result<Self, Invalid> {
        match v {
            Value::Object(map) => Ok(Obj {
                path: path.to_owned(),
                map,
            }),
            _ => Err(Invalid::new(
                if path.is_empty() { "models" } else { path },
                "must be a JSON object",
            )),
        }
    }

    pub(crate) fn key(&self, k: &str) -> String {
        // The empty key is written as JSON writes it, so that a message names it.
        let k = if k.is_empty() { "\"\"" } else { k };
        if self.path.is_empty() {
            k.to_owned()
        } else {
            format!("{}.{k}", self.path)
        }
    }

    pub(crate) fn get(&self, k: &str) -> Option<&'a Value> {
        self.map.get(k)
    }

    /// Refuses keys outside `allowed` (keys starting with `x-` excepted).
    pub(crate) fn only(&self, allowed: &[&str]) -> Result<(), Invalid> {
        match self
            .map
            .keys()
            .find(|k| !k.starts_with("x-") && !allowed.contains(&k.as_str()))
        {
            Some(k) => Err(Invalid::new(
                self.key(k),
                format!("unknown key (expected one of: {})", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn string(&self, k: &str) -> Result<String, Invalid> {
        match self.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(Invalid::new(self.key(k), "must be a string")),
            None => Err(Invalid::new(self.key(k), "missing")),
        }
    }

    pub(crate) fn number(&self, k: &str) -> Result<f64, Invalid> {
        self.get(k)
            .and_then(Value::as_f64)
            .ok_or_else(|| Invalid::new(self.key(k), "must be a number"))
    }

    pub(crate) fn number_or(&self, k: &str, default: f64) -> Result<f64, Invalid> {
        match self.get(k) {
            None => Ok(default),
            Some(_) => self.number(k),
        }
    }

    pub(crate) fn uint_or(&self, k: &str, default: u64, max: u64) -> Result<u64, Invalid> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(n),
                _ => Err(Invalid::new(
                    self.key(k),
                    format!("must be a whole number between 0 and {max}"),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_key_is_named() {
        // Found by the emulator_models fuzz target: `{"": 1}` was refused with an empty key.
        let v: Value = serde_json::from_str(r#"{"": 1}"#).unwrap();
        let err = Obj::new(&v, "").unwrap().only(&["seed"]).unwrap_err();
        assert_eq!(err.key, r#""""#);
        let err = Obj::new(&v, "endpoints").unwrap().string("").unwrap_err();
        assert_eq!(err.key, r#"endpoints."""#);
    }
}

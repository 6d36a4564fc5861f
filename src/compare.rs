//! Whether two model answers agree, the one comparator `validate` and shadow cohorts share:
//! answers compared as JSON, numbers within a relative tolerance, or only the value at one JSON
//! pointer (`/label`); and the largest difference of their numbers, leaf by leaf.

use serde_json::Value;

/// The relative tolerance when none is given.
pub const DEFAULT_TOLERANCE: f64 = 1e-6;

/// How answers are compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparator {
    pointer: Option<String>,
    tolerance: f64,
}

impl Default for Comparator {
    fn default() -> Self {
        Comparator {
            pointer: None,
            tolerance: DEFAULT_TOLERANCE,
        }
    }
}

/// A comparator that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComparatorError {
    /// Not a JSON pointer.
    #[error("`{0}` is not a JSON pointer (it starts with `/`, like /label)")]
    Pointer(String),
    /// Not a usable tolerance.
    #[error("tolerance {0} must be a finite number of at least 0")]
    Tolerance(String),
}

/// The outcome of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The answers agree (at the pointer, within the tolerance).
    pub agrees: bool,
    /// The largest absolute difference of the numbers of both whole answers, leaf by leaf;
    /// `None` when their shapes differ (or they are not JSON).
    pub max_abs_diff: Option<f64>,
}

impl Comparator {
    /// A comparator on `pointer` (the whole answer when `None`) with a relative `tolerance`.
    pub fn new(pointer: Option<&str>, tolerance: Option<f64>) -> Result<Self, ComparatorError> {
        if let Some(p) = pointer
            && !p.is_empty()
            && !p.starts_with('/')
        {
            return Err(ComparatorError::Pointer(p.to_owned()));
        }
        let tolerance = tolerance.unwrap_or(DEFAULT_TOLERANCE);
        if !(tolerance.is_finite() && tolerance >= 0.0) {
            return Err(ComparatorError::Tolerance(tolerance.to_string()));
        }
        Ok(Comparator {
            pointer: pointer.filter(|p| !p.is_empty()).map(str::to_owned),
            tolerance,
        })
    }

    /// The JSON pointer compared, when only one value is.
    pub fn pointer(&self) -> Option<&str> {
        self.pointer.as_deref()
    }

    /// Compares an expected answer with an actual one, as bytes as they came.
    pub fn compare_bytes(&self, expected: &[u8], actual: &[u8]) -> Comparison {
        match (
            serde_json::from_slice::<Value>(expected),
            serde_json::from_slice::<Value>(actual),
        ) {
            (Ok(e), Ok(a)) => self.compare(&e, &a),
            // Not JSON (CSV, an image...): the same bytes agree, anything else does not.
            _ => Comparison {
                agrees: expected == actual,
                max_abs_diff: None,
            },
        }
    }

    /// Compares two JSON answers.
    pub fn compare(&self, expected: &Value, actual: &Value) -> Comparison {
        let agrees = match &self.pointer {
            None => equal(expected, actual, self.tolerance),
            Some(p) => match (expected.pointer(p), actual.pointer(p)) {
                (Some(e), Some(a)) => equal(e, a, self.tolerance),
                _ => false,
            },
        };
        Comparison {
            agrees,
            max_abs_diff: max_abs_diff(expected, actual),
        }
    }
}

/// Equal as JSON, numbers within `tol` relative to the larger of the two.
fn equal(a: &Value, b: &Value, tol: f64) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => close(x, y, tol),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equal(x, y, tol))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w, tol)))
        }
        _ => a == b,
    }
}

fn close(x: f64, y: f64, tol: f64) -> bool {
    if !(x.is_finite() && y.is_finite()) {
        return false;
    }
    x == y || (x - y).abs() <= tol * x.abs().max(y.abs())
}

/// The largest |a − b| over the numbers of two values of the same shape; `None` when the
/// shapes differ. Values with no numbers and the same shape differ by 0.
pub fn max_abs_diff(a: &Value, b: &Value) -> Option<f64> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let d = (x.as_f64()? - y.as_f64()?).abs();
            d.is_finite().then_some(d)
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .try_fold(0.0f64, |m, (x, y)| max_abs_diff(x, y).map(|d| m.max(d))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
            x.iter().try_fold(0.0f64, |m, (k, v)| {
                max_abs_diff(v, y.get(k)?).map(|d| m.max(d))
            })
        }
        (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Some(0.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cmp(pointer: Option<&str>, tol: Option<f64>) -> Comparator {
        Comparator::new(pointer, tol).unwrap()
    }

    #[test]
    fn numbers_within_a_relative_tolerance() {
        let c = cmp(None, Some(1e-3));
        let r = c.compare(&json!({"p": [0.5, 0.25]}), &json!({"p": [0.5004, 0.25]}));
        assert!(r.agrees);
        assert!((r.max_abs_diff.unwrap() - 0.0004).abs() < 1e-12);
        assert!(
            !c.compare(&json!({"p": [0.5]}), &json!({"p": [0.51]}))
                .agrees
        );
        assert!(
            cmp(None, Some(0.0)).compare(&json!(1), &json!(1.0)).agrees,
            "1 and 1.0 are the same number"
        );
        assert!(cmp(None, None).compare(&json!(0), &json!(0)).agrees);
    }

    #[test]
    fn a_pointer_compares_one_field_and_a_missing_field_disagrees() {
        let c = cmp(Some("/label"), None);
        let a = json!({"label": "setosa", "p": [0.9, 0.1]});
        let b = json!({"label": "setosa", "p": [0.2, 0.8]});
        let r = c.compare(&a, &b);
        assert!(r.agrees);
        assert!((r.max_abs_diff.unwrap() - 0.7).abs() < 1e-12);
        assert!(!c.compare(&a, &json!({"p": []})).agrees);
        assert!(
            !c.compare(&json!({}), &json!({})).agrees,
            "absent on both sides is no agreement"
        );
    }

    #[test]
    fn shapes_that_differ_have_no_diff() {
        let c = cmp(None, None);
        let r = c.compare(&json!({"p": [1, 2]}), &json!({"p": [1, 2, 3]}));
        assert_eq!((r.agrees, r.max_abs_diff), (false, None));
        assert_eq!(max_abs_diff(&json!({"a": 1}), &json!({"b": 1})), None);
        assert_eq!(
            max_abs_diff(&json!({"a": "x"}), &json!({"a": "y"})),
            Some(0.0)
        );
        assert_eq!(max_abs_diff(&json!("x"), &json!(1)), None);
    }

    #[test]
    fn answers_that_are_not_json_agree_only_byte_for_byte() {
        let c = cmp(None, None);
        assert!(c.compare_bytes(b"a,b\n", b"a,b\n").agrees);
        let r = c.compare_bytes(b"a,b\n", b"a,c\n");
        assert_eq!((r.agrees, r.max_abs_diff), (false, None));
        assert!(
            !c.compare_bytes(b"{\"a\": 1}", b"NaN").agrees,
            "NaN is not JSON"
        );
    }

    #[test]
    fn bad_pointers_and_tolerances_are_refused() {
        assert_eq!(
            Comparator::new(Some("label"), None),
            Err(ComparatorError::Pointer("label".into()))
        );
        assert!(Comparator::new(None, Some(f64::NAN)).is_err());
        assert!(Comparator::new(None, Some(-1.0)).is_err());
        assert!(
            Comparator::new(Some(""), None).is_ok(),
            "the empty pointer is the whole answer"
        );
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            (-1e6f64..1e6).prop_map(|x| json!(x)),
            any::<i32>().prop_map(|x| json!(x)),
            "[a-z]{0,4}".prop_map(|s| json!(s)),
            any::<bool>().prop_map(|b| json!(b)),
            Just(Value::Null),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn agreement_is_reflexive_and_symmetric(a in json_value(), b in json_value(), tol in 0.0f64..0.1) {
            let c = cmp(None, Some(tol));
            proptest::prop_assert!(c.compare(&a, &a).agrees);
            proptest::prop_assert_eq!(max_abs_diff(&a, &a), Some(0.0));
            proptest::prop_assert_eq!(c.compare(&a, &b).agrees, c.compare(&b, &a).agrees);
            proptest::prop_assert_eq!(max_abs_diff(&a, &b), max_abs_diff(&b, &a));
            // A larger tolerance never turns agreement into disagreement.
            if c.compare(&a, &b).agrees {
                proptest::prop_assert!(cmp(None, Some(tol * 2.0 + 1e-9)).compare(&a, &b).agrees);
            }
        }
    }
}

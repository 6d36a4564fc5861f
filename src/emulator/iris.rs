//! The `iris-logreg` model: Fisher's Iris data (bundled, 150 rows), a multinomial logistic
//! regression trained by full-batch gradient descent on standardised features (no randomness:
//! zero initial weights, rows in file order), and its request and response formats.
//!
//! The data file is scikit-learn's copy of the data set, which follows Fisher's paper (and R);
//! the UCI copy differs in two values (rows 35 and 38).

use std::sync::OnceLock;

use serde_json::{Value, json};

/// Class names, in class-index order.
pub const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];

const IRIS_CSV: &str = include_str!("iris.csv");

/// The 150 Iris rows: `(sepal_length, sepal_width, petal_length, petal_width)` in cm, and the
/// index of the true species in `LABELS`.
pub fn samples() -> &'static [([f64; 4], usize)] {
    static DATA: OnceLock<Vec<([f64; 4], usize)>> = OnceLock::new();
    DATA.get_or_init(|| parse_csv(IRIS_CSV).expect("the bundled iris.csv is valid (tested)"))
}

fn parse_csv(text: &str) -> Result<Vec<([f64; 4], usize)>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() != 5 {
            return Err(format!("line {}: expected 5 columns", i + 1));
        }
        let mut x = [0.0; 4];
        for (j, c) in cols[..4].iter().enumerate() {
            x[j] = c
                .trim()
                .parse()
                .map_err(|_| format!("line {}: {c:?} is not a number", i + 1))?;
        }
        let y = LABELS
            .iter()
            .position(|l| *l == cols[4].trim())
            .ok_or_else(|| format!("line {}: unknown species {:?}", i + 1, cols[4]))?;
        rows.push((x, y));
    }
    Ok(rows)
}

/// A trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct LogReg {
    /// The gradient-descent step it was trained with.
    pub learning_rate: f64,
    /// Passes over the data.
    pub epochs: u32,
    mean: [f64; 4],
    std: [f64; 4],
    weights: [[f64; 4]; 3],
    bias: [f64; 3],
    /// Share of the 150 rows it labels correctly.
    pub accuracy: f64,
}

impl LogReg {
    /// Trains on all 150 rows: softmax cross-entropy, `epochs` full-batch gradient steps.
    // Index loops read like the maths they implement.
    #[allow(clippy::needless_range_loop)]
    pub fn train(learning_rate: f64, epochs: u32) -> LogReg {
        let data = samples();
        let n = data.len() as f64;
        let mut mean = [0.0; 4];
        for (x, _) in data {
            for j in 0..4 {
                mean[j] += x[j] / n;
            }
        }
        let mut std = [0.0; 4];
        for (x, _) in data {
            for j in 0..4 {
                std[j] += (x[j] - mean[j]).powi(2) / n;
            }
        }
        for s in &mut std {
            *s = if *s > 0.0 { s.sqrt() } else { 1.0 };
        }
        let z: Vec<([f64; 4], usize)> = data
            .iter()
            .map(|(x, y)| (standardise(x, &mean, &std), *y))
            .collect();
        let mut model = LogReg {
            learning_rate,
            epochs,
            mean,
            std,
            weights: [[0.0; 4]; 3],
            bias: [0.0; 3],
            accuracy: 0.0,
        };
        for _ in 0..epochs {
            let mut gw = [[0.0; 4]; 3];
            let mut gb = [0.0; 3];
            for (x, y) in &z {
                let p = model.softmax(x);
                for k in 0..3 {
                    let d = p[k] - if k == *y { 1.0 } else { 0.0 };
                    gb[k] += d / n;
                    for j in 0..4 {
                        gw[k][j] += d * x[j] / n;
                    }
                }
            }
            for k in 0..3 {
                model.bias[k] -= learning_rate * gb[k];
                for j in 0..4 {
                    model.weights[k][j] -= learning_rate * gw[k][j];
                }
            }
        }
        let correct = data.iter().filter(|(x, y)| model.predict(x) == *y).count();
        model.accuracy = correct as f64 / n;
        model
    }

    fn softmax(&self, z: &[f64; 4]) -> [f64; 3] {
        let mut s = [0.0; 3];
        for (k, sk) in s.iter_mut().enumerate() {
            *sk = self.bias[k] + (0..4).map(|j| self.weights[k][j] * z[j]).sum::<f64>();
        }
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e = s.map(|v| (v - m).exp());
        let t: f64 = e.iter().sum();
        e.map(|v| v / t)
    }

    /// Class probabilities for raw (unstandardised) features.
    pub fn probabilities(&self, x: &[f64; 4]) -> [f64; 3] {
        self.softmax(&standardise(x, &self.mean, &self.std))
    }

    /// The most probable class index (the first on a tie).
    pub fn predict(&self, x: &[f64; 4]) -> usize {
        argmax(&self.probabilities(x))
    }
}

fn standardise(x: &[f64; 4], mean: &[f64; 4], std: &[f64; 4]) -> [f64; 4] {
    let mut z = [0.0; 4];
    for j in 0..4 {
        z[j] = (x[j] - mean[j]) / std[j];
    }
    z
}

/// A request the model refuses, as a container would: its HTTP status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub message: String,
}

fn reject(status: u16, message: impl Into<String>) -> Rejection {
    Rejection {
        status,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// The media type without parameters, lower-cased.
fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn input_format(content_type: Option<&str>) -> Result<Format, Rejection> {
    match content_type.map(media_type).as_deref() {
        None | Some("") | Some("application/json") => Ok(Format::Json),
        Some("text/csv") => Ok(Format::Csv),
        Some(other) => Err(reject(
            415,
            format!("unsupported content type {other}: send application/json or text/csv"),
        )),
    }
}

fn output_format(accept: Option<&str>, input: Format) -> Result<Format, Rejection> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(input);
    };
    for part in accept.split(',') {
        match media_type(part).as_str() {
            "*/*" => return Ok(input),
            "application/json" | "application/*" => return Ok(Format::Json),
            "text/csv" | "text/*" => return Ok(Format::Csv),
            _ => {}
        }
    }
    Err(reject(
        406,
        format!("cannot answer in {accept}: accept application/json or text/csv"),
    ))
}

/// Answers one invocation: the body and its content type, or the container's refusal.
///
/// JSON in: `{"features": [f1, f2, f3, f4]}` answers `{"label", "probabilities", "labels"}`;
/// `{"instances": [[...], ...]}` answers `{"predictions": [{"label", "probabilities"}, ...],
/// "labels"}`. CSV in: one row of four numbers per line. CSV out: one label per line.
pub fn invoke(
    model: &LogReg,
    body: &[u8],
    content_type: Option<&str>,
    accept: Option<&str>,
) -> Result<(Vec<u8>, &'static str), Rejection> {
    let input = input_format(content_type)?;
    let output = output_format(accept, input)?;
    let (rows, single) = match input {
        Format::Json => parse_json(body)?,
        Format::Csv => (parse_csv_rows(body)?, false),
    };
    let mut predictions: Vec<(usize, [f64; 3])> = Vec::with_capacity(rows.len());
    for x in &rows {
        let p = model.probabilities(x);
        // Finite features can still overflow the model (1e308 standardised is infinite): a
        // real container would fail on them too, not answer null probabilities.
        if !p.iter().all(|v| v.is_finite()) {
            return Err(reject(
                400,
                "features out of range: the model's probabilities are not finite numbers",
            ));
        }
        predictions.push((argmax(&p), p));
    }
    match output {
        Format::Csv => {
            let mut out = String::new();
            for (k, _) in &predictions {
                out.push_str(LABELS[*k]);
                out.push('\n');
            }
            Ok((out.into_bytes(), "text/csv"))
        }
        Format::Json => {
            let one = |(k, p): &(usize, [f64; 3])| json!({"label": LABELS[*k], "probabilities": p.map(round6)});
            let value = if single {
                let mut v = one(&predictions[0]);
                v["labels"] = json!(LABELS);
                v
            } else {
                json!({"predictions": predictions.iter().map(one).collect::<Vec<_>>(), "labels": LABELS})
            };
            Ok((
                serde_json::to_vec(&value).unwrap_or_default(),
                "application/json",
            ))
        }
    }
}

fn argmax(p: &[f64; 3]) -> usize {
    let mut best = 0;
    for k in 1..3 {
        if p[k] > p[best] {
            best = k;
        }
    }
    best
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

const JSON_SHAPE: &str =
    r#"expected {"features": [4 numbers]} or {"instances": [[4 numbers], ...]}"#;

fn parse_json(body: &[u8]) -> Result<(Vec<[f64; 4]>, bool), Rejection> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| reject(400, format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = &v else {
        return Err(reject(400, JSON_SHAPE));
    };
    if let Some(f) = obj.get("features") {
        return Ok((vec![features(f, "features")?], true));
    }
    if let Some(Value::Array(list)) = obj.get("instances") {
        if list.is_empty() {
            return Err(reject(400, "instances is empty"));
        }
        let rows = list
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let key = format!("instances[{i}]");
                match item {
                    Value::Object(o) => match o.get("features") {
                        Some(f) => features(f, &format!("{key}.features")),
                        None => Err(reject(400, format!("{key}: {JSON_SHAPE}"))),
                    },
                    other => features(other, &key),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((rows, false));
    }
    Err(reject(400, JSON_SHAPE))
}

fn features(v: &Value, key: &str) -> Result<[f64; 4], Rejection> {
    let bad = || {
        reject(
            400,
            format!(
                "{key}: expected 4 numbers (sepal length, sepal width, petal length, petal width in cm)"
            ),
        )
    };
    let Value::Array(a) = v else {
        return Err(bad());
    };
    if a.len() != 4 {
        return Err(bad());
    }
    let mut x = [0.0; 4];
    for (j, item) in a.iter().enumerate() {
        x[j] = item.as_f64().filter(|f| f.is_finite()).ok_or_else(bad)?;
    }
    Ok(x)
}

fn parse_csv_rows(body: &[u8]) -> Result<Vec<[f64; 4]>, Rejection> {
    let text = std::str::from_utf8(body).map_err(|_| reject(400, "CSV is not valid UTF-8"))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: Option<Vec<f64>> = cols
            .iter()
            .map(|c| c.parse::<f64>().ok().filter(|f| f.is_finite()))
            .collect();
        match parsed {
            Some(v) if v.len() == 4 => rows.push([v[0], v[1], v[2], v[3]]),
            _ => {
                return Err(reject(
                    400,
                    format!("CSV line {}: expected 4 numbers separated by commas", i + 1),
                ));
            }
        }
    }
    if rows.is_empty() {
        return Err(reject(400, "CSV body has no rows"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_has_fifty_rows_per_species() {
        let s = samples();
        assert_eq!(s.len(), 150);
        for k in 0..3 {
            assert_eq!(s.iter().filter(|(_, y)| *y == k).count(), 50);
        }
        assert_eq!(s[0], ([5.1, 3.5, 1.4, 0.2], 0));
        assert_eq!(s[149], ([5.9, 3.0, 5.1, 1.8], 2));
    }

    #[test]
    fn training_is_deterministic_and_rates_matter() {
        let weak = LogReg::train(0.01, 10);
        let strong = LogReg::train(0.5, 300);
        assert_eq!(weak, LogReg::train(0.01, 10));
        assert!((0.75..0.88).contains(&weak.accuracy), "{}", weak.accuracy);
        assert!(strong.accuracy >= 0.95, "{}", strong.accuracy);
    }

    #[test]
    fn probabilities_sum_to_one() {
        let m = LogReg::train(0.5, 300);
        for (x, _) in samples() {
            let p = m.probabilities(x);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn json_single_and_batch() {
        let m = LogReg::train(0.5, 300);
        let (body, ct) = invoke(
            &m,
            br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#,
            Some("application/json"),
            None,
        )
        .unwrap();
        assert_eq!(ct, "application/json");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["label"], "setosa");
        assert_eq!(v["labels"], json!(LABELS));
        assert_eq!(v["probabilities"].as_array().unwrap().len(), 3);

        let (body, _) = invoke(
            &m,
            br#"{"instances": [[5.1, 3.5, 1.4, 0.2], {"features": [6.7, 3.0, 5.2, 2.3]}]}"#,
            Some("application/json; charset=utf-8"),
            Some("*/*"),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["predictions"][0]["label"], "setosa");
        assert_eq!(v["predictions"][1]["label"], "virginica");
    }

    #[test]
    fn csv_in_and_out() {
        let m = LogReg::train(0.5, 300);
        let (body, ct) = invoke(
            &m,
            b"5.1,3.5,1.4,0.2\r\n6.7,3.0,5.2,2.3\n",
            Some("text/csv"),
            None,
        )
        .unwrap();
        assert_eq!(ct, "text/csv");
        assert_eq!(body, b"setosa\nvirginica\n");
        let (body, ct) = invoke(
            &m,
            b"5.1,3.5,1.4,0.2",
            Some("text/csv"),
            Some("application/json"),
        )
        .unwrap();
        assert_eq!(ct, "application/json");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["predictions"][0]["label"], "setosa");
        let (body, _) = invoke(
            &m,
            br#"{"features": [5.1, 3.5, 1.4, 0.2]}"#,
            None,
            Some("text/csv"),
        )
        .unwrap();
        assert_eq!(body, b"setosa\n");
    }

    #[test]
    fn bad_input_is_a_client_error_of_the_model() {
        let m = LogReg::train(0.01, 10);
        type Case<'a> = (&'a [u8], Option<&'a str>, Option<&'a str>, u16);
        let cases: [Case<'_>; 11] = [
            (b"{", Some("application/json"), None, 400),
            (b"[]", None, None, 400),
            (br#"{"features": [1, 2, 3]}"#, None, None, 400),
            (br#"{"features": [1, 2, 3, "x"]}"#, None, None, 400),
            (
                br#"{"features": [1.7e308, 1e308, -1e308, 1]}"#,
                None,
                None,
                400,
            ),
            (br#"{"instances": []}"#, None, None, 400),
            (br#"{"instances": [[1,2,3,4], [1]]}"#, None, None, 400),
            (b"sepal_length,a,b,c\n", Some("text/csv"), None, 400),
            (b"", Some("text/csv"), None, 400),
            (b"x", Some("image/png"), None, 415),
            (
                br#"{"features": [1, 2, 3, 4]}"#,
                None,
                Some("application/x-npy"),
                406,
            ),
        ];
        for (body, ct, accept, status) in cases {
            let r = invoke(&m, body, ct, accept).unwrap_err();
            assert_eq!(
                r.status,
                status,
                "{:?}: {}",
                String::from_utf8_lossy(body),
                r.message
            );
        }
    }
}

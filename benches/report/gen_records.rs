//! Writes synthetic router records (JSON lines, the router's own field order and EMF block)
//! for the `report` benchmark. Standard library only, so the benchmark script compiles it with
//! plain `rustc -O` in seconds.
//!
//! Usage: gen_records OUT RECORDS [SEED]
//! A tenth as many units as records; 90/10 control/canary by bucket; 80% decisions, 20%
//! `correct` outcomes; 0.5% of lines delivered twice. Every line is a record, so that DuckDB
//! reads the file with the issue's query unchanged.

use std::fs::File;
use std::io::{BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn mix(x: u64) -> u64 {
    Rng(x).next()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_records OUT RECORDS [SEED]");
        std::process::exit(2);
    }
    let records: u64 = args[2].parse().expect("RECORDS is a number");
    let seed: u64 = args
        .get(3)
        .map_or(42, |s| s.parse().expect("SEED is a number"));
    let units = (records / 10).max(1);
    let mut rng = Rng(seed);
    let file = File::create(&args[1]).expect("create OUT");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let start_ms: u64 = 1_795_687_200_000; // 2026-11-26T10:00:00Z
    let span_ms: u64 = 86_400_000;
    let mut line = String::with_capacity(1024);
    let mut prev = String::with_capacity(1024);
    let mut written = 0u64;
    while written < records {
        let uidx = rng.next() % units;
        let h = [
            mix(uidx ^ 0xa1),
            mix(uidx ^ 0xb2),
            mix(uidx ^ 0xc3),
            mix(uidx ^ 0xd4),
        ];
        let bucket = h[0] % 10_000;
        let canary = bucket >= 9000;
        let arm = if canary { "canary" } else { "control" };
        let endpoint = if canary { "imgclf-b" } else { "imgclf-a" };
        let ms = start_ms + written * span_ms / records;
        let ts = fmt_ts(ms);
        let r = [rng.next(), rng.next()];
        let rid = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            r[0] >> 32,
            (r[0] >> 16) & 0xffff,
            r[0] & 0xfff,
            0x8000 | ((r[1] >> 48) & 0x3fff),
            r[1] & 0xffff_ffff_ffff
        );
        let unit = format!("{:016x}{:016x}{:016x}{:016x}", h[0], h[1], h[2], h[3]);
        line.clear();
        if rng.unit() < 0.8 {
            let model = 8.0
                + rng.unit() * 6.0
                + if canary { 1.5 } else { 0.0 }
                + (-rng.unit().max(1e-12).ln()) * 2.0;
            let total = model + 0.3 + rng.unit() * 0.4;
            let (status, error) = if rng.unit() < 0.002 {
                (503, "\"throttled\"")
            } else {
                (200, "null")
            };
            let served = if status == 200 {
                format!("\"{arm}\"")
            } else {
                "null".to_owned()
            };
            line.push_str(&format!(
                concat!(
                    r#"{{"kind":"decision","ts":"{ts}","request_id":"{rid}","experiment":"imgclf-lr","config_version":"2026-11-26.1","#,
                    r#""unit":"{unit}","id_source":"header","assigned_by":"bucket","bucket":{bucket},"arm":"{arm}","#,
                    r#""weights":[["control",9000],["canary",1000]],"served_arm":{served},"endpoint":"{endpoint}","invoked_variant":"AllTraffic","#,
                    r#""inference_component":null,"target_model":null,"target_container_hostname":null,"#,
                    r#""status":{status},"error":{error},"latency_ms":{total:.3},"model_latency_ms":{model:.3},"#,
                    r#""_aws":{{"Timestamp":{ms},"CloudWatchMetrics":[{{"Namespace":"CanaryRouter","Dimensions":[["experiment","arm"]],"#,
                    r#""Metrics":[{{"Name":"invocations","Unit":"Count"}},{{"Name":"errors","Unit":"Count"}},{{"Name":"fallbacks","Unit":"Count"}},"#,
                    r#"{{"Name":"latency_ms","Unit":"Milliseconds"}},{{"Name":"model_latency_ms","Unit":"Milliseconds"}}]}}]}},"#,
                    r#""invocations":1,"errors":{errs},"fallbacks":0}}"#
                ),
                ts = ts, rid = rid, unit = unit, bucket = bucket, arm = arm, served = served,
                endpoint = endpoint, status = status, error = error, total = total, model = model,
                ms = ms, errs = u32::from(status >= 500)
            ));
        } else {
            let p = if canary { 0.83 } else { 0.80 };
            let value = if rng.unit() < p { "1.0" } else { "0.0" };
            line.push_str(&format!(
                concat!(
                    r#"{{"kind":"outcome","ts":"{ts}","request_id":"{rid}","experiment":"imgclf-lr","config_version":"2026-11-26.1","#,
                    r#""unit":"{unit}","id_source":"header","assigned_by":"bucket","bucket":{bucket},"arm":"{arm}","#,
                    r#""weights":[["control",9000],["canary",1000]],"served_arm":null,"endpoint":null,"invoked_variant":null,"#,
                    r#""inference_component":null,"target_model":null,"target_container_hostname":null,"#,
                    r#""status":202,"error":null,"latency_ms":0.051,"model_latency_ms":null,"#,
                    r#""event":"correct","value":{value},"prediction_id":null}}"#
                ),
                ts = ts, rid = rid, unit = unit, bucket = bucket, arm = arm, value = value
            ));
        }
        line.push('\n');
        out.write_all(line.as_bytes()).expect("write");
        written += 1;
        // At-least-once delivery: now and then a line comes twice.
        if !prev.is_empty() && rng.unit() < 0.005 && written < records {
            out.write_all(prev.as_bytes()).expect("write");
            written += 1;
        }
        std::mem::swap(&mut line, &mut prev);
    }
    out.flush().expect("flush");
}

/// RFC 3339 with milliseconds, UTC.
fn fmt_ts(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

//! The HTML report rendered by headless Chromium (Debian's `chromium`): the screenshot is not
//! blank and the charts are drawn in the arms' colours. Skips, loudly, when no Chromium is
//! installed (`apt-get install chromium`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use canary_router::report::{self, Input, Options};
use serde_json::json;

/// Two arms, 400 units, predictions with `correct` feedback and some purchases.
fn records() -> Vec<u8> {
    let mut out = Vec::new();
    let weights = json!([["control", 8000], ["canary", 2000]]);
    let mut t = 0u64;
    for i in 0..400u64 {
        let arm = if i % 5 == 0 { "canary" } else { "control" };
        let unit = format!("unit-{i}");
        for k in 0..3u64 {
            t += 7;
            let ts = format!(
                "2026-11-26T{:02}:{:02}:{:02}.000Z",
                10 + t / 3600,
                t / 60 % 60,
                t % 60
            );
            let base = json!({
                "ts": ts, "experiment": "html", "config_version": "v1", "unit": unit,
                "id_source": "header", "assigned_by": "bucket", "arm": arm, "weights": weights,
                "served_arm": arm, "error": null,
            });
            let mut d = base.clone();
            d["kind"] = json!("decision");
            d["request_id"] = json!(format!("d-{i}-{k}"));
            d["status"] = json!(200);
            d["latency_ms"] =
                json!(if arm == "canary" { 20.0 } else { 12.0 } + ((i * 7 + k) % 11) as f64);
            let mut o = base;
            o["kind"] = json!("outcome");
            o["request_id"] = json!(format!("o-{i}-{k}"));
            o["status"] = json!(202);
            o["latency_ms"] = json!(0.2);
            o["event"] = json!("correct");
            let right = (i + k) % if arm == "canary" { 6 } else { 4 } != 0;
            o["value"] = json!(if right { 1.0 } else { 0.0 });
            for r in [d, o] {
                serde_json::to_writer(&mut out, &r).unwrap();
                out.push(b'\n');
            }
        }
    }
    out
}

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("CHROMIUM").ok(),
        Some("chromium".into()),
        Some("chromium-browser".into()),
        Some("google-chrome".into()),
    ];
    candidates.into_iter().flatten().find_map(|c| {
        let ok = Command::new(&c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| PathBuf::from(c))
    })
}

/// Headless screenshot of `html`, with a deadline.
fn screenshot(browser: &Path, html: &Path, png: &Path, profile: &Path) {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1100,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            return;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hex_rgb(c: &str) -> [u8; 3] {
    let v = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap();
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

#[test]
fn html_report_is_self_contained() {
    let r = report::analyse(vec![Input::Bytes(records())], &Options::default()).unwrap();
    let html = report::render_html(&r);
    assert!(html.starts_with("<!doctype html>"));
    for banned in ["<script", "src=", "href=", "@import", "url("] {
        assert!(
            !html.contains(banned),
            "the page must not load anything: {banned}"
        );
    }
    // Units over time, one chart per metric, latency.
    assert_eq!(html.matches("<svg").count(), 3, "charts");
    assert!(html.contains("units per arm over time"));
    assert!(html.contains("latency percentiles per arm"));
    assert!(html.contains(r#"class="mean" data-arm="canary""#));
    assert!(
        html.contains("canary better on correct: +"),
        "the verdict is on the page"
    );
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        // scripts/test.sh installs Chromium; under CI a missing browser is a failed setup.
        assert!(
            std::env::var_os("CI").is_none(),
            "no Chromium found: apt-get install chromium"
        );
        eprintln!();
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!! SKIPPED html_report_renders_in_headless_chromium: no Chromium found.   !!");
        eprintln!("!! Install it (apt-get install chromium) or set CHROMIUM=/path/to/chrome. !!");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        return;
    };
    let dir = std::env::temp_dir().join(format!("canary-report-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let r = report::analyse(vec![Input::Bytes(records())], &Options::default()).unwrap();
    let html = dir.join("report.html");
    std::fs::write(&html, report::render_html(&r)).unwrap();
    let png = dir.join("report.png");
    screenshot(&browser, &html, &png, &dir.join("profile"));

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let total = pixels.len();
    assert!(total >= 1000 * 1000, "{}x{}", info.width, info.height);
    let non_white = pixels
        .iter()
        .filter(|p| p[..3].iter().any(|&c| c < 235))
        .count();
    assert!(
        non_white * 100 > total * 3,
        "the screenshot is (nearly) blank: {non_white} of {total} pixels drawn"
    );
    // Charts: plenty of pixels in each arm's colour (lines, dots, bars).
    let near = |p: &[u8], c: [u8; 3]| (0..3).all(|i| p[i].abs_diff(c[i]) <= 12);
    for (arm, colour) in [
        ("control", report::PALETTE[0]),
        ("canary", report::PALETTE[1]),
    ] {
        let rgb = hex_rgb(colour);
        let n = pixels.iter().filter(|p| near(p, rgb)).count();
        assert!(
            n > 2000,
            "{arm}: only {n} pixels of {colour}: charts missing?"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

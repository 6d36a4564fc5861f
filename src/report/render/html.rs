//! `--format html`: one self-contained page (no scripts, no network) with inline SVG charts:
//! units per arm over time, each metric per arm with its interval, latency percentiles.

use std::fmt::Write;

use super::format::{
    SHADOW_HEADS, STREAM_HEADS, TARGET_HEADS, arm_cells, control_suffix, metric_value, num,
    shadow_cells, signed_num, stream_cells, target_rows, thousands,
};
use crate::report::model::*;

/// A titled table of text rows; nothing when there are none.
fn rows_table(out: &mut String, title: &str, heads: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        return;
    }
    let _ = write!(out, "<h3>{}</h3><table><tr>", esc(title));
    for h in heads {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

/// `first` and the cells after it, as one row.
fn row<const N: usize>(first: &str, cells: [String; N]) -> Vec<String> {
    std::iter::once(first.to_owned()).chain(cells).collect()
}

/// Arm colours, in arm order (control first).
pub const PALETTE: [&str; 6] = [
    "#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2",
];

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for HTML and SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// About `n` round tick values covering `lo..=hi`.
fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

fn tick_label(x: f64) -> String {
    if x.abs() >= 1000.0 {
        thousands(x.round() as u64)
    } else {
        let s = num(x);
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    }
}

/// A plot area with axes, mapping data to pixels.
struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    /// The standard 640×240 chart with room for axis labels, x and y from 0 to `x1`, `y1`.
    fn standard(x1: f64, y1: f64) -> Frame {
        Frame {
            w: 640.0,
            h: 240.0,
            left: 56.0,
            right: 16.0,
            top: 12.0,
            bottom: 40.0,
            x0: 0.0,
            x1,
            y0: 0.0,
            y1,
        }
    }

    fn x(&self, v: f64) -> f64 {
        let span = if self.x1 > self.x0 {
            self.x1 - self.x0
        } else {
            1.0
        };
        self.left + (v - self.x0) / span * (self.w - self.left - self.right)
    }
    fn y(&self, v: f64) -> f64 {
        let span = if self.y1 > self.y0 {
            self.y1 - self.y0
        } else {
            1.0
        };
        self.h - self.bottom - (v - self.y0) / span * (self.h - self.top - self.bottom)
    }
    fn open(&self, out: &mut String, label: &str) {
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}">"#,
            esc(label),
            self.w,
            self.h,
            self.w,
            self.h
        );
    }
    fn y_axis(&self, out: &mut String) {
        for t in ticks(self.y0, self.y1, 5) {
            let y = self.y(t);
            let _ = write!(
                out,
                r##"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
                self.left,
                self.w - self.right,
                self.left - 6.0,
                y + 4.0,
                tick_label(t)
            );
        }
        let _ = write!(
            out,
            r##"<line x1="{l:.1}" x2="{l:.1}" y1="{:.1}" y2="{:.1}" stroke="#9ca3af"/><line x1="{l:.1}" x2="{:.1}" y1="{b:.1}" y2="{b:.1}" stroke="#9ca3af"/>"##,
            self.top,
            self.h - self.bottom,
            self.w - self.right,
            l = self.left,
            b = self.h - self.bottom
        );
    }
}

fn legend(out: &mut String, names: &[(String, &str)]) {
    out.push_str(r#"<div class="legend">"#);
    for (name, c) in names {
        let _ = write!(
            out,
            r#"<span><i style="background:{c}"></i>{}</span>"#,
            esc(name)
        );
    }
    out.push_str("</div>");
}

/// Cumulative analysed units per arm over the phase.
fn units_chart(out: &mut String, p: &Phase) {
    let longest = p.arms.iter().map(|a| a.timeline.len()).max().unwrap_or(0);
    if longest == 0 {
        return;
    }
    let ymax = p
        .arms
        .iter()
        .flat_map(|a| a.timeline.iter().map(|t| t.units))
        .max()
        .unwrap_or(0) as f64;
    let f = Frame::standard((longest - 1).max(1) as f64, ymax.max(1.0) * 1.05);
    out.push_str(r#"<figure><figcaption>Units per arm over time (cumulative, units in the tests)</figcaption>"#);
    f.open(out, "units per arm over time");
    f.y_axis(out);
    if let Some(a) = p.arms.iter().find(|a| !a.timeline.is_empty()) {
        let n = a.timeline.len();
        for (i, anchor) in [(0, "start"), (n / 2, "middle"), (n - 1, "end")] {
            let t = &a.timeline[i].ts;
            let label = t.get(..16).unwrap_or(t).replace('T', " ");
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" class="tick">{} UTC</text>"#,
                f.x(i as f64),
                f.h - f.bottom + 18.0,
                esc(&label)
            );
        }
    }
    for (i, a) in p.arms.iter().enumerate() {
        if a.timeline.is_empty() {
            continue;
        }
        let pts: Vec<String> = a
            .timeline
            .iter()
            .enumerate()
            .map(|(k, t)| format!("{:.1},{:.1}", f.x(k as f64), f.y(t.units as f64)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="series" data-arm="{}" fill="none" stroke="{}" stroke-width="3" points="{}"/>"#,
            esc(&a.name),
            colour(i),
            pts.join(" ")
        );
    }
    out.push_str("</svg>");
    legend(out, &arm_names(p));
    out.push_str("</figure>");
}

fn arm_names(p: &Phase) -> Vec<(String, &'static str)> {
    p.arms
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.clone(), colour(i)))
        .collect()
}

/// One metric: each arm's mean with its 95% interval.
fn metric_chart(out: &mut String, p: &Phase, mi: usize, m: &MetricInfo) {
    let rows: Vec<(usize, &Arm, &ArmMetric)> = p
        .arms
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.metrics.get(mi).map(|am| (i, a, am)))
        .filter(|(_, _, am)| am.units > 0)
        .collect();
    if rows.is_empty() {
        return;
    }
    let lo = rows
        .iter()
        .map(|r| r.2.ci_low.unwrap_or(r.2.mean))
        .fold(f64::INFINITY, f64::min);
    let hi = rows
        .iter()
        .map(|r| r.2.ci_high.unwrap_or(r.2.mean))
        .fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 1e-3).max(1e-9);
    let row_h = 34.0;
    let f = Frame {
        w: 640.0,
        h: 40.0 + row_h * rows.len() as f64,
        left: 110.0,
        right: 120.0,
        top: 8.0,
        bottom: 28.0,
        x0: lo - pad,
        x1: hi + pad,
        y0: 0.0,
        y1: 1.0,
    };
    let _ = write!(
        out,
        "<figure><figcaption>{}: mean per arm with 95% interval</figcaption>",
        esc(&m.label)
    );
    f.open(out, &format!("{} per arm", m.label));
    for t in ticks(f.x0, f.x1, 5) {
        let x = f.x(t);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="#e5e7eb"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
            f.top,
            f.h - f.bottom,
            f.h - f.bottom + 16.0,
            esc(&match m.kind {
                MetricKind::Conversion => metric_value(m.kind, t),
                _ => tick_label(t),
            })
        );
    }
    for (row, (i, a, am)) in rows.iter().enumerate() {
        let y = f.top + row_h * (row as f64 + 0.5);
        let c = colour(*i);
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="label">{}</text>"#,
            f.left - 8.0,
            y + 4.0,
            esc(&a.name)
        );
        if let (Some(l), Some(h)) = (am.ci_low, am.ci_high) {
            let _ = write!(
                out,
                r#"<line class="ci" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{c}" stroke-width="6" stroke-linecap="round" opacity="0.45"/>"#,
                f.x(l),
                f.x(h)
            );
        }
        let _ = write!(
            out,
            r#"<circle class="mean" data-arm="{}" cx="{:.1}" cy="{y:.1}" r="7" fill="{c}"/><text x="{:.1}" y="{:.1}" class="label">{} (n={})</text>"#,
            esc(&a.name),
            f.x(am.mean),
            f.w - f.right + 8.0,
            y + 4.0,
            esc(&metric_value(m.kind, am.mean)),
            thousands(am.units)
        );
    }
    out.push_str("</svg></figure>");
}

/// Latency p50, p95 and p99 per arm, as grouped bars.
fn latency_chart(out: &mut String, p: &Phase) {
    let arms: Vec<(usize, &Arm, Latency)> = p
        .arms
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.latency_ms.map(|l| (i, a, l)))
        .collect();
    if arms.is_empty() {
        return;
    }
    let ymax = arms.iter().map(|a| a.2.p99).fold(0.0, f64::max).max(1e-3);
    let f = Frame::standard(3.0, ymax * 1.1);
    out.push_str("<figure><figcaption>Router latency per arm (ms): p50, p95, p99</figcaption>");
    f.open(out, "latency percentiles per arm");
    f.y_axis(out);
    let group_w = (f.x(1.0) - f.x(0.0)) * 0.8;
    let bar_w = group_w / arms.len() as f64;
    for (g, name) in ["p50", "p95", "p99"].iter().enumerate() {
        let gx = f.x(g as f64) + (f.x(1.0) - f.x(0.0)) * 0.1;
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{name}</text>"#,
            gx + group_w / 2.0,
            f.h - f.bottom + 18.0
        );
        for (k, (i, a, l)) in arms.iter().enumerate() {
            let v = [l.p50, l.p95, l.p99][g];
            let (y, base) = (f.y(v), f.y(0.0));
            let _ = write!(
                out,
                r#"<rect class="bar" data-arm="{}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {name}: {} ms</title></rect>"#,
                esc(&a.name),
                gx + bar_w * k as f64,
                (bar_w - 3.0).max(1.0),
                (base - y).max(0.0),
                colour(*i),
                esc(&a.name),
                num(v)
            );
        }
    }
    out.push_str("</svg>");
    legend(out, &arm_names(p));
    out.push_str("</figure>");
}

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#111827;background:#fff;margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 4px;border-top:2px solid #e5e7eb;padding-top:16px}
.muted{color:#6b7280}.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600}
.ok{background:#dcfce7;color:#166534}.bad{background:#fee2e2;color:#991b1b}
table{border-collapse:collapse;margin:8px 0 16px}td,th{padding:4px 10px;text-align:right;border-bottom:1px solid #e5e7eb}
td:first-child,th:first-child{text-align:left}th{background:#f9fafb}
ul.verdicts{list-style:none;padding:0}ul.verdicts li{margin:4px 0;padding:6px 10px;border-left:4px solid #9ca3af;background:#f9fafb}
li.better{border-color:#16a34a!important}li.worse{border-color:#dc2626!important}
figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}
.legend span{margin-right:16px}.legend i{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:-1px}
svg .tick{font-size:11px;fill:#4b5563}svg .label{font-size:12px;fill:#111827}
"#;

/// The report as a self-contained HTML page.
pub fn render_html(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    let _ = write!(
        out,
        "<title>canary-router report</title><style>{STYLE}</style></head><body>"
    );
    let i = &report.input;
    let _ = write!(
        out,
        "<h1>A/B report</h1><p class=\"muted\">{} records from {} · {} duplicates dropped · {} lines skipped ({} not records, {} corrupt) · {}{}</p>",
        thousands(i.unique_records),
        esc(&i.files.join(", ")),
        thousands(i.duplicates),
        thousands(i.skipped),
        thousands(i.not_records),
        thousands(i.corrupt),
        esc(&report.generator),
        if report.options.sequential {
            format!(
                " · sequential mode (always-valid intervals, N* = {})",
                report.options.n_star
            )
        } else {
            String::new()
        }
    );
    if report.experiments.is_empty() {
        out.push_str("<p>No decision or outcome records found.</p>");
    }
    for e in &report.experiments {
        for p in &e.phases {
            phase(&mut out, &e.name, p);
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn phase(out: &mut String, experiment: &str, p: &Phase) {
    let _ = write!(
        out,
        "<section class=\"phase\"><h2>{} · config version {}</h2><p class=\"muted\">{} to {} · {} decisions · {} outcomes · control: {}</p>",
        esc(experiment),
        esc(&p.config_version),
        esc(p.first_ts.as_deref().unwrap_or("?")),
        esc(p.last_ts.as_deref().unwrap_or("?")),
        thousands(p.decisions),
        thousands(p.outcomes),
        esc(p.control.as_deref().unwrap_or("-"))
    );
    let _ = write!(
        out,
        "<p>Sample ratio: <span class=\"badge {}\">{}</span></p>",
        if p.srm.flagged { "bad" } else { "ok" },
        esc(&p.srm.summary)
    );
    if !p.comparisons.is_empty() {
        out.push_str("<ul class=\"verdicts\">");
        for c in &p.comparisons {
            let class = match c.direction {
                Direction::Better => "better",
                Direction::Worse => "worse",
                _ => "neutral",
            };
            let ctw = c
                .chance_to_win
                .map(|w| {
                    format!(
                        " <span class=\"muted\">· chance to beat control {:.1}%</span>",
                        w * 100.0
                    )
                })
                .unwrap_or_default();
            let _ = write!(out, "<li class=\"{class}\">{}{ctw}</li>", esc(&c.verdict));
        }
        out.push_str("</ul>");
    }
    // Arms.
    out.push_str("<table><tr><th>arm</th><th>weight</th><th>units</th><th>in tests</th><th>requests</th><th>5xx</th><th>fallback</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>");
    for (i, a) in p.arms.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td><span style=\"color:{}\">■</span> {}{}</td>",
            colour(i),
            esc(&a.name),
            control_suffix(a)
        );
        for cell in arm_cells(a) {
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    let targets: Vec<Vec<String>> = target_rows(&p.arms).into_iter().map(Vec::from).collect();
    rows_table(out, "Targets", &TARGET_HEADS, &targets);
    let streams: Vec<Vec<String>> = p
        .arms
        .iter()
        .filter_map(|a| stream_cells(a).map(|cells| row(&a.name, cells)))
        .collect();
    let heads: Vec<&str> = std::iter::once("arm").chain(STREAM_HEADS).collect();
    rows_table(out, "Streams", &heads, &streams);
    let shadows: Vec<Vec<String>> = p
        .shadows
        .iter()
        .map(|s| row(&s.shadow, shadow_cells(s)))
        .collect();
    let heads: Vec<&str> = std::iter::once("shadow").chain(SHADOW_HEADS).collect();
    rows_table(out, "Shadows", &heads, &shadows);
    // Comparisons.
    if !p.comparisons.is_empty() {
        out.push_str("<table><tr><th>metric</th><th>arm</th><th>control mean</th><th>arm mean</th><th>difference (95% CI)</th><th>lift (95% CI)</th><th>p</th><th>chance to win</th></tr>");
        for c in &p.comparisons {
            let label = p
                .metrics
                .iter()
                .find(|m| m.id == c.metric)
                .map_or(c.metric.as_str(), |m| m.label.as_str());
            let kind = p
                .metrics
                .iter()
                .find(|m| m.id == c.metric)
                .map_or(MetricKind::Value, |m| m.kind);
            let abs = c.absolute.map_or("-".to_owned(), |e| {
                format!(
                    "{} ({} to {})",
                    signed_num(e.estimate),
                    signed_num(e.ci_low),
                    signed_num(e.ci_high)
                )
            });
            let rel = c.relative.map_or("-".to_owned(), |e| {
                format!(
                    "{:+.1}% ({:+.1}% to {:+.1}%)",
                    e.estimate * 100.0,
                    e.ci_low * 100.0,
                    e.ci_high * 100.0
                )
            });
            let pv = c.relative.or(c.absolute).map_or("-".to_owned(), |e| {
                let p = e.p_value_holm.unwrap_or(e.p_value);
                let adj = if e.p_value_holm.is_some() {
                    " (Holm)"
                } else {
                    ""
                };
                if p < 0.001 {
                    format!("&lt;0.001{adj}")
                } else {
                    format!("{p:.3}{adj}")
                }
            });
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{pv}</td><td>{}</td></tr>",
                esc(label),
                esc(&c.arm),
                metric_value(kind, c.control_mean),
                metric_value(kind, c.arm_mean),
                abs,
                rel,
                c.chance_to_win
                    .map_or("-".to_owned(), |w| format!("{:.1}%", w * 100.0))
            );
        }
        out.push_str("</table>");
    }
    units_chart(out, p);
    for (mi, m) in p.metrics.iter().enumerate() {
        metric_chart(out, p, mi, m);
    }
    latency_chart(out, p);
    if !p.data_quality.notes.is_empty() {
        out.push_str("<h3>Data quality</h3><ul>");
        for n in &p.data_quality.notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(
            ticks(0.0, 100.0, 5),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        let t = ticks(0.71, 0.86, 5);
        assert!(t.len() >= 3 && t.len() <= 8, "{t:?}");
        assert!(!ticks(5.0, 5.0, 5).is_empty());
    }
}

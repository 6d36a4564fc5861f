//! `--format table`: aligned text for a terminal, with one plain verdict line per comparison.

use std::fmt::Write;

use super::format::{
    SHADOW_HEADS, STREAM_HEADS, TARGET_HEADS, arm_cells, control_suffix, metric_value,
    shadow_cells, signed_num, stream_cells, target_rows, thousands,
};
use crate::report::model::*;

/// Column alignment.
#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// Renders rows as aligned columns, two spaces apart, each line indented.
fn columns(out: &mut String, indent: &str, aligns: &[Align], rows: &[Vec<String>]) {
    let mut widths = vec![0usize; aligns.len()];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                line.push_str("  ");
            }
            match aligns[i] {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".to_owned()
    } else {
        format!("{p:.3}")
    }
}

/// The report as text.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let i = &report.input;
    let _ = writeln!(
        out,
        "canary-router report: {} records from {} ({} duplicates dropped; {} lines skipped: {} not records, {} corrupt)",
        thousands(i.unique_records),
        match i.files.len() {
            1 => i.files[0].clone(),
            n => format!("{n} inputs"),
        },
        thousands(i.duplicates),
        thousands(i.skipped),
        thousands(i.not_records),
        thousands(i.corrupt),
    );
    if report.options.sequential {
        let _ = writeln!(
            out,
            "Sequential mode: always-valid confidence sequences (N* = {}); safe to look repeatedly.",
            report.options.n_star
        );
    }
    if report.experiments.is_empty() {
        out.push_str("\nNo decision or outcome records found.\n");
    }
    for exp in &report.experiments {
        for phase in &exp.phases {
            render_phase(&mut out, &exp.name, phase);
        }
    }
    out
}

fn render_phase(out: &mut String, experiment: &str, p: &Phase) {
    let _ = writeln!(
        out,
        "\n== Experiment {experiment} · config version {} ==",
        p.config_version
    );
    let _ = writeln!(
        out,
        "   {} to {} · {} decisions · {} outcomes · control: {}",
        p.first_ts.as_deref().unwrap_or("?"),
        p.last_ts.as_deref().unwrap_or("?"),
        thousands(p.decisions),
        thousands(p.outcomes),
        p.control.as_deref().unwrap_or("-"),
    );
    let _ = writeln!(out, "   Sample ratio: {}", p.srm.summary);
    out.push('\n');

    let mut rows = vec![
        [
            "arm", "weight", "units", "in tests", "requests", "5xx", "fallback", "p50 ms",
            "p95 ms", "p99 ms",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for a in &p.arms {
        let mut row = vec![format!("{}{}", a.name, control_suffix(a))];
        row.extend(arm_cells(a));
        rows.push(row);
    }
    use Align::*;
    columns(
        out,
        "   ",
        &[
            Left, Right, Right, Right, Right, Right, Right, Right, Right, Right,
        ],
        &rows,
    );

    if !p.metrics.is_empty() {
        out.push('\n');
        let holm = p.comparisons.iter().any(|c| c.holm_family > 1);
        let seq = p.comparisons.iter().any(|c| c.method == "sequential");
        let p_head = match (holm, seq) {
            (true, _) => "p (Holm)",
            (false, true) => "p (seq.)",
            _ => "p",
        };
        let mut rows = vec![
            [
                "metric",
                "arm",
                "units",
                "mean",
                "95% CI of mean",
                "difference",
                "lift",
                if seq {
                    "always-valid 95% CI"
                } else {
                    "95% CI of lift"
                },
                p_head,
                "P(win)",
            ]
            .map(str::to_owned)
            .to_vec(),
        ];
        for (mi, m) in p.metrics.iter().enumerate() {
            for (ai, a) in p.arms.iter().enumerate() {
                let Some(am) = a.metrics.get(mi) else {
                    continue;
                };
                let cmp = p
                    .comparisons
                    .iter()
                    .find(|c| c.metric == m.id && c.arm == a.name);
                let ci = match (am.ci_low, am.ci_high) {
                    (Some(l), Some(h)) => {
                        format!("{} to {}", metric_value(m.kind, l), metric_value(m.kind, h))
                    }
                    _ => "-".to_owned(),
                };
                let dash = || "-".to_owned();
                let (diff, lift, lift_ci, pv, ctw) = match cmp {
                    Some(c) => (
                        c.absolute.map_or_else(dash, |e| signed_num(e.estimate)),
                        c.relative
                            .map_or_else(dash, |e| format!("{:+.1}%", e.estimate * 100.0)),
                        c.relative.map_or_else(dash, |e| {
                            format!("{:+.1}% to {:+.1}%", e.ci_low * 100.0, e.ci_high * 100.0)
                        }),
                        c.relative
                            .or(c.absolute)
                            .map_or_else(dash, |e| p_text(e.p_value_holm.unwrap_or(e.p_value))),
                        c.chance_to_win
                            .map_or_else(dash, |w| format!("{:.1}%", w * 100.0)),
                    ),
                    None => (
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ),
                };
                rows.push(vec![
                    if ai == 0 {
                        m.label.clone()
                    } else {
                        String::new()
                    },
                    a.name.clone(),
                    thousands(am.units),
                    metric_value(m.kind, am.mean),
                    ci,
                    diff,
                    lift,
                    lift_ci,
                    pv,
                    ctw,
                ]);
            }
        }
        columns(
            out,
            "   ",
            &[
                Left, Left, Right, Right, Right, Right, Right, Right, Right, Right,
            ],
            &rows,
        );
        if holm {
            out.push_str("   p-values Holm-adjusted across treatment arms per metric; intervals unadjusted.\n");
        }
    }

    if !p.comparisons.is_empty() {
        out.push_str("\n   Verdicts\n");
        for c in &p.comparisons {
            let mark = match c.direction {
                Direction::Better => "+",
                Direction::Worse => "!",
                _ => "=",
            };
            let _ = writeln!(out, "   {mark} {}", c.verdict);
        }
    }
    let targets = target_rows(&p.arms);
    if !targets.is_empty() {
        out.push_str(
            "\n   Targets (where each arm's own calls went; fallback answers not counted)\n",
        );
        let mut rows = vec![TARGET_HEADS.map(str::to_owned).to_vec()];
        rows.extend(targets.into_iter().map(|r| r.to_vec()));
        columns(
            out,
            "   ",
            &[Align::Left, Align::Left, Align::Left, Align::Right],
            &rows,
        );
    }
    let streams: Vec<Vec<String>> = p
        .arms
        .iter()
        .filter_map(|a| stream_cells(a).map(|c| std::iter::once(a.name.clone()).chain(c).collect()))
        .collect();
    if !streams.is_empty() {
        out.push_str(
            "\n   Streams (time to first byte, tokens per second from first byte to end)\n",
        );
        let mut rows = vec![
            std::iter::once("arm")
                .chain(STREAM_HEADS)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ];
        rows.extend(streams);
        let mut aligns = vec![Align::Left];
        aligns.extend([Align::Right; 6]);
        columns(out, "   ", &aligns, &rows);
    }
    if !p.shadows.is_empty() {
        out.push_str("\n   Shadows (raw answers compared with the arm's on the same requests)\n");
        let mut rows = vec![
            std::iter::once("shadow")
                .chain(SHADOW_HEADS)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ];
        for s in &p.shadows {
            let mut row = vec![s.shadow.clone()];
            row.extend(shadow_cells(s));
            rows.push(row);
        }
        let mut aligns = vec![Align::Left, Align::Left];
        aligns.extend([Align::Right; 9]);
        columns(out, "   ", &aligns, &rows);
    }
    let dq = &p.data_quality;
    if !dq.notes.is_empty() || p.srm.flagged {
        out.push_str("\n   Data quality\n");
        if p.srm.flagged {
            let _ = writeln!(
                out,
                "   - SAMPLE RATIO MISMATCH ({}): assignment or logging is broken; do not trust the comparisons",
                p.srm.reasons.join(", ")
            );
        }
        for n in &dq.notes {
            let _ = writeln!(out, "   - {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut out = String::new();
        columns(
            &mut out,
            "",
            &[Align::Left, Align::Right],
            &[
                vec!["a".into(), "1".into()],
                vec!["long".into(), "100".into()],
            ],
        );
        assert_eq!(out, "a       1\nlong  100\n");
    }
}

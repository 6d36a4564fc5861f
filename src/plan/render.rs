//! The plan for people (a table per step) and for scripts (`{"steps": [...]}`).

use std::fmt::Write;

use serde_json::json;

use super::matrix::StepPlan;

/// `{"steps": [...]}`, one line per document.
pub(crate) fn json(steps: &[StepPlan]) -> String {
    let mut text = serde_json::to_string_pretty(&json!({ "steps": steps })).unwrap_or_default();
    text.push('\n');
    text
}

/// A block per step: the versions, what moves where, and the totals.
pub(crate) fn table(steps: &[StepPlan], schedule: bool) -> String {
    let mut out = String::new();
    if steps.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if schedule {
                "no schedule: nothing moves until another config is deployed"
            } else {
                "nothing to compare"
            }
        );
        return out;
    }
    for step in steps {
        let when = match (&step.at, step.takes_effect_on_arrival) {
            (Some(at), true) => format!(" at {at} (already past: on arrival)"),
            (Some(at), false) => format!(" at {at}"),
            (None, _) => String::new(),
        };
        let _ = writeln!(out, "{} -> {}{when}", step.from_version, step.to_version);
        for r in &step.retargeted {
            let _ = writeln!(
                out,
                "  arm {} now calls {} (was {}): its users stay, their model changes",
                r.arm, r.to, r.from
            );
        }
        if step.salt_changed {
            let _ = writeln!(
                out,
                "  the salt changes: every user is reshuffled; expected {:.2}% change arm",
                step.moved_share * 100.0
            );
        } else if step.moves.is_empty() {
            let _ = writeln!(out, "  no user changes arm");
        } else {
            let width = step
                .moves
                .iter()
                .map(|m| m.from.len().max(4))
                .max()
                .unwrap_or(4);
            let _ = writeln!(
                out,
                "  {:<width$}  {:<12}  {:>8}  {:>7}",
                "from", "to", "buckets", "users"
            );
            for m in &step.moves {
                let _ = writeln!(
                    out,
                    "  {:<width$}  {:<12}  {:>8}  {:>6.2}%",
                    m.from,
                    m.to,
                    m.buckets,
                    f64::from(m.buckets) / 100.0
                );
            }
        }
        let _ = writeln!(
            out,
            "  moved {:.2}% of users ({} buckets); {} buckets leave a non-control arm; {} override changes",
            step.moved_share * 100.0,
            step.moved_buckets,
            step.leaves_canary,
            step.override_changes
        );
    }
    out
}

//! What the demo's synthetic users saw, summarised per phase and arm, with the stickiness checks.
//! Pure functions over observations: tested without a network.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::time::Duration;

use crate::quantile::quantile;

/// How a synthetic user identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum IdKind {
    /// Sends `X-User-Id`.
    Header,
    /// Sends nothing but the cookie the router minted for it.
    Cookie,
}

impl IdKind {
    fn label(self) -> &'static str {
        match self {
            IdKind::Header => "X-User-Id",
            IdKind::Cookie => "cookie",
        }
    }
}

/// One prediction as a user saw it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observation {
    pub phase: usize,
    pub user: usize,
    pub kind: IdKind,
    /// `X-Canary-Arm`, when the router assigned one.
    pub arm: Option<String>,
    pub status: u16,
    pub latency: Duration,
    /// Whether the predicted label was the true one (None when there was no prediction).
    pub correct: Option<bool>,
}

/// One phase of the demo: a config version and the canary's weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Phase {
    pub version: String,
    pub title: String,
    pub canary_weight: u32,
}

/// Per phase and arm figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ArmRow {
    pub users: usize,
    pub requests: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub correct: usize,
    pub answered: usize,
}

impl ArmRow {
    /// Share of answered predictions that were right.
    pub fn accuracy(&self) -> f64 {
        if self.answered == 0 {
            0.0
        } else {
            self.correct as f64 / self.answered as f64
        }
    }
}

/// The stickiness checks; each count must be 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Checks {
    /// (phase, id kind) → users who saw two arms within the phase.
    pub two_arms: BTreeMap<(usize, IdKind), usize>,
    /// (from phase, to phase, id kind) → canary users that a ramp moved out of the canary.
    pub moved_out: BTreeMap<(usize, usize, IdKind), usize>,
    /// Users who were sent to the wrong arm by a 0% or 100% phase.
    pub outside_split: usize,
}

impl Checks {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.two_arms.values().all(|n| *n == 0)
            && self.moved_out.values().all(|n| *n == 0)
            && self.outside_split == 0
    }
}

/// The whole summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Summary {
    /// (phase, arm) → row.
    pub rows: BTreeMap<(usize, String), ArmRow>,
    pub checks: Checks,
}

/// Summarises observations against the phases.
pub(crate) fn summarise(phases: &[Phase], obs: &[Observation]) -> Summary {
    let mut rows: BTreeMap<(usize, String), ArmRow> = BTreeMap::new();
    let mut latencies: HashMap<(usize, String), Vec<f64>> = HashMap::new();
    let mut users: HashMap<(usize, String), BTreeSet<usize>> = HashMap::new();
    let mut arms_of: HashMap<(usize, usize), (IdKind, BTreeSet<String>)> = HashMap::new();
    for o in obs {
        let arm = o.arm.clone().unwrap_or_else(|| "(none)".to_owned());
        let key = (o.phase, arm.clone());
        let row = rows.entry(key.clone()).or_default();
        row.requests += 1;
        if o.status >= 400 {
            row.errors += 1;
        }
        if let Some(c) = o.correct {
            row.answered += 1;
            row.correct += usize::from(c);
        }
        latencies
            .entry(key.clone())
            .or_default()
            .push(o.latency.as_secs_f64() * 1000.0);
        users.entry(key).or_default().insert(o.user);
        if let Some(a) = &o.arm {
            arms_of
                .entry((o.phase, o.user))
                .or_insert_with(|| (o.kind, BTreeSet::new()))
                .1
                .insert(a.clone());
        }
    }
    for (key, row) in rows.iter_mut() {
        row.users = users.get(key).map_or(0, BTreeSet::len);
        if let Some(l) = latencies.get_mut(key) {
            l.sort_by(f64::total_cmp);
            row.p50_ms = quantile(l, 0.5);
            row.p99_ms = quantile(l, 0.99);
        }
    }
    let mut checks = Checks::default();
    for (phase, _) in phases.iter().enumerate() {
        for kind in [IdKind::Header, IdKind::Cookie] {
            checks.two_arms.insert((phase, kind), 0);
        }
    }
    for ((phase, _), (kind, arms)) in &arms_of {
        if arms.len() > 1 {
            *checks.two_arms.entry((*phase, *kind)).or_default() += 1;
        }
        let weight = phases.get(*phase).map_or(0, |p| p.canary_weight);
        let on_canary = arms.contains("canary");
        if (weight == 0 && on_canary) || (weight == 10_000 && arms.contains("control")) {
            checks.outside_split += 1;
        }
    }
    for (i, pair) in phases.windows(2).enumerate() {
        if pair[1].canary_weight < pair[0].canary_weight {
            continue;
        }
        for kind in [IdKind::Header, IdKind::Cookie] {
            let mut moved = 0;
            for ((phase, user), (k, arms)) in &arms_of {
                if *phase != i || *k != kind || !arms.contains("canary") {
                    continue;
                }
                if let Some((_, next)) = arms_of.get(&(i + 1, *user))
                    && next.iter().any(|a| a != "canary")
                {
                    moved += 1;
                }
            }
            checks.moved_out.insert((i, i + 1, kind), moved);
        }
    }
    Summary { rows, checks }
}

/// Users of the bypass run who saw both variants of the endpoint's own random split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bypass {
    pub users: usize,
    pub requests: usize,
    pub users_with_both: usize,
    /// Variant → requests.
    pub per_variant: BTreeMap<String, usize>,
}

/// Summarises the bypass run: (user, variant) per request.
pub(crate) fn summarise_bypass(calls: &[(usize, String)]) -> Bypass {
    let mut seen: HashMap<usize, BTreeSet<&str>> = HashMap::new();
    let mut per_variant = BTreeMap::new();
    for (user, variant) in calls {
        seen.entry(*user).or_default().insert(variant);
        *per_variant.entry(variant.clone()).or_insert(0) += 1;
    }
    Bypass {
        users: seen.len(),
        requests: calls.len(),
        users_with_both: seen.values().filter(|v| v.len() > 1).count(),
        per_variant,
    }
}

/// The human-readable tables.
pub(crate) fn render(
    phases: &[Phase],
    s: &Summary,
    bypass: &Bypass,
    router_users: usize,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<28} {:<8} {:>6} {:>8} {:>6} {:>8} {:>8} {:>9}",
        "phase", "", "arm", "users", "requests", "errors", "p50 ms", "p99 ms", "accuracy"
    );
    for (i, phase) in phases.iter().enumerate() {
        for ((p, arm), row) in s.rows.range((i, String::new())..(i + 1, String::new())) {
            debug_assert_eq!(*p, i);
            let _ = writeln!(
                out,
                "{:<8} {:<28} {:<8} {:>6} {:>8} {:>6} {:>8.2} {:>8.2} {:>8.1}%",
                phase.version,
                phase.title,
                arm,
                row.users,
                row.requests,
                row.errors,
                row.p50_ms,
                row.p99_ms,
                row.accuracy() * 100.0
            );
        }
    }
    let _ = writeln!(out, "\nstickiness checks (each must be 0):");
    for ((phase, kind), n) in &s.checks.two_arms {
        let version = phases.get(*phase).map_or("?", |p| p.version.as_str());
        let _ = writeln!(
            out,
            "  {version}: {:<9} users who saw two arms: {n}",
            kind.label()
        );
    }
    for ((from, to, kind), n) in &s.checks.moved_out {
        let v = |i: &usize| phases.get(*i).map_or("?", |p| p.version.as_str());
        let _ = writeln!(
            out,
            "  ramp {} -> {}: {:<9} canary users moved out: {n}",
            v(from),
            v(to),
            kind.label()
        );
    }
    let _ = writeln!(
        out,
        "  users on the wrong arm in a 0%/100% phase: {}",
        s.checks.outside_split
    );
    let _ = writeln!(
        out,
        "\nside by side, the same {} users ({} requests) bypassing the router, on one endpoint with \
         SageMaker's own random 90/10 variant split:",
        bypass.users, bypass.requests
    );
    let per_variant: Vec<String> = bypass
        .per_variant
        .iter()
        .map(|(v, n)| format!("{v}: {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  users who saw both models: {} of {} (router: 0 of {router_users} within each phase); requests per variant: {}",
        bypass.users_with_both,
        bypass.users,
        per_variant.join(", ")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phases() -> Vec<Phase> {
        [
            ("demo.1", 1000),
            ("demo.2", 5000),
            ("demo.3", 10000),
            ("demo.4", 0),
        ]
        .iter()
        .map(|(v, w)| Phase {
            version: (*v).to_owned(),
            title: String::new(),
            canary_weight: *w,
        })
        .collect()
    }

    fn obs(phase: usize, user: usize, arm: &str, correct: bool) -> Observation {
        Observation {
            phase,
            user,
            kind: if user.is_multiple_of(2) {
                IdKind::Header
            } else {
                IdKind::Cookie
            },
            arm: Some(arm.to_owned()),
            status: 200,
            latency: Duration::from_millis(2),
            correct: Some(correct),
        }
    }

    #[test]
    fn a_clean_run_passes() {
        let o = vec![
            obs(0, 0, "control", true),
            obs(0, 0, "control", false),
            obs(0, 1, "canary", true),
            obs(1, 1, "canary", true),
            obs(1, 0, "canary", true),
            obs(2, 0, "canary", true),
            obs(3, 1, "control", true),
        ];
        let s = summarise(&phases(), &o);
        assert!(s.checks.passed(), "{:?}", s.checks);
        let row = &s.rows[&(0, "control".to_owned())];
        assert_eq!(
            (row.users, row.requests, row.correct, row.answered),
            (1, 2, 1, 2)
        );
        assert!((row.accuracy() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn two_arms_a_ramp_move_and_a_wrong_full_switch_are_caught() {
        let o = vec![obs(0, 1, "canary", true), obs(0, 1, "control", true)];
        let s = summarise(&phases(), &o);
        assert_eq!(s.checks.two_arms[&(0, IdKind::Cookie)], 1);
        assert!(!s.checks.passed());
        let o = vec![obs(0, 2, "canary", true), obs(1, 2, "control", true)];
        let s = summarise(&phases(), &o);
        assert_eq!(s.checks.moved_out[&(0, 1, IdKind::Header)], 1);
        assert!(!s.checks.passed());
        let s = summarise(&phases(), &[obs(2, 4, "control", true)]);
        assert_eq!(s.checks.outside_split, 1);
        // Moving back to control in demo.4 is the point of that phase, not a ramp violation.
        let s = summarise(
            &phases(),
            &[obs(2, 4, "canary", true), obs(3, 4, "control", true)],
        );
        assert!(s.checks.passed(), "{:?}", s.checks);
    }

    #[test]
    fn bypass_counts_users_with_both_variants() {
        let calls = vec![
            (1, "VariantA".to_owned()),
            (1, "VariantB".to_owned()),
            (2, "VariantA".to_owned()),
            (2, "VariantA".to_owned()),
        ];
        let b = summarise_bypass(&calls);
        assert_eq!((b.users, b.requests, b.users_with_both), (2, 4, 1));
        assert_eq!(b.per_variant["VariantA"], 3);
        let text = render(&phases(), &summarise(&phases(), &[]), &b, 2);
        assert!(text.contains("users who saw both models: 1 of 2"), "{text}");
    }
}

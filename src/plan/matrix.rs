//! Which buckets a config change moves, as plain data: the exact move matrix over all 10,000
//! buckets between two phases, buckets that leave a non-control arm, salt changes (then every
//! user is reshuffled, and only an expected share can be given) and override changes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde::Serialize;

use crate::assign::BUCKETS;
use crate::config::{Config, Phase};

/// Buckets that go from one arm to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// The arm they leave (by name).
    pub from: String,
    /// The arm they join.
    pub to: String,
    /// How many of the 10,000 buckets.
    pub buckets: u32,
}

/// What one change (a new config, or one schedule step) does to users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepPlan {
    /// The version in force before.
    pub from_version: String,
    /// The version in force after.
    pub to_version: String,
    /// When the change takes effect (a schedule step's `at`); `None` for a new config.
    pub at: Option<String>,
    /// Every (from, to) pair of arms with the buckets it moves; empty when the salt changes.
    pub moves: Vec<Move>,
    /// Buckets whose arm changes (the expected number when the salt changes).
    pub moved_buckets: u32,
    /// Share of users who change arm.
    pub moved_share: f64,
    /// Buckets that leave a non-control arm for another arm.
    pub leaves_canary: u32,
    /// The salt changed: every user is reshuffled, independently of their old bucket.
    pub salt_changed: bool,
    /// Listed users and countries whose arm changes.
    pub override_changes: u32,
    /// The step's `at` is already past: it takes effect as soon as the config arrives.
    pub takes_effect_on_arrival: bool,
    /// Arms in both configs that now call another endpoint or target: their users stay on the
    /// arm (nothing moves) but get another model.
    pub retargeted: Vec<Retarget>,
}

/// An arm whose endpoint or target changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retarget {
    /// The arm.
    pub arm: String,
    /// What it called: `endpoint`, or `endpoint (key name)` with its target.
    pub from: String,
    /// What it calls now.
    pub to: String,
}

/// An arm's endpoint and target as one string, for people.
fn called(arm: &crate::config::Arm) -> String {
    match arm.target() {
        None => arm.endpoint().to_owned(),
        Some(t) => format!("{} ({} {})", arm.endpoint(), t.key(), t.name()),
    }
}

/// Arms by name in both configs whose endpoint or target differs.
fn retargeted(old: &Config, new: &Config) -> Vec<Retarget> {
    new.arms()
        .iter()
        .filter_map(|n| {
            let o = old.arms().iter().find(|o| o.name() == n.name())?;
            let (from, to) = (called(o), called(n));
            (from != to).then(|| Retarget {
                arm: n.name().to_owned(),
                from,
                to,
            })
        })
        .collect()
}

/// The plan from `old` (in the phase `old_phase`) to `new` (in `new_phase`).
pub fn between(
    old: &Config,
    old_phase: &Phase,
    new: &Config,
    new_phase: &Phase,
    now: SystemTime,
) -> StepPlan {
    let control = old.arms().first().map(|a| a.name()).unwrap_or("");
    let name = |cfg: &Config, i: usize| cfg.arm(i).map_or("", |a| a.name()).to_owned();
    let salt_changed = old.salt() != new.salt();
    let mut counts: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut leaves_canary = 0u32;
    for bucket in 0..BUCKETS {
        let from = name(old, old_phase.split().arm_for(bucket));
        let to = name(new, new_phase.split().arm_for(bucket));
        if from != to {
            if from != control {
                leaves_canary += 1;
            }
            *counts.entry((from, to)).or_default() += 1;
        }
    }
    let exact: u32 = counts.values().sum();
    let (moves, moved_buckets, moved_share, leaves_canary) = if salt_changed {
        let share = reshuffled_share(old, old_phase, new, new_phase);
        // Each user lands in a fresh bucket: the expected number of buckets' worth of users.
        let expected = (share * f64::from(BUCKETS)).round() as u32;
        let leaving = expected_leaving(old, old_phase, new, new_phase, control);
        (Vec::new(), expected, share, leaving)
    } else {
        let moves = counts
            .into_iter()
            .map(|((from, to), buckets)| Move { from, to, buckets })
            .collect();
        (
            moves,
            exact,
            f64::from(exact) / f64::from(BUCKETS),
            leaves_canary,
        )
    };
    let at = new_phase.at_text().map(str::to_owned);
    StepPlan {
        from_version: old_phase.version().to_owned(),
        to_version: new_phase.version().to_owned(),
        takes_effect_on_arrival: new_phase.at().is_some_and(|t| t <= now),
        at,
        moves,
        moved_buckets,
        moved_share,
        leaves_canary,
        salt_changed,
        override_changes: override_changes(old, new),
        retargeted: retargeted(old, new),
    }
}

/// The plan of each step of `cfg`'s schedule, from the phase before it.
pub fn schedule(cfg: &Config, now: SystemTime) -> Vec<StepPlan> {
    cfg.phases()
        .windows(2)
        .map(|w| between(cfg, &w[0], cfg, &w[1], now))
        .collect()
}

/// With a new salt a user's old and new buckets are independent: they keep their arm with
/// probability Σ over arms (by name) of w_old · w_new / 10000².
fn reshuffled_share(old: &Config, old_phase: &Phase, new: &Config, new_phase: &Phase) -> f64 {
    let total = f64::from(BUCKETS) * f64::from(BUCKETS);
    let stays: f64 = old
        .arms()
        .iter()
        .zip(old_phase.weights())
        .map(|(arm, w_old)| {
            let w_new = weight_of(new, new_phase, arm.name());
            f64::from(*w_old) * f64::from(w_new)
        })
        .sum();
    1.0 - stays / total
}

/// Expected buckets' worth of users that leave a non-control arm when the salt changes.
fn expected_leaving(
    old: &Config,
    old_phase: &Phase,
    new: &Config,
    new_phase: &Phase,
    control: &str,
) -> u32 {
    let total = f64::from(BUCKETS);
    let leaving: f64 = old
        .arms()
        .iter()
        .zip(old_phase.weights())
        .filter(|(arm, _)| arm.name() != control)
        .map(|(arm, w_old)| {
            let stay = f64::from(weight_of(new, new_phase, arm.name())) / total;
            f64::from(*w_old) * (1.0 - stay)
        })
        .sum();
    leaving.round() as u32
}

fn weight_of(cfg: &Config, phase: &Phase, arm: &str) -> u32 {
    cfg.arm_index(arm)
        .and_then(|i| phase.weights().get(i).copied())
        .unwrap_or(0)
}

/// Listed users and countries whose arm (by name) differs between the two configs; being
/// listed in one and not the other counts as a change.
fn override_changes(old: &Config, new: &Config) -> u32 {
    let arm = |cfg: &Config, i: usize| cfg.arm(i).map(|a| a.name().to_owned());
    let users: BTreeSet<&str> = old
        .overrides()
        .users()
        .chain(new.overrides().users())
        .map(|(u, _)| u)
        .collect();
    let changed_users = users
        .into_iter()
        .filter(|u| {
            old.overrides().user_arm(u).and_then(|i| arm(old, i))
                != new.overrides().user_arm(u).and_then(|i| arm(new, i))
        })
        .count();
    let countries: BTreeSet<String> = old
        .overrides()
        .country()
        .into_iter()
        .flat_map(|c| c.arms().map(|(code, _)| code.to_owned()))
        .chain(
            new.overrides()
                .country()
                .into_iter()
                .flat_map(|c| c.arms().map(|(code, _)| code.to_owned())),
        )
        .collect();
    let country_arm = |cfg: &Config, code: &str| {
        cfg.overrides()
            .country()
            .and_then(|c| c.arm_for(code))
            .and_then(|i| arm(cfg, i))
    };
    let changed_countries = countries
        .iter()
        .filter(|code| country_arm(old, code) != country_arm(new, code))
        .count();
    u32::try_from(changed_users + changed_countries).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::assign::{OverrideHits, assign};

    fn cfg(version: &str, salt: &str, weights: &[(&str, u32)], extra: Value) -> Config {
        let arms: Vec<Value> = weights
            .iter()
            .map(|(n, w)| json!({"name": n, "endpoint": format!("ep-{n}"), "weight": w}))
            .collect();
        let mut v = json!({"experiment": "e", "version": version, "salt": salt, "arms": arms});
        if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
            o.extend(e);
        }
        Config::parse(&v.to_string()).unwrap()
    }

    fn plan(old: &Config, new: &Config) -> StepPlan {
        between(
            old,
            &old.phases()[0],
            new,
            &new.phases()[0],
            SystemTime::now(),
        )
    }

    #[test]
    fn a_ramp_moves_only_control_buckets_to_the_canary() {
        let old = cfg("v1", "s", &[("control", 9000), ("canary", 1000)], json!({}));
        let new = cfg("v2", "s", &[("control", 7500), ("canary", 2500)], json!({}));
        let p = plan(&old, &new);
        assert_eq!(
            p.moves,
            vec![Move {
                from: "control".into(),
                to: "canary".into(),
                buckets: 1500
            }]
        );
        assert_eq!((p.moved_buckets, p.leaves_canary), (1500, 0));
        assert!((p.moved_share - 0.15).abs() < 1e-12);
        let back = plan(&new, &old);
        assert_eq!(
            back.leaves_canary, 1500,
            "a rollback takes users off the canary"
        );
    }

    #[test]
    fn an_arm_that_calls_another_model_is_named_though_nobody_moves() {
        let old = cfg("v1", "s", &[("control", 9000), ("canary", 1000)], json!({}));
        let new = Config::parse(
            &json!({"experiment": "e", "version": "v2", "salt": "s", "arms": [
                {"name": "control", "endpoint": "ep-control", "weight": 9000},
                {"name": "canary", "endpoint": "ep-canary", "weight": 1000,
                 "inference_component": "llm-v2"}]})
            .to_string(),
        )
        .unwrap();
        let p = plan(&old, &new);
        assert_eq!(p.moved_buckets, 0);
        assert_eq!(
            p.retargeted,
            vec![Retarget {
                arm: "canary".into(),
                from: "ep-canary".into(),
                to: "ep-canary (inference_component llm-v2)".into(),
            }]
        );
        assert!(plan(&old, &old).retargeted.is_empty());
    }

    #[test]
    fn a_new_salt_reshuffles_everyone_and_says_so() {
        let old = cfg(
            "v1",
            "s1",
            &[("control", 5000), ("canary", 5000)],
            json!({}),
        );
        let new = cfg(
            "v2",
            "s2",
            &[("control", 5000), ("canary", 5000)],
            json!({}),
        );
        let p = plan(&old, &new);
        assert!(p.salt_changed && p.moves.is_empty());
        assert!((p.moved_share - 0.5).abs() < 1e-12);
        assert_eq!(p.moved_buckets, 5000);
        assert_eq!(p.leaves_canary, 2500);
    }

    #[test]
    fn override_changes_count_users_and_countries() {
        let old = cfg(
            "v1",
            "s",
            &[("control", 9000), ("canary", 1000)],
            json!({"overrides": {"users": {"canary": ["a", "b"]},
                   "country": {"header": "X-C", "arms": {"FR": "canary", "DE": "control"}}}}),
        );
        let new = cfg(
            "v2",
            "s",
            &[("control", 9000), ("canary", 1000)],
            json!({"overrides": {"users": {"canary": ["a"], "control": ["c"]},
                   "country": {"header": "X-C", "arms": {"FR": "control", "DE": "control"}}}}),
        );
        // b leaves the list, c joins it, FR changes arm.
        assert_eq!(plan(&old, &new).override_changes, 3);
        assert_eq!(plan(&old, &old).override_changes, 0);
    }

    #[test]
    fn schedule_steps_are_planned_in_order_with_arrival_warnings() {
        let c = cfg(
            "v0",
            "s",
            &[("control", 9000), ("canary", 1000)],
            json!({"schedule": [
                {"at": "2001-01-01T00:00:00Z", "version": "v1", "weights": {"control": 5000, "canary": 5000}},
                {"at": "2999-01-01T00:00:00Z", "version": "v2", "weights": {"control": 0, "canary": 10000}}
            ]}),
        );
        let steps = schedule(&c, SystemTime::now());
        assert_eq!(steps.len(), 2);
        assert_eq!(
            (steps[0].from_version.as_str(), steps[0].to_version.as_str()),
            ("v0", "v1")
        );
        assert_eq!(steps[0].moved_buckets, 4000);
        assert!(steps[0].takes_effect_on_arrival);
        assert!(!steps[1].takes_effect_on_arrival);
        assert_eq!(steps[1].moved_buckets, 5000);
        let plain = cfg("v0", "s", &[("control", 10000)], json!({}));
        assert!(schedule(&plain, SystemTime::now()).is_empty());
    }

    fn weights_strategy() -> impl Strategy<Value = Vec<u32>> {
        proptest::collection::vec(0u32..=10000, 1..5).prop_map(|mut w| {
            let sum: u32 = w.iter().sum();
            if sum == 0 {
                w[0] = 10000;
                return w;
            }
            let mut scaled: Vec<u32> = w
                .iter()
                .map(|x| (u64::from(*x) * 10000 / u64::from(sum)) as u32)
                .collect();
            let rest = 10000 - scaled.iter().sum::<u32>();
            scaled[0] += rest;
            scaled
        })
    }

    fn named(weights: &[u32]) -> Vec<(&'static str, u32)> {
        const NAMES: [&str; 5] = ["control", "a", "b", "c", "d"];
        NAMES.iter().copied().zip(weights.iter().copied()).collect()
    }

    proptest! {
        #[test]
        fn the_matrix_is_a_brute_force_count_and_agrees_with_assign(
            old_w in weights_strategy(),
            new_w in weights_strategy(),
            ids in proptest::collection::vec("[a-z0-9]{1,12}", 50),
        ) {
            let old = cfg("v1", "salt", &named(&old_w), json!({}));
            let new = cfg("v2", "salt", &named(&new_w), json!({}));
            let p = plan(&old, &new);
            // Brute force, independently of the plan's own loop.
            let arm_of = |c: &Config, b: u32| c.arm(c.phases()[0].split().arm_for(b)).unwrap().name().to_owned();
            let brute = (0..BUCKETS).filter(|b| arm_of(&old, *b) != arm_of(&new, *b)).count() as u32;
            prop_assert_eq!(p.moved_buckets, brute);
            prop_assert_eq!(p.moves.iter().map(|m| m.buckets).sum::<u32>(), brute);
            prop_assert!(p.moves.iter().all(|m| m.from != m.to && m.buckets > 0));
            prop_assert!(p.leaves_canary <= p.moved_buckets);
            // A unit moves exactly when assign puts it on another arm.
            for id in &ids {
                let a = assign("salt", id, old.phases()[0].split(), OverrideHits::default());
                let b = assign("salt", id, new.phases()[0].split(), OverrideHits::default());
                let moved = old.arm(a.arm).unwrap().name() != new.arm(b.arm).unwrap().name();
                prop_assert_eq!(moved, arm_of(&old, a.bucket) != arm_of(&new, a.bucket));
            }
        }
    }

    #[test]
    fn the_expected_reshuffle_matches_random_users() {
        let old = cfg(
            "v1",
            "s1",
            &[("control", 7000), ("canary", 3000)],
            json!({}),
        );
        let new = cfg(
            "v2",
            "s2",
            &[("control", 2000), ("canary", 8000)],
            json!({}),
        );
        let p = plan(&old, &new);
        let n = 40_000;
        let mut moved = 0u32;
        for i in 0..n {
            let id = format!("user-{i}");
            let a = assign("s1", &id, old.phases()[0].split(), OverrideHits::default());
            let b = assign("s2", &id, new.phases()[0].split(), OverrideHits::default());
            moved += u32::from(a.arm != b.arm);
        }
        let observed = f64::from(moved) / f64::from(n);
        // 1 - (0.7·0.2 + 0.3·0.8) = 0.62; 4 standard deviations of a binomial share.
        assert!((p.moved_share - 0.62).abs() < 1e-12);
        let sd = (0.62f64 * 0.38 / f64::from(n)).sqrt();
        assert!(
            (observed - p.moved_share).abs() < 4.0 * sd,
            "{observed} vs {}",
            p.moved_share
        );
    }
}

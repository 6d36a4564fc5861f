//! One pass over the facts: de-duplication, grouping by experiment, phase and arm, per-arm
//! request counters and latency histograms, and per-unit state (arm, override, predictions,
//! events) that [`Aggregator::finish`] turns into per-arm sufficient statistics.

use std::collections::HashMap;

use hdrhistogram::Histogram;

use super::dedup::{IdMap, Seen};
use super::input::{Batch, LineCounts};
use super::parse::{Assigned, Def, Fact, FactKind, NONE};

/// Latencies are kept in microseconds.
const LATENCY_SCALE: f64 = 1000.0;

/// Request counters and latencies of one arm (all records, whatever `assigned_by`).
#[derive(Debug, Clone)]
pub struct ArmAcc {
    /// Global arm-name id.
    pub name: u32,
    /// Decision records.
    pub requests: u64,
    /// Decisions answered with a 5xx.
    pub errors: u64,
    /// Decisions answered with a 4xx.
    pub client_errors: u64,
    /// Decisions the fallback arm answered.
    pub fallbacks: u64,
    /// Outcome records (accepted or not).
    pub outcomes: u64,
    /// Router latency of decisions, in microseconds.
    pub latency_us: Histogram<u64>,
}

impl ArmAcc {
    fn new(name: u32) -> Self {
        ArmAcc {
            name,
            requests: 0,
            errors: 0,
            client_errors: 0,
            fallbacks: 0,
            outcomes: 0,
            // 1 µs to one hour, three significant digits (0.1% relative error); longer
            // latencies count as one hour.
            latency_us: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .unwrap_or_else(|_| unreachable_histogram()),
        }
    }
}

/// The longest latency the histogram tells apart: one hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// `Histogram::new_with_bounds` only fails for bounds or digits out of range.
fn unreachable_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 2, 1).unwrap_or_else(|_| std::process::abort())
}

/// What one unit did within one phase.
#[derive(Debug, Clone, Default)]
struct UnitState {
    first_ts: i64,
    /// The first arm slot seen.
    arm: u16,
    /// Seen in more than one arm.
    multi: bool,
    /// Arm slots seen, for slots below 64.
    mask: u64,
    /// Some record was not assigned by bucket.
    not_bucket: bool,
    /// Decision records (predictions requested).
    predictions: u32,
    /// Accepted events.
    events: Events,
}

/// A unit's accepted events: (global event id, count, sum of values). Most units have one
/// kind of event, kept inline (no allocation, no extra memory access).
#[derive(Debug, Clone, Default)]
enum Events {
    #[default]
    None,
    One((u32, u32, f64)),
    Many(Box<[(u32, u32, f64)]>),
}

impl Events {
    fn add(&mut self, event: u32, value: f64) {
        match self {
            Events::None => *self = Events::One((event, 1, value)),
            Events::One(x) if x.0 == event => {
                x.1 = x.1.saturating_add(1);
                x.2 += value;
            }
            Events::One(x) => *self = Events::Many(Box::new([*x, (event, 1, value)])),
            Events::Many(v) => match v.iter_mut().find(|x| x.0 == event) {
                Some(x) => {
                    x.1 = x.1.saturating_add(1);
                    x.2 += value;
                }
                None => {
                    let mut all = v.to_vec();
                    all.push((event, 1, value));
                    *v = all.into_boxed_slice();
                }
            },
        }
    }

    fn as_slice(&self) -> &[(u32, u32, f64)] {
        match self {
            Events::None => &[],
            Events::One(x) => std::slice::from_ref(x),
            Events::Many(v) => v,
        }
    }
}

/// Everything about one phase (experiment and config version).
#[derive(Debug)]
pub struct PhaseAcc {
    pub experiment: String,
    pub version: String,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub decisions: u64,
    pub outcomes: u64,
    /// Outcome records that were refused (not 2xx) or had no event.
    pub outcomes_not_counted: u64,
    pub records_without_arm: u64,
    pub records_without_unit: u64,
    pub records_without_weights: u64,
    /// How many records carried each weights id.
    pub weight_votes: HashMap<u32, u64>,
    /// A run of records with the same weights id, not yet in `weight_votes`.
    last_weights: (u32, u64),
    /// Arms in the order first seen.
    pub arms: Vec<ArmAcc>,
    slot_of: HashMap<u32, u16>,
    /// Per-unit state, in [`PARTS`] partitions by the unit's top bits (empty until used).
    units: Vec<IdMap<UnitState>>,
}

impl PhaseAcc {
    fn new(experiment: String, version: String) -> Self {
        PhaseAcc {
            experiment,
            version,
            first_ts: None,
            last_ts: None,
            decisions: 0,
            outcomes: 0,
            outcomes_not_counted: 0,
            records_without_arm: 0,
            records_without_unit: 0,
            records_without_weights: 0,
            weight_votes: HashMap::new(),
            last_weights: (NONE, 0),
            arms: Vec::new(),
            slot_of: HashMap::new(),
            units: Vec::new(),
        }
    }

    fn slot(&mut self, arm: u32) -> u16 {
        if let Some(s) = self.arms.iter().take(8).position(|a| a.name == arm) {
            return s as u16;
        }
        if let Some(s) = self.slot_of.get(&arm) {
            return *s;
        }
        let s = self.arms.len() as u16;
        self.arms.push(ArmAcc::new(arm));
        self.slot_of.insert(arm, s);
        s
    }
}

/// Ids a worker used, translated to global ids.
#[derive(Debug, Default)]
struct WorkerMap {
    phases: Vec<u32>,
    arms: Vec<u32>,
    events: Vec<u32>,
    weights: Vec<u32>,
}

fn set(v: &mut Vec<u32>, local: u32, global: u32) {
    let i = local as usize;
    if v.len() <= i {
        v.resize(i + 1, NONE);
    }
    v[i] = global;
}

fn get(v: &[u32], local: u32) -> u32 {
    if local == NONE {
        NONE
    } else {
        v.get(local as usize).copied().unwrap_or(NONE)
    }
}

/// The accumulated input.
#[derive(Debug, Default)]
pub struct Aggregator {
    pub counts: LineCounts,
    pub duplicates: u64,
    /// Request IDs seen, in [`PARTS`] partitions by their top bits.
    seen: Vec<Seen>,
    /// Scratch of [`Aggregator::apply`]: which facts are new, and their arm slots.
    keep: Vec<bool>,
    slots: Vec<u16>,
    pub phases: Vec<PhaseAcc>,
    phase_ids: HashMap<(String, String), u32>,
    pub arm_names: Vec<String>,
    arm_ids: HashMap<String, u32>,
    pub event_names: Vec<String>,
    event_ids: HashMap<String, u32>,
    pub weights: Vec<Vec<(String, u32)>>,
    weight_ids: HashMap<Vec<(String, u32)>, u32>,
    workers: Vec<WorkerMap>,
}

fn global(ids: &mut HashMap<String, u32>, names: &mut Vec<String>, name: String) -> u32 {
    if let Some(id) = ids.get(&name) {
        return *id;
    }
    let id = names.len() as u32;
    names.push(name.clone());
    ids.insert(name, id);
    id
}

impl Aggregator {
    /// Adds one worker's batch, in three tight passes over its facts so that the memory
    /// accesses of many facts are in flight at once (the tables are far larger than the
    /// caches): de-duplication, record counters, per-unit state. Each pass keeps input order.
    pub fn apply(&mut self, worker: usize, batch: &mut Batch) {
        if self.workers.len() <= worker {
            self.workers.resize_with(worker + 1, WorkerMap::default);
        }
        for def in std::mem::take(&mut batch.defs) {
            self.define(worker, def);
        }
        self.counts.add(&batch.counts);
        if self.seen.is_empty() {
            self.seen.resize_with(PARTS, Seen::default);
        }
        let map = &self.workers[worker];
        let mut keep = std::mem::take(&mut self.keep);
        keep.clear();
        for group in batch.facts.chunks_mut(GROUP) {
            let mut touched = 0u64;
            for f in group.iter_mut() {
                f.phase = get(&map.phases, f.phase);
                f.arm = get(&map.arms, f.arm);
                f.event = get(&map.events, f.event);
                f.weights = get(&map.weights, f.weights);
                touched ^= self.seen[part(f.request)].touch(f.request);
            }
            std::hint::black_box(touched);
            for f in group.iter() {
                keep.push(self.seen[part(f.request)].first_time(f.request));
            }
        }
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        for (f, kept) in batch.facts.iter().zip(&keep) {
            let slot = if *kept {
                self.count(f)
            } else {
                self.duplicates += 1;
                None
            };
            slots.push(slot.unwrap_or(u16::MAX));
        }
        for (group, slots) in batch.facts.chunks(GROUP).zip(slots.chunks(GROUP)) {
            let mut touched = 0u64;
            for (f, &slot) in group.iter().zip(slots) {
                if slot != u16::MAX
                    && let (Some(unit), Some(phase)) = (f.unit, self.phases.get(f.phase as usize))
                    && let Some(units) = phase.units.get(part(unit))
                {
                    touched ^= units.touch(unit);
                }
            }
            std::hint::black_box(touched);
            for (f, &slot) in group.iter().zip(slots) {
                if slot != u16::MAX
                    && let (Some(unit), Some(phase)) =
                        (f.unit, self.phases.get_mut(f.phase as usize))
                {
                    phase.add_unit(part(unit), f, slot);
                }
            }
        }
        self.keep = keep;
        self.slots = slots;
    }

    fn define(&mut self, worker: usize, def: Def) {
        match def {
            Def::Phase {
                id,
                experiment,
                version,
            } => {
                let key = (experiment, version);
                let g = match self.phase_ids.get(&key) {
                    Some(g) => *g,
                    None => {
                        let g = self.phases.len() as u32;
                        self.phases
                            .push(PhaseAcc::new(key.0.clone(), key.1.clone()));
                        self.phase_ids.insert(key, g);
                        g
                    }
                };
                set(&mut self.workers[worker].phases, id, g);
            }
            Def::Arm { id, name } => {
                let g = global(&mut self.arm_ids, &mut self.arm_names, name);
                set(&mut self.workers[worker].arms, id, g);
            }
            Def::Event { id, name } => {
                let g = global(&mut self.event_ids, &mut self.event_names, name);
                set(&mut self.workers[worker].events, id, g);
            }
            Def::Weights { id, arms } => {
                let g = match self.weight_ids.get(&arms) {
                    Some(g) => *g,
                    None => {
                        let g = self.weights.len() as u32;
                        self.weights.push(arms.clone());
                        self.weight_ids.insert(arms, g);
                        g
                    }
                };
                set(&mut self.workers[worker].weights, id, g);
            }
        }
    }

    /// Record-level counters of a unique fact; its arm slot when it has an arm.
    fn count(&mut self, f: &Fact) -> Option<u16> {
        let (arm, event, weights) = (f.arm, f.event, f.weights);
        let phase = self.phases.get_mut(f.phase as usize)?;
        if let Some(ts) = f.ts_ms {
            phase.first_ts = Some(phase.first_ts.map_or(ts, |t| t.min(ts)));
            phase.last_ts = Some(phase.last_ts.map_or(ts, |t| t.max(ts)));
        }
        if weights == NONE {
            phase.records_without_weights += 1;
        } else if phase.last_weights.0 == weights {
            phase.last_weights.1 += 1;
        } else {
            phase.flush_weights();
            phase.last_weights = (weights, 1);
        }
        let slot = (arm != NONE).then(|| phase.slot(arm));
        match f.kind {
            FactKind::Decision => phase.decisions += 1,
            FactKind::Outcome => {
                phase.outcomes += 1;
                if event == NONE {
                    phase.outcomes_not_counted += 1;
                }
            }
        }
        let Some(slot) = slot else {
            phase.records_without_arm += 1;
            return None;
        };
        let acc = &mut phase.arms[usize::from(slot)];
        match f.kind {
            FactKind::Decision => {
                acc.requests += 1;
                if f.status >= 500 {
                    acc.errors += 1;
                } else if f.status >= 400 {
                    acc.client_errors += 1;
                }
                if f.fallback {
                    acc.fallbacks += 1;
                }
                if let Some(ms) = f.latency_ms {
                    acc.latency_us
                        .saturating_record((ms * LATENCY_SCALE).round() as u64);
                }
            }
            FactKind::Outcome => acc.outcomes += 1,
        }
        if f.unit.is_none() {
            phase.records_without_unit += 1;
        }
        Some(slot)
    }

    /// Number of distinct request IDs seen.
    pub fn unique_records(&self) -> u64 {
        self.seen.iter().map(|s| s.len() as u64).sum()
    }
}

/// Facts whose table slots are read ahead together (see [`Seen::touch`]).
const GROUP: usize = 16;

/// Partitions of the de-duplication set and of each phase's units: each table grows (and
/// doubles) on its own, so memory grows smoothly instead of in one doubling of everything.
const PARTS: usize = 64;

/// The partition of a hashed ID: its top bits.
fn part(id: u128) -> usize {
    (id >> (128 - PARTS.trailing_zeros())) as usize
}

impl PhaseAcc {
    /// Per-unit state of one fact (with a unit and an arm slot), in partition `p`.
    fn add_unit(&mut self, p: usize, f: &Fact, slot: u16) {
        let Some(unit) = f.unit else { return };
        let event = f.event;
        if self.units.is_empty() {
            self.units.resize_with(PARTS, IdMap::default);
        }
        let ts = f.ts_ms.unwrap_or(i64::MAX);
        let bit = if slot < 64 { 1u64 << slot } else { 0 };
        let u = self.units[p].get_or_insert_with(unit, || UnitState {
            first_ts: ts,
            arm: slot,
            multi: false,
            mask: 0,
            not_bucket: false,
            predictions: 0,
            events: Events::None,
        });
        u.first_ts = u.first_ts.min(ts);
        u.mask |= bit;
        u.multi |= u.arm != slot;
        u.not_bucket |= f.assigned != Assigned::Bucket;
        match f.kind {
            FactKind::Decision => u.predictions = u.predictions.saturating_add(1),
            FactKind::Outcome if event != NONE => u.events.add(event, f.value),
            FactKind::Outcome => {}
        }
    }
}

/// Sums over units of one arm for one metric: `x` is the unit's value (numerator), `y` its
/// denominator (predictions) for ratio metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Sums {
    pub n: u64,
    /// Units with at least one event.
    pub converted: u64,
    pub sx: f64,
    pub sxx: f64,
    pub sy: f64,
    pub syy: f64,
    pub sxy: f64,
}

/// Unit-level results of one arm, once the phase is complete.
#[derive(Debug, Default, Clone)]
pub struct ArmUnits {
    /// Every unit seen in the arm.
    pub all: u64,
    /// Assigned by bucket and seen in this arm only: the units of the tests and the SRM check.
    pub analysed: u64,
    /// Seen only in this arm, but assigned by an override at least once.
    pub overridden: u64,
    /// Seen in this arm and another one.
    pub multi_arm: u64,
    /// Per global event id: counts, event sums and predictions of the analysed units.
    pub events: HashMap<u32, Sums>,
    /// Predictions of the analysed units (the denominator of ratio metrics), even with no event.
    pub predictions: Sums,
    /// First-seen times of the analysed units, sorted.
    pub first_seen: Vec<i64>,
}

impl PhaseAcc {
    /// Moves the current run of weights into the votes.
    fn flush_weights(&mut self) {
        let (id, n) = std::mem::replace(&mut self.last_weights, (NONE, 0));
        if n > 0 {
            *self.weight_votes.entry(id).or_default() += n;
        }
    }

    /// Per-arm unit results (indexed like `arms`), and the number of units seen in two arms.
    pub fn finish_units(&mut self) -> (Vec<ArmUnits>, u64) {
        self.flush_weights();
        let mut out: Vec<ArmUnits> = vec![ArmUnits::default(); self.arms.len()];
        let mut multi_units = 0;
        // A fixed order makes the floating-point sums, and so the report, reproducible.
        let mut units: Vec<(u128, UnitState)> = std::mem::take(&mut self.units)
            .into_iter()
            .flat_map(IdMap::into_entries)
            .collect();
        units.sort_unstable_by_key(|(k, _)| *k);
        for (_, u) in units {
            if u.multi {
                multi_units += 1;
                for (slot, arm) in out.iter_mut().enumerate().take(64) {
                    if u.mask & (1u64 << slot) != 0 {
                        arm.all += 1;
                        arm.multi_arm += 1;
                    }
                }
                continue;
            }
            let arm = &mut out[usize::from(u.arm)];
            arm.all += 1;
            if u.not_bucket {
                arm.overridden += 1;
                continue;
            }
            arm.analysed += 1;
            if u.first_ts != i64::MAX {
                arm.first_seen.push(u.first_ts);
            }
            let y = f64::from(u.predictions);
            let p = &mut arm.predictions;
            p.n += 1;
            p.sy += y;
            p.syy += y * y;
            for &(event, count, sum) in u.events.as_slice() {
                let s = arm.events.entry(event).or_default();
                s.converted += u64::from(count > 0);
                s.sx += sum;
                s.sxx += sum * sum;
                s.sxy += sum * y;
            }
        }
        for arm in &mut out {
            arm.first_seen.sort_unstable();
            let (n, sy, syy) = (arm.predictions.n, arm.predictions.sy, arm.predictions.syy);
            for s in arm.events.values_mut() {
                s.n = n;
                s.sy = sy;
                s.syy = syy;
            }
        }
        (out, multi_units)
    }

    /// The weights most records of the phase carried (ties: the lowest id, the first defined).
    /// Call after [`PhaseAcc::finish_units`].
    pub fn weights_id(&self) -> Option<u32> {
        self.weight_votes
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::input::parse_chunk;
    use crate::report::parse::Names;

    fn rec(kind: &str, rid: &str, unit: &str, arm: &str, extra: &str) -> String {
        format!(
            r#"{{"kind":"{kind}","ts":"2026-11-26T10:00:00Z","request_id":"{rid}","experiment":"e","config_version":"v1","unit":"{unit}","assigned_by":"bucket","arm":"{arm}","weights":[["control",5000],["canary",5000]],"served_arm":"{arm}","status":200,"latency_ms":10{extra}}}"#
        )
    }

    fn aggregate(lines: &[String]) -> Aggregator {
        let text = lines.join("\n");
        let mut names = Names::default();
        let mut agg = Aggregator::default();
        agg.apply(0, &mut parse_chunk(text.as_bytes(), &mut names));
        agg
    }

    #[test]
    fn duplicates_count_once() {
        let r = rec("decision", "r1", "u1", "control", "");
        let agg = aggregate(&[r.clone(), r.clone(), r]);
        assert_eq!(agg.duplicates, 2);
        assert_eq!(agg.unique_records(), 1);
        assert_eq!(agg.phases[0].arms[0].requests, 1);
    }

    #[test]
    fn units_and_events_per_arm() {
        let outcome = |rid: &str, unit: &str, arm: &str, v: f64| {
            rec(
                "outcome",
                rid,
                unit,
                arm,
                &format!(r#","status":202,"event":"correct","value":{v}"#),
            )
            .replace(r#""status":200,"#, "")
        };
        let lines = vec![
            rec("decision", "d1", "u1", "control", ""),
            rec("decision", "d2", "u1", "control", ""),
            outcome("o1", "u1", "control", 1.0),
            outcome("o2", "u1", "control", 0.0),
            rec("decision", "d3", "u2", "canary", ""),
            outcome("o3", "u2", "canary", 1.0),
            rec("decision", "d4", "u3", "canary", "").replace("bucket", "forced"),
            rec("decision", "d5", "u4", "canary", ""),
            rec("decision", "d6", "u4", "control", ""),
        ];
        let mut agg = aggregate(&lines);
        let phase = &mut agg.phases[0];
        assert_eq!(phase.decisions, 6);
        assert_eq!(phase.outcomes, 3);
        let (arms, multi) = phase.finish_units();
        assert_eq!(multi, 1);
        let control = &arms[0];
        assert_eq!(
            (control.all, control.analysed, control.multi_arm),
            (2, 1, 1)
        );
        let s = control.events.values().next().unwrap();
        assert_eq!(
            (s.n, s.converted, s.sx, s.sxx, s.sy, s.syy, s.sxy),
            (1, 1, 1.0, 1.0, 2.0, 4.0, 2.0)
        );
        let canary = &arms[1];
        assert_eq!(
            (
                canary.all,
                canary.analysed,
                canary.overridden,
                canary.multi_arm
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(canary.first_seen.len(), 1);
    }

    #[test]
    fn errors_fallbacks_and_latency() {
        let lines = vec![
            rec("decision", "d1", "u1", "control", "").replace("\"status\":200", "\"status\":502"),
            rec("decision", "d2", "u1", "control", "").replace("\"status\":200", "\"status\":400"),
            rec("decision", "d3", "u1", "control", "")
                .replace(r#""served_arm":"control""#, r#""served_arm":"canary""#),
        ];
        let agg = aggregate(&lines);
        let a = &agg.phases[0].arms[0];
        assert_eq!(
            (a.requests, a.errors, a.client_errors, a.fallbacks),
            (3, 1, 1, 1)
        );
        assert_eq!(a.latency_us.len(), 3);
        // HdrHistogram reports the highest value equivalent at three significant digits.
        assert!((10_000..=10_010).contains(&a.latency_us.value_at_quantile(0.5)));
    }

    #[test]
    fn records_without_arm_or_unit_are_counted() {
        let no_unit =
            rec("decision", "d1", "x", "control", "").replace(r#""unit":"x""#, r#""unit":null"#);
        let no_arm = rec("decision", "d2", "u", "x", "").replace(r#""arm":"x""#, r#""arm":null"#);
        let agg = aggregate(&[no_unit, no_arm]);
        let p = &agg.phases[0];
        assert_eq!((p.records_without_unit, p.records_without_arm), (1, 1));
    }

    #[test]
    fn weights_vote_picks_the_most_common() {
        let a = rec("decision", "d1", "u1", "control", "");
        let b = rec("decision", "d2", "u2", "control", "")
            .replace("5000],[\"canary\",5000", "9000],[\"canary\",1000");
        let c = rec("decision", "d3", "u3", "control", "")
            .replace("5000],[\"canary\",5000", "9000],[\"canary\",1000");
        let mut agg = aggregate(&[a, b, c]);
        agg.phases[0].finish_units();
        let id = agg.phases[0].weights_id().unwrap();
        assert_eq!(agg.weights[id as usize][0].1, 9000);
    }
}

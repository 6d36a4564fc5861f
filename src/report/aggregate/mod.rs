//! One pass over the facts: de-duplication, grouping by experiment, phase and arm, per-arm
//! request counters and latency histograms, and per-unit state (arm, override, predictions,
//! events) that [`Aggregator::finish`] turns into per-arm sufficient statistics.

use std::collections::HashMap;

use hdrhistogram::Histogram;

mod latency;
mod shadows;
mod tables;

pub(crate) use latency::summary as latency_summary;
pub(crate) use shadows::{ShadowAcc, Shadows};

use tables::{IdMap, Seen};

use crate::report::parse::{Assigned, Batch, Def, Fact, FactKind, Id, LineCounts, Target};

/// Request counters and latencies of one arm (all records, whatever `assigned_by`).
#[derive(Debug, Clone)]
pub(crate) struct ArmAcc {
    /// Global arm-name id.
    pub(crate) name: Id,
    /// Decision records.
    pub(crate) requests: u64,
    /// Decisions answered with a 5xx.
    pub(crate) errors: u64,
    /// Decisions answered with a 4xx.
    pub(crate) client_errors: u64,
    /// Decisions the fallback arm answered.
    pub(crate) fallbacks: u64,
    /// Outcome records (accepted or not).
    pub(crate) outcomes: u64,
    /// Router latency of decisions, in microseconds.
    pub(crate) latency_us: Histogram<u64>,
    /// Streamed answers that sent a first byte...
    pub(crate) streams: u64,
    /// ...their time to it, in microseconds...
    pub(crate) first_byte_us: Histogram<u64>,
    /// ...and, where the format shows tokens, the tokens and the seconds from first byte to end.
    pub(crate) tokens: f64,
    pub(crate) generation_s: f64,
    /// Decisions its own endpoint answered, by global target id, in first-seen order.
    pub(crate) targets: Vec<(Id, u64)>,
}

impl ArmAcc {
    fn new(name: Id) -> Self {
        ArmAcc {
            name,
            requests: 0,
            errors: 0,
            client_errors: 0,
            fallbacks: 0,
            outcomes: 0,
            latency_us: latency::histogram(),
            streams: 0,
            first_byte_us: latency::histogram(),
            tokens: 0.0,
            generation_s: 0.0,
            targets: Vec::new(),
        }
    }

    fn count_target(&mut self, target: Id) {
        // An arm calls one target (two around a config change): the first entry almost always.
        match self.targets.iter_mut().find(|(t, _)| *t == target) {
            Some((_, n)) => *n += 1,
            None => self.targets.push((target, 1)),
        }
    }
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
    One((Id, u32, f64)),
    Many(Box<[(Id, u32, f64)]>),
}

impl Events {
    fn add(&mut self, event: Id, value: f64) {
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

    fn as_slice(&self) -> &[(Id, u32, f64)] {
        match self {
            Events::None => &[],
            Events::One(x) => std::slice::from_ref(x),
            Events::Many(v) => v,
        }
    }
}

/// Everything about one phase (experiment and config version).
#[derive(Debug)]
pub(crate) struct PhaseAcc {
    pub(crate) experiment: String,
    pub(crate) version: String,
    pub(crate) first_ts: Option<i64>,
    pub(crate) last_ts: Option<i64>,
    pub(crate) decisions: u64,
    pub(crate) outcomes: u64,
    /// Outcome records that were refused (not 2xx) or had no event.
    pub(crate) outcomes_not_counted: u64,
    pub(crate) records_without_arm: u64,
    pub(crate) records_without_unit: u64,
    pub(crate) records_without_weights: u64,
    /// How many records carried each weights id.
    pub(crate) weight_votes: HashMap<Id, u64>,
    /// A run of records with the same weights id, not yet in `weight_votes`.
    last_weights: Option<(Id, u64)>,
    /// Arms in the order first seen.
    pub(crate) arms: Vec<ArmAcc>,
    slot_of: HashMap<Id, u16>,
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
            last_weights: None,
            arms: Vec::new(),
            slot_of: HashMap::new(),
            units: Vec::new(),
        }
    }

    fn slot(&mut self, arm: Id) -> u16 {
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

/// The global ids of the ids a worker used, by the worker's id: each worker numbers the names
/// it meets itself, so that parsing needs no shared table.
#[derive(Debug, Default)]
struct WorkerMap {
    phases: Vec<Option<Id>>,
    arms: Vec<Option<Id>>,
    events: Vec<Option<Id>>,
    weights: Vec<Option<Id>>,
    targets: Vec<Option<Id>>,
}

fn set(v: &mut Vec<Option<Id>>, local: Id, global: Option<Id>) {
    let i = local.index();
    if v.len() <= i {
        v.resize(i + 1, None);
    }
    v[i] = global;
}

/// The global id of a worker's id; None for one it never defined (which a worker does not do:
/// it announces a name before the first fact that uses it).
fn get(v: &[Option<Id>], local: Id) -> Option<Id> {
    v.get(local.index()).copied().flatten()
}

/// The accumulated input.
#[derive(Debug, Default)]
pub(crate) struct Aggregator {
    pub(crate) counts: LineCounts,
    pub(crate) duplicates: u64,
    /// Request IDs seen, in [`PARTS`] partitions by their top bits.
    seen: Vec<Seen>,
    /// Scratch of [`Aggregator::apply`], one entry per fact: its global phase, whether it is
    /// new, and its arm slot.
    phase_of: Vec<Option<Id>>,
    keep: Vec<bool>,
    slots: Vec<Option<u16>>,
    pub(crate) phases: Vec<PhaseAcc>,
    phase_ids: HashMap<(String, String), Id>,
    pub(crate) arm_names: Vec<String>,
    arm_ids: HashMap<String, Id>,
    pub(crate) event_names: Vec<String>,
    event_ids: HashMap<String, Id>,
    pub(crate) weights: Vec<Vec<(String, u32)>>,
    weight_ids: HashMap<Vec<(String, u32)>, Id>,
    pub(crate) targets: Vec<Target>,
    target_ids: HashMap<Target, Id>,
    workers: Vec<WorkerMap>,
    /// Shadow calls, by phase and shadow.
    pub(crate) shadows: Shadows,
}

/// The global id of `name` (a name, a set of weights, a target), which gets the next one when
/// it is new; None only past `u32::MAX - 1` of them.
fn global<K: Clone + Eq + std::hash::Hash>(
    ids: &mut HashMap<K, Id>,
    names: &mut Vec<K>,
    name: K,
) -> Option<Id> {
    if let Some(id) = ids.get(&name) {
        return Some(*id);
    }
    let id = Id::from_index(names.len())?;
    names.push(name.clone());
    ids.insert(name, id);
    Some(id)
}

impl Aggregator {
    /// Adds one worker's batch, in three tight passes over its facts so that the memory
    /// accesses of many facts are in flight at once (the tables are far larger than the
    /// caches): de-duplication, record counters, per-unit state. Each pass keeps input order.
    pub(crate) fn apply(&mut self, worker: usize, batch: &mut Batch) {
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
        let mut phase_of = std::mem::take(&mut self.phase_of);
        phase_of.clear();
        let mut keep = std::mem::take(&mut self.keep);
        keep.clear();
        for group in batch.facts.chunks_mut(GROUP) {
            let mut touched = 0u64;
            for f in group.iter_mut() {
                phase_of.push(get(&map.phases, f.phase));
                f.arm = f.arm.and_then(|a| get(&map.arms, a));
                f.event = f.event.and_then(|e| get(&map.events, e));
                f.weights = f.weights.and_then(|w| get(&map.weights, w));
                f.target = f.target.and_then(|t| get(&map.targets, t));
                touched ^= self.seen[part(f.request)].touch(f.request);
            }
            std::hint::black_box(touched);
            for f in group.iter() {
                keep.push(self.seen[part(f.request)].first_time(f.request));
            }
        }
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        for ((f, kept), phase) in batch.facts.iter().zip(&keep).zip(&phase_of) {
            let slot = if *kept {
                phase.and_then(|p| self.count(p, f))
            } else {
                self.duplicates += 1;
                None
            };
            slots.push(slot);
        }
        let groups = batch.facts.chunks(GROUP).zip(slots.chunks(GROUP));
        for ((group, slots), phases) in groups.zip(phase_of.chunks(GROUP)) {
            let mut touched = 0u64;
            for ((f, slot), phase) in group.iter().zip(slots).zip(phases) {
                if slot.is_some()
                    && let (Some(unit), Some(phase)) =
                        (f.unit, phase.and_then(|p| self.phases.get(p.index())))
                    && let Some(units) = phase.units.get(part(unit))
                {
                    touched ^= units.touch(unit);
                }
            }
            std::hint::black_box(touched);
            for ((f, slot), phase) in group.iter().zip(slots).zip(phases) {
                if let (Some(slot), Some(unit), Some(phase)) = (
                    *slot,
                    f.unit,
                    phase.and_then(|p| self.phases.get_mut(p.index())),
                ) {
                    phase.add_unit(part(unit), f, slot);
                }
            }
        }
        self.phase_of = phase_of;
        self.keep = keep;
        self.slots = slots;
        for s in batch.shadows.drain(..) {
            if self.seen[part(s.request)].first_time(s.request) {
                self.shadows.add(s);
            } else {
                self.duplicates += 1;
            }
        }
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
                    Some(g) => Some(*g),
                    None => Id::from_index(self.phases.len()).inspect(|&g| {
                        self.phases
                            .push(PhaseAcc::new(key.0.clone(), key.1.clone()));
                        self.phase_ids.insert(key, g);
                    }),
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
                let g = global(&mut self.weight_ids, &mut self.weights, arms);
                set(&mut self.workers[worker].weights, id, g);
            }
            Def::Target { id, target } => {
                let g = global(&mut self.target_ids, &mut self.targets, target);
                set(&mut self.workers[worker].targets, id, g);
            }
        }
    }

    /// Record-level counters of a unique fact in global `phase`; its arm slot when it has an
    /// arm.
    fn count(&mut self, phase: Id, f: &Fact) -> Option<u16> {
        let phase = self.phases.get_mut(phase.index())?;
        if let Some(ts) = f.ts_ms {
            phase.first_ts = Some(phase.first_ts.map_or(ts, |t| t.min(ts)));
            phase.last_ts = Some(phase.last_ts.map_or(ts, |t| t.max(ts)));
        }
        match (f.weights, &mut phase.last_weights) {
            (None, _) => phase.records_without_weights += 1,
            (Some(w), Some((last, n))) if *last == w => *n += 1,
            (Some(w), _) => {
                phase.flush_weights();
                phase.last_weights = Some((w, 1));
            }
        }
        let slot = f.arm.map(|arm| phase.slot(arm));
        match f.kind {
            FactKind::Decision => phase.decisions += 1,
            FactKind::Outcome => {
                phase.outcomes += 1;
                if f.event.is_none() {
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
                if let Some(t) = f.target {
                    acc.count_target(t);
                }
                if let Some(ms) = f.latency_ms {
                    latency::record_ms(&mut acc.latency_us, ms);
                }
                if let Some(first) = f.first_byte_ms {
                    let first = f64::from(first);
                    acc.streams += 1;
                    latency::record_ms(&mut acc.first_byte_us, first);
                    if let (Some(tokens), Some(end)) = (f.tokens, f.latency_ms)
                        && end > first
                    {
                        acc.tokens += f64::from(tokens);
                        acc.generation_s += (end - first) / 1000.0;
                    }
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
    pub(crate) fn unique_records(&self) -> u64 {
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
            FactKind::Outcome => {
                if let Some(event) = f.event {
                    u.events.add(event, f.value);
                }
            }
        }
    }
}

/// Sums over units of one arm for one metric: `x` is the unit's value (numerator), `y` its
/// denominator (predictions) for ratio metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Sums {
    pub(crate) n: u64,
    /// Units with at least one event.
    pub(crate) converted: u64,
    pub(crate) sx: f64,
    pub(crate) sxx: f64,
    pub(crate) sy: f64,
    pub(crate) syy: f64,
    pub(crate) sxy: f64,
}

/// Unit-level results of one arm, once the phase is complete.
#[derive(Debug, Default, Clone)]
pub(crate) struct ArmUnits {
    /// Every unit seen in the arm.
    pub(crate) all: u64,
    /// Assigned by bucket and seen in this arm only: the units of the tests and the SRM check.
    pub(crate) analysed: u64,
    /// Seen only in this arm, but assigned by an override at least once.
    pub(crate) overridden: u64,
    /// Seen in this arm and another one.
    pub(crate) multi_arm: u64,
    /// Per global event id: counts, event sums and predictions of the analysed units.
    pub(crate) events: HashMap<Id, Sums>,
    /// Predictions of the analysed units (the denominator of ratio metrics), even with no event.
    pub(crate) predictions: Sums,
    /// First-seen times of the analysed units, sorted.
    pub(crate) first_seen: Vec<i64>,
}

impl PhaseAcc {
    /// Moves the current run of weights into the votes.
    fn flush_weights(&mut self) {
        if let Some((id, n)) = self.last_weights.take() {
            *self.weight_votes.entry(id).or_default() += n;
        }
    }

    /// Per-arm unit results (indexed like `arms`), and the number of units seen in two arms.
    pub(crate) fn finish_units(&mut self) -> (Vec<ArmUnits>, u64) {
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
    pub(crate) fn weights_id(&self) -> Option<Id> {
        self.weight_votes
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse::{LineParser, parse_chunk};

    fn rec(kind: &str, rid: &str, unit: &str, arm: &str, extra: &str) -> String {
        format!(
            r#"{{"kind":"{kind}","ts":"2026-11-26T10:00:00Z","request_id":"{rid}","experiment":"e","config_version":"v1","unit":"{unit}","assigned_by":"bucket","arm":"{arm}","weights":[["control",5000],["canary",5000]],"served_arm":"{arm}","status":200,"latency_ms":10{extra}}}"#
        )
    }

    fn aggregate(lines: &[String]) -> Aggregator {
        let text = lines.join("\n");
        let mut parser = LineParser::default();
        let mut agg = Aggregator::default();
        agg.apply(0, &mut parse_chunk(text.as_bytes(), &mut parser));
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
        assert_eq!(agg.weights[id.index()][0].1, 9000);
    }
}

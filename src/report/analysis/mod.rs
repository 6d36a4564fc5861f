//! From accumulated facts to the report: arms in config order, metrics, comparisons against
//! the control, Holm adjustment, sample-ratio checks, data-quality notes and verdicts.

mod shadows;
mod srm;
mod stats;

use std::collections::BTreeSet;

use stats::{Estimate, Method, Moments};

use crate::report::aggregate::{Aggregator, ArmAcc, ArmUnits, PhaseAcc, Sums, latency_summary};
use crate::report::error::ReportError;
use crate::report::model::*;
use crate::report::options::Options;
use crate::report::parse::{Id, Target};
use crate::report::render::format::{format_ms, signed_num, signed_pct};

/// Points on each units-over-time curve.
const TIMELINE_POINTS: usize = 48;

/// Builds the report.
pub(crate) fn build(
    mut agg: Aggregator,
    files: Vec<String>,
    opts: &Options,
) -> Result<Report, ReportError> {
    let c = agg.counts;
    let input = InputSummary {
        files,
        lines: c.lines,
        blank_lines: c.blank,
        records: c.records,
        unique_records: agg.unique_records(),
        duplicates: agg.duplicates,
        skipped: c.not_records + c.corrupt,
        not_records: c.not_records,
        corrupt: c.corrupt,
    };
    let mut phases = std::mem::take(&mut agg.phases);
    phases.sort_by(|a, b| {
        (a.experiment.as_str(), a.first_ts, a.version.as_str()).cmp(&(
            b.experiment.as_str(),
            b.first_ts,
            b.version.as_str(),
        ))
    });
    let mut shadow_calls = std::mem::take(&mut agg.shadows.by_phase);
    let mut experiments: Vec<Experiment> = Vec::new();
    for mut acc in phases {
        let mut phase = build_phase(&agg, &mut acc, opts)?;
        let key = (acc.experiment.clone(), acc.version.clone());
        if let Some(calls) = shadow_calls.remove(&key) {
            phase.shadows = shadows::summaries(calls, opts.alpha);
        }
        match experiments.last_mut() {
            Some(e) if e.name == acc.experiment => e.phases.push(phase),
            _ => experiments.push(Experiment {
                name: acc.experiment.clone(),
                phases: vec![phase],
            }),
        }
    }
    let srm_flagged = experiments
        .iter()
        .flat_map(|e| &e.phases)
        .any(|p| p.srm.flagged);
    Ok(Report {
        schema: SCHEMA,
        generator: format!("canary-router {}", env!("CARGO_PKG_VERSION")),
        options: OptionsUsed {
            control: opts.control.clone(),
            sequential: opts.sequential,
            n_star: opts.n_star,
            alpha: opts.alpha,
            per_prediction_events: opts.per_prediction.clone(),
        },
        input,
        experiments,
        srm_flagged,
    })
}

/// An arm's endpoints and targets, most requests first (ties by name, so the order is fixed).
fn arm_targets(a: &ArmAcc, targets: &[Target]) -> Vec<ArmTarget> {
    let mut counted: Vec<(&Target, u64)> = a
        .targets
        .iter()
        .filter_map(|(id, n)| Some((targets.get(id.index())?, *n)))
        .collect();
    counted.sort_by(|(x, m), (y, n)| n.cmp(m).then_with(|| x.cmp(y)));
    counted
        .into_iter()
        .map(|(t, requests)| ArmTarget {
            endpoint: t.endpoint.clone(),
            invoked_variant: t.invoked_variant.clone(),
            inference_component: t.inference_component.clone(),
            target_model: t.target_model.clone(),
            target_container_hostname: t.target_container_hostname.clone(),
            requests,
        })
        .collect()
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn build_phase(agg: &Aggregator, acc: &mut PhaseAcc, opts: &Options) -> Result<Phase, ReportError> {
    let (units, multi_units) = acc.finish_units();
    let weights_id = acc.weights_id();
    let weights: Vec<(String, u32)> = weights_id
        .map(|id| agg.weights[id.index()].clone())
        .unwrap_or_default();
    let with_weights: u64 = acc.weight_votes.values().sum();
    let phase_weight_records = weights_id.map_or(0, |id| acc.weight_votes[&id]);

    // Arms in config order, then arms only the records know, in name order.
    let mut order: Vec<(String, Option<u32>, Option<usize>)> = weights
        .iter()
        .map(|(name, w)| {
            let slot = acc
                .arms
                .iter()
                .position(|a| agg.arm_names[a.name.index()] == *name);
            (name.clone(), Some(*w), slot)
        })
        .collect();
    let mut extra: Vec<(String, usize)> = acc
        .arms
        .iter()
        .enumerate()
        .map(|(slot, a)| (agg.arm_names[a.name.index()].clone(), slot))
        .filter(|(name, _)| !weights.iter().any(|(w, _)| w == name))
        .collect();
    extra.sort();
    let arms_not_in_weights: Vec<String> = extra.iter().map(|e| e.0.clone()).collect();
    order.extend(extra.into_iter().map(|(n, s)| (n, None, Some(s))));

    let control = match &opts.control {
        Some(c) => {
            if !order.iter().any(|o| o.0 == *c) {
                return Err(ReportError::Usage(format!(
                    "--control {c}: experiment {} version {} has no such arm (arms: {})",
                    acc.experiment,
                    acc.version,
                    order
                        .iter()
                        .map(|o| o.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Some(c.clone())
        }
        None => order.first().map(|o| o.0.clone()),
    };

    // Metrics: every event an analysed unit had, in name order.
    let events: BTreeSet<(&str, Id)> = units
        .iter()
        .flat_map(|u| u.events.keys())
        .map(|&e| (agg.event_names[e.index()].as_str(), e))
        .collect();
    let mut metrics: Vec<(MetricInfo, Id)> = Vec::new();
    for (name, id) in events {
        if opts.per_prediction.iter().any(|p| p == name) {
            metrics.push((
                MetricInfo {
                    id: name.to_owned(),
                    event: name.to_owned(),
                    kind: MetricKind::Ratio,
                    label: name.to_owned(),
                },
                id,
            ));
        } else {
            metrics.push((
                MetricInfo {
                    id: format!("{name}:conversion"),
                    event: name.to_owned(),
                    kind: MetricKind::Conversion,
                    label: format!("{name} conversion"),
                },
                id,
            ));
            metrics.push((
                MetricInfo {
                    id: format!("{name}:value"),
                    event: name.to_owned(),
                    kind: MetricKind::Value,
                    label: format!("{name} value per unit"),
                },
                id,
            ));
        }
    }

    let empty = ArmUnits::default();
    let arm_units = |slot: Option<usize>| slot.map_or(&empty, |s| &units[s]);
    let moments_of = |u: &ArmUnits, kind: MetricKind, event: Id| -> (Moments, Sums) {
        let s = u.events.get(&event).copied().unwrap_or(Sums {
            n: u.predictions.n,
            sy: u.predictions.sy,
            syy: u.predictions.syy,
            ..Sums::default()
        });
        let m = match kind {
            MetricKind::Conversion => Moments::proportion(s.n, s.converted),
            MetricKind::Value => Moments::sample_mean(s.n, s.sx, s.sxx),
            MetricKind::Ratio => Moments::ratio(s.n, s.sx, s.sxx, s.sy, s.syy, s.sxy),
        };
        (m, s)
    };

    let (t0, t1) = (acc.first_ts, acc.last_ts);
    let mut arms = Vec::new();
    for (name, weight, slot) in &order {
        let u = arm_units(*slot);
        let a = slot.map(|s| &acc.arms[s]);
        let requests = a.map_or(0, |a| a.requests);
        let latency_ms = a.and_then(|a| latency_summary(&a.latency_us));
        let arm_metrics = metrics
            .iter()
            .map(|(info, event)| {
                let (m, s) = moments_of(u, info.kind, *event);
                let ci = stats::mean_interval(&m, opts.alpha);
                ArmMetric {
                    metric: info.id.clone(),
                    units: s.n,
                    units_converted: s.converted,
                    value_sum: s.sx,
                    predictions: (info.kind == MetricKind::Ratio).then_some(s.sy),
                    mean: m.mean,
                    variance: m.var,
                    ci_low: ci.map(|c| c.0),
                    ci_high: ci.map(|c| c.1),
                }
            })
            .collect();
        arms.push(Arm {
            name: name.clone(),
            weight: *weight,
            is_control: control.as_deref() == Some(name),
            units: u.all,
            units_analysed: u.analysed,
            units_override: u.overridden,
            units_multi_arm: u.multi_arm,
            requests,
            errors: a.map_or(0, |a| a.errors),
            error_rate: rate(a.map_or(0, |a| a.errors), requests),
            client_errors: a.map_or(0, |a| a.client_errors),
            fallbacks: a.map_or(0, |a| a.fallbacks),
            fallback_rate: rate(a.map_or(0, |a| a.fallbacks), requests),
            outcomes: a.map_or(0, |a| a.outcomes),
            latency_ms,
            targets: a.map_or_else(Vec::new, |a| arm_targets(a, &agg.targets)),
            stream: a.filter(|a| a.streams > 0).map(|a| ArmStream {
                streams: a.streams,
                first_byte_ms: latency_summary(&a.first_byte_us),
                tokens: a.tokens as u64,
                tokens_per_s: (a.generation_s > 0.0).then(|| a.tokens / a.generation_s),
            }),
            metrics: arm_metrics,
            timeline: timeline(&u.first_seen, t0, t1),
        });
    }

    // Comparisons: every treatment arm with a weight above 0, against the control.
    let method = if opts.sequential {
        Method::Sequential {
            n_star: opts.n_star,
        }
    } else {
        Method::Welch
    };
    let mut comparisons = Vec::new();
    if let Some(ctrl) = &control {
        let ctrl_slot = order.iter().find(|o| o.0 == *ctrl).and_then(|o| o.2);
        let treatments: Vec<&(String, Option<u32>, Option<usize>)> = order
            .iter()
            .filter(|o| o.0 != *ctrl && o.1.is_some_and(|w| w > 0))
            .collect();
        for (info, event) in &metrics {
            let (cm, _) = moments_of(arm_units(ctrl_slot), info.kind, *event);
            let mut family: Vec<Comparison> = treatments
                .iter()
                .map(|(name, _, slot)| {
                    let (tm, _) = moments_of(arm_units(*slot), info.kind, *event);
                    compare(info, ctrl, name, &cm, &tm, opts.alpha, method)
                })
                .collect();
            adjust(&mut family);
            for c in &mut family {
                c.verdict = verdict(c, &info.label, opts);
            }
            comparisons.extend(family);
        }
    }

    // Sample-ratio check over the configured arms.
    let srm_input: Vec<(String, u32, u64)> = order
        .iter()
        .filter_map(|(name, w, slot)| w.map(|w| (name.clone(), w, arm_units(*slot).analysed)))
        .collect();
    let srm = srm::check(&srm_input);

    let mut dq = DataQuality {
        units_override: units.iter().map(|u| u.overridden).sum(),
        units_multi_arm: multi_units,
        units_in_zero_weight_arms: order
            .iter()
            .filter(|o| o.1 == Some(0))
            .map(|o| arm_units(o.2).analysed)
            .sum(),
        records_without_unit: acc.records_without_unit,
        records_without_arm: acc.records_without_arm,
        records_without_weights: acc.records_without_weights,
        records_with_other_weights: with_weights - phase_weight_records,
        outcomes_not_counted: acc.outcomes_not_counted,
        arms_not_in_weights,
        notes: Vec::new(),
    };
    dq.notes = notes(&dq, weights.is_empty());

    Ok(Phase {
        config_version: acc.version.clone(),
        first_ts: t0.map(format_ms),
        last_ts: t1.map(format_ms),
        control,
        weights,
        decisions: acc.decisions,
        outcomes: acc.outcomes,
        srm,
        data_quality: dq,
        arms,
        metrics: metrics.into_iter().map(|m| m.0).collect(),
        comparisons,
        shadows: Vec::new(),
    })
}

fn effect(e: Estimate) -> Effect {
    Effect {
        estimate: e.estimate,
        se: e.se,
        ci_low: e.ci.0,
        ci_high: e.ci.1,
        p_value: e.p_value,
        p_value_holm: None,
        statistic: e.t,
        df: e.df,
    }
}

fn compare(
    info: &MetricInfo,
    control: &str,
    arm: &str,
    c: &Moments,
    t: &Moments,
    alpha: f64,
    method: Method,
) -> Comparison {
    let abs = stats::absolute(c, t, alpha, method);
    let rel = stats::relative(c, t, alpha, method);
    // Chance to win is Bayesian (flat prior), the same with or without --sequential.
    let ctw = stats::relative(c, t, alpha, Method::Welch).and_then(|r| stats::chance_to_win(&r));
    Comparison {
        metric: info.id.clone(),
        arm: arm.to_owned(),
        control: control.to_owned(),
        method: match method {
            Method::Welch => "welch_t",
            Method::Sequential { .. } => "sequential",
        },
        holm_family: 1,
        control_units: c.n as u64,
        arm_units: t.n as u64,
        control_mean: c.mean,
        arm_mean: t.mean,
        absolute: abs.map(effect),
        relative: rel.map(effect),
        chance_to_win: ctw,
        direction: Direction::NotEnoughData,
        verdict: String::new(),
    }
}

/// Holm across the treatment arms of one metric, separately for absolute and relative
/// p-values. A missing test counts as p = 1 in the family, which keeps Holm conservative.
fn adjust(family: &mut [Comparison]) {
    let m = family.len();
    for c in family.iter_mut() {
        c.holm_family = m;
    }
    if m < 2 {
        return;
    }
    for relative in [false, true] {
        let ps: Vec<f64> = family
            .iter()
            .map(|c| {
                let e = if relative { c.relative } else { c.absolute };
                e.map_or(1.0, |e| e.p_value)
            })
            .collect();
        for (c, adj) in family.iter_mut().zip(stats::holm(&ps)) {
            let e = if relative {
                c.relative.as_mut()
            } else {
                c.absolute.as_mut()
            };
            if let Some(e) = e {
                e.p_value_holm = Some(adj);
            }
        }
    }
}

/// The effect a verdict is about: the relative lift when there is one, else the difference.
fn headline(c: &Comparison) -> Option<(Effect, bool)> {
    c.relative
        .map(|e| (e, true))
        .or(c.absolute.map(|e| (e, false)))
}

fn verdict(c: &mut Comparison, label: &str, opts: &Options) -> String {
    let Some((e, is_rel)) = headline(c) else {
        c.direction = Direction::NotEnoughData;
        return format!(
            "{} on {label}: not enough data to compare ({} vs {} units, or no variation)",
            c.arm, c.arm_units, c.control_units
        );
    };
    let p = e.p_value_holm.unwrap_or(e.p_value);
    let significant = p < opts.alpha;
    c.direction = match (significant, e.estimate > 0.0) {
        (false, _) => Direction::NoSignificantDifference,
        (true, true) => Direction::Better,
        (true, false) => Direction::Worse,
    };
    let fmt = |x: f64| if is_rel { signed_pct(x) } else { signed_num(x) };
    let what = match c.direction {
        Direction::Better => format!("{} better on {label}", c.arm),
        Direction::Worse => format!("{} worse on {label}", c.arm),
        _ => format!("{} not significantly different on {label}", c.arm),
    };
    let level = format!("{:.0}%", (1.0 - opts.alpha) * 100.0);
    let ci_name = if opts.sequential {
        format!("always-valid {level} CI")
    } else {
        format!("{level} CI")
    };
    let p_text = if p < 0.001 {
        "p<0.001".to_owned()
    } else {
        format!("p={p:.3}")
    };
    let mut line = format!(
        "{what}: {} ({ci_name} {} to {}), {p_text}",
        fmt(e.estimate),
        fmt(e.ci_low),
        fmt(e.ci_high),
    );
    if e.p_value_holm.is_some() {
        line.push_str(&format!(
            " (Holm-adjusted over {} arms; CI unadjusted)",
            c.holm_family
        ));
    }
    if !is_rel {
        line.push_str(" (absolute difference: the control's mean is 0)");
    }
    line
}

/// Cumulative counts of `first_seen` (sorted) at evenly spaced times from `t0` to `t1`.
fn timeline(first_seen: &[i64], t0: Option<i64>, t1: Option<i64>) -> Vec<TimePoint> {
    let (Some(t0), Some(t1)) = (t0, t1) else {
        return Vec::new();
    };
    let steps = if t1 > t0 { TIMELINE_POINTS } else { 1 };
    (0..=steps)
        .map(|i| {
            let t = if steps == 1 && t1 == t0 {
                t1
            } else {
                t0 + ((t1 - t0) as i128 * i as i128 / steps as i128) as i64
            };
            TimePoint {
                ts: format_ms(t),
                units: first_seen.partition_point(|&s| s <= t) as u64,
            }
        })
        .collect()
}

fn units(n: u64) -> String {
    if n == 1 {
        "1 unit".to_owned()
    } else {
        format!("{n} units")
    }
}

fn notes(dq: &DataQuality, no_weights: bool) -> Vec<String> {
    let mut out = Vec::new();
    if dq.units_override > 0 {
        out.push(format!(
            "{} assigned by an override (user list, country, forced) or without assigned_by: shown per arm, left out of tests and the SRM check",
            units(dq.units_override)
        ));
    }
    if dq.units_multi_arm > 0 {
        out.push(format!(
            "{} seen in more than one arm: left out of tests and the SRM check",
            units(dq.units_multi_arm)
        ));
    }
    if dq.units_in_zero_weight_arms > 0 {
        out.push(format!(
            "ERROR: {} assigned by bucket to arms of weight 0: assignment does not match the weights",
            units(dq.units_in_zero_weight_arms)
        ));
    }
    if no_weights {
        out.push("no record carries weights: no sample-ratio check, no comparisons".to_owned());
    }
    if dq.records_with_other_weights > 0 {
        out.push(format!(
            "{} records carry other weights than the phase's: a config changed its weights without a new version",
            dq.records_with_other_weights
        ));
    }
    if !dq.arms_not_in_weights.is_empty() {
        out.push(format!(
            "arms not in the weights: {} (shown, not compared)",
            dq.arms_not_in_weights.join(", ")
        ));
    }
    if dq.records_without_unit > 0 {
        out.push(format!(
            "{} records without a unit (counted as requests, not in unit metrics)",
            dq.records_without_unit
        ));
    }
    if dq.records_without_arm > 0 {
        out.push(format!(
            "{} records without an arm (failed before assignment)",
            dq.records_without_arm
        ));
    }
    if dq.outcomes_not_counted > 0 {
        out.push(format!(
            "{} outcome records refused by the router or without an event: not counted",
            dq.outcomes_not_counted
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_is_cumulative() {
        let t = timeline(&[0, 10, 10, 50], Some(0), Some(96));
        assert_eq!(t.len(), TIMELINE_POINTS + 1);
        assert_eq!(t[0].units, 1);
        assert_eq!(t.last().unwrap().units, 4);
        assert!(t.windows(2).all(|w| w[0].units <= w[1].units));
        assert_eq!(timeline(&[5], Some(5), Some(5)).len(), 2);
        assert!(timeline(&[], None, None).is_empty());
    }
}

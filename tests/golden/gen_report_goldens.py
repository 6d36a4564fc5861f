#!/usr/bin/env python3
"""Golden values for `canary-router report`, computed independently of the Rust code.

Writes tests/golden/report_stats.json: a seeded per-unit data set (three arms) and, for each
statistic the report prints, the value computed here, with the library and version that
computed it beside each value:

- scipy: Welch's t (statistic, Welch-Satterthwaite df, 95% CI, p) of value metrics from the
  unit-level data (`ttest_ind(equal_var=False)`), of conversions from their moments with the
  variance p(1-p) (`ttest_ind_from_stats`), Pearson's chi-square for the sample-ratio check;
- gbstats (GrowthBook's engine): the delta-method relative lift (`TwoSidedTTest`, relative),
  ratio metrics (`RatioStatistic`), chance to win (`EffectBayesianABTest`, flat prior) and the
  sequential intervals (`SequentialTwoSidedTTest`, N* = 5000);
- Holm: by hand from the published definition (Holm 1979), cross-checked with statsmodels.

Run with the repo's venv: `.venv/bin/python tests/golden/gen_report_goldens.py` (writes the
file) or `... --check` (recomputes and compares with the committed file).
"""

import json
import math
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import scipy
from scipy import stats
from statsmodels.stats.multitest import multipletests

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    SampleMeanStatistic,
)

OUT = Path(__file__).with_name("report_stats.json")
SEED = 20261126
V_SCIPY = f"scipy {scipy.__version__}"
V_GBSTATS = f"gbstats {version('gbstats')}"
V_SM = f"statsmodels {version('statsmodels')}"

# Arms: name, weight (basis points), units, P(correct), P(purchase), mean purchase value.
ARMS = [
    ("control", 5000, 1200, 0.80, 0.10, 20.0),
    ("canary", 2500, 600, 0.84, 0.13, 21.0),
    ("canary_b", 2500, 620, 0.79, 0.10, 19.0),
]


def make_units():
    rng = np.random.RandomState(SEED)
    data = {}
    for name, _w, n, p_correct, p_buy, mean_value in ARMS:
        units = []
        for _ in range(n):
            predictions = 1 + int(rng.poisson(2.0))
            correct = int(rng.binomial(predictions, p_correct))
            values = []
            if rng.random_sample() < p_buy:
                for _ in range(1 + int(rng.poisson(0.4))):
                    values.append(round(float(rng.lognormal(math.log(mean_value), 0.6)), 2))
            units.append([predictions, correct, values])
        data[name] = units
    return data


def unit_arrays(units):
    pred = np.array([u[0] for u in units], dtype=float)
    corr = np.array([u[1] for u in units], dtype=float)
    conv = np.array([1.0 if u[2] else 0.0 for u in units])
    # Summed in record order, as the report does.
    val = np.array([math.fsum(u[2]) if u[2] else 0.0 for u in units])
    return pred, corr, conv, val


def statistic(kind, arrays):
    pred, corr, conv, val = arrays
    n = len(pred)
    if kind == "correct":
        return RatioStatistic(
            n=n,
            m_statistic=SampleMeanStatistic(n=n, sum=corr.sum(), sum_squares=(corr**2).sum()),
            d_statistic=SampleMeanStatistic(n=n, sum=pred.sum(), sum_squares=(pred**2).sum()),
            m_d_sum_of_products=(corr * pred).sum(),
        )
    if kind == "purchase:conversion":
        return ProportionStatistic(n=n, sum=conv.sum())
    return SampleMeanStatistic(n=n, sum=val.sum(), sum_squares=(val**2).sum())


def holm_by_hand(ps):
    """Holm (1979): sort ascending; the i-th smallest (from 0) times m - i; running max; cap 1."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def main():
    data = make_units()
    arrays = {name: unit_arrays(units) for name, units in data.items()}
    expected = []

    def put(arm, metric, quantity, value, source):
        expected.append(
            {"arm": arm, "metric": metric, "quantity": quantity, "value": float(value), "source": source}
        )

    metrics = ["correct", "purchase:conversion", "purchase:value"]
    control = arrays["control"]
    for metric in metrics:
        sa = statistic(metric, control)
        put("control", metric, "mean", sa.mean, V_GBSTATS + " " + type(sa).__name__ + ".mean")
        p_abs, p_rel, p_abs_seq, p_rel_seq = {}, {}, {}, {}
        for arm in ["canary", "canary_b"]:
            sb = statistic(metric, arrays[arm])
            put(arm, metric, "mean", sb.mean, V_GBSTATS + " " + type(sb).__name__ + ".mean")
            # Absolute difference, Welch's t.
            if metric == "purchase:value":
                x, y = arrays[arm][3], control[3]
                r = stats.ttest_ind(x, y, equal_var=False)
                ci = r.confidence_interval(0.95)
                src = V_SCIPY + " stats.ttest_ind(equal_var=False)"
                put(arm, metric, "absolute.statistic", r.statistic, src)
                put(arm, metric, "absolute.df", r.df, src)
                put(arm, metric, "absolute.p_value", r.pvalue, src)
                put(arm, metric, "absolute.ci_low", ci.low, src)
                put(arm, metric, "absolute.ci_high", ci.high, src)
                p_abs[arm] = r.pvalue
            elif metric == "purchase:conversion":
                pa, pb = sa.mean, sb.mean
                r = stats.ttest_ind_from_stats(
                    pb, math.sqrt(pb * (1 - pb)), sb.n, pa, math.sqrt(pa * (1 - pa)), sa.n, equal_var=False
                )
                src = V_SCIPY + " stats.ttest_ind_from_stats(std=sqrt(p(1-p)), equal_var=False)"
                put(arm, metric, "absolute.statistic", r.statistic, src)
                put(arm, metric, "absolute.p_value", r.pvalue, src)
                p_abs[arm] = r.pvalue
            absolute = TwoSidedTTest(sa, sb, FrequentistConfig(difference_type="absolute"))
            res = absolute.compute_result()
            src = V_GBSTATS + " TwoSidedTTest(difference_type=absolute)"
            put(arm, metric, "absolute.estimate", res.expected, src)
            put(arm, metric, "absolute.df", absolute.dof, src)
            put(arm, metric, "absolute.ci_low", res.ci[0], src)
            put(arm, metric, "absolute.ci_high", res.ci[1], src)
            put(arm, metric, "absolute.p_value", res.p_value, src)
            p_abs.setdefault(arm, res.p_value)
            # Relative lift, delta method.
            relative = TwoSidedTTest(sa, sb, FrequentistConfig(difference_type="relative"))
            res = relative.compute_result()
            src = V_GBSTATS + " TwoSidedTTest(difference_type=relative)"
            put(arm, metric, "relative.estimate", res.expected, src)
            put(arm, metric, "relative.se", res.uplift.stddev, src)
            put(arm, metric, "relative.ci_low", res.ci[0], src)
            put(arm, metric, "relative.ci_high", res.ci[1], src)
            put(arm, metric, "relative.p_value", res.p_value, src)
            p_rel[arm] = res.p_value
            # Chance to win: flat (improper) Gaussian prior on the relative lift.
            bayes = EffectBayesianABTest(sa, sb, EffectBayesianConfig(difference_type="relative"))
            put(arm, metric, "chance_to_win", bayes.compute_result().chance_to_win,
                V_GBSTATS + " EffectBayesianABTest(flat prior)")
            # Sequential (always valid), N* = 5000.
            for diff, store in [("absolute", p_abs_seq), ("relative", p_rel_seq)]:
                seq = SequentialTwoSidedTTest(
                    sa, sb, SequentialConfig(difference_type=diff, sequential_tuning_parameter=5000)
                )
                res = seq.compute_result()
                src = V_GBSTATS + f" SequentialTwoSidedTTest(difference_type={diff}, N*=5000)"
                put(arm, metric, f"sequential.{diff}.ci_low", res.ci[0], src)
                put(arm, metric, f"sequential.{diff}.ci_high", res.ci[1], src)
                put(arm, metric, f"sequential.{diff}.p_value", res.p_value, src)
                store[arm] = res.p_value
        # Holm over the two treatment arms.
        for name, ps in [("absolute", p_abs), ("relative", p_rel),
                         ("sequential.absolute", p_abs_seq), ("sequential.relative", p_rel_seq)]:
            arms = list(ps)
            adj = holm_by_hand([ps[a] for a in arms])
            check = multipletests([ps[a] for a in arms], method="holm")[1]
            assert np.allclose(adj, check, rtol=1e-15, atol=0), (adj, check)
            for arm, a in zip(arms, adj):
                put(arm, metric, f"{name}.p_value_holm", a,
                    "by hand (Holm 1979), equal to " + V_SM + " multipletests(method=holm)")

    # Sample-ratio check: Pearson chi-square of units against the weights.
    counts = [len(data[a[0]]) for a in ARMS]
    total = sum(counts)
    w = [a[1] for a in ARMS]
    exp = [total * x / sum(w) for x in w]
    r = stats.chisquare(counts, f_exp=exp)
    src = V_SCIPY + " stats.chisquare"
    put("*", "srm", "chi_square", r.statistic, src)
    put("*", "srm", "p_value", r.pvalue, src)

    doc = {
        "generated_by": "tests/golden/gen_report_goldens.py",
        "versions": {"scipy": scipy.__version__, "gbstats": version("gbstats"),
                     "statsmodels": version("statsmodels"), "numpy": np.__version__},
        "seed": SEED,
        "experiment": "golden",
        "config_version": "g1",
        "weights": [[a[0], a[1]] for a in ARMS],
        "per_prediction": ["correct"],
        "units": {name: units for name, units in data.items()},
        "expected": expected,
    }
    text = json.dumps(doc, indent=1) + "\n"
    if "--check" in sys.argv:
        old = json.loads(OUT.read_text())
        new = json.loads(text)
        bad = [
            (o["arm"], o["metric"], o["quantity"], o["value"], n["value"])
            for o, n in zip(old["expected"], new["expected"])
            if not math.isclose(o["value"], n["value"], rel_tol=1e-9, abs_tol=1e-15)
        ]
        if bad or old["units"] != new["units"] or len(old["expected"]) != len(new["expected"]):
            print("report goldens differ from the committed file:", bad[:5], file=sys.stderr)
            sys.exit(1)
        print(f"report goldens: {len(new['expected'])} values match", file=sys.stderr)
    else:
        OUT.write_text(text)
        print(f"wrote {OUT} ({len(expected)} values)", file=sys.stderr)


if __name__ == "__main__":
    main()

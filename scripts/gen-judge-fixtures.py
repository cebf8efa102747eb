#!/usr/bin/env python3
"""Reference values for the canary judge tests (test/unit/canary-judge.test.ts).

The judge re-implements its statistics in TypeScript; these values come from scipy/numpy so
the tests check it against an independent, widely used implementation rather than against
itself. Run from the repository root and commit the output:

    python3 scripts/gen-judge-fixtures.py   # writes test/fixtures/judge-reference.json

Every sample comes from numpy's default_rng with a fixed seed, so re-running it reproduces
the file byte for byte (given the same numpy/scipy versions, recorded in the output).
"""
import json
import math
import pathlib
import warnings

import numpy as np
import scipy
from scipy import stats

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "judge-reference.json"


def ms(values):
    # Microsecond resolution, as a serving proxy records it; also keeps the JSON small.
    return [round(float(v), 3) for v in values]


def percentiles(sample):
    # numpy's default method is 'linear' (Hyndman & Fan type 7), the one the judge uses.
    return {"p95": float(np.percentile(sample, 95)), "p99": float(np.percentile(sample, 99))}


def latency_case(name, why, canary, stable):
    with warnings.catch_warnings():
        # All-tied samples make scipy divide 0.5 by a zero variance (z = -inf, p = 1).
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.mannwhitneyu(canary, stable, alternative="greater", method="asymptotic", use_continuity=True)
    return {
        "name": name,
        "why": why,
        "canary": canary,
        "stable": stable,
        "u": float(res.statistic),
        "pValue": float(res.pvalue),
        "canaryPercentiles": percentiles(canary),
        "stablePercentiles": percentiles(stable),
    }


def proportion_case(name, why, worse, better):
    """One-sided pooled two-proportion z-test that `worse` has the higher rate.

    `worse`/`better` are (events, trials) pairs: (errors, requests) for the error rate, and
    (incorrect, labelled) for quality, where the canary being worse means fewer correct.
    """
    (x1, n1), (x2, n2) = worse, better
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x1 / n1 - x2 / n2) / se
    return {"name": name, "why": why, "worse": {"events": x1, "trials": n1}, "better": {"events": x2, "trials": n2},
            "z": z, "pValue": float(stats.norm.sf(z))}


def main():
    latency = []
    rng = np.random.default_rng(20240101)
    latency.append(latency_case("equal-lognormal", "same distribution: large p",
                                ms(rng.lognormal(4.0, 0.35, 400)), ms(rng.lognormal(4.0, 0.35, 400))))
    rng = np.random.default_rng(20240102)
    latency.append(latency_case("shifted-canary", "canary 25% slower: tiny p (tail accuracy of the normal CDF)",
                                ms(rng.lognormal(4.0, 0.35, 400) * 1.25), ms(rng.lognormal(4.0, 0.35, 400))))
    rng = np.random.default_rng(20240103)
    latency.append(latency_case("heavy-ties", "whole-millisecond latencies: tie correction matters",
                                [float(v) for v in rng.integers(20, 30, 300)], [float(v) for v in rng.integers(20, 29, 350)]))
    rng = np.random.default_rng(20240104)
    latency.append(latency_case("small-samples", "8 vs 11 values: continuity correction matters",
                                ms(rng.lognormal(4.1, 0.3, 8)), ms(rng.lognormal(4.0, 0.3, 11))))
    rng = np.random.default_rng(20240105)
    latency.append(latency_case("faster-canary", "canary 10% faster: p near 1 for the one-sided test",
                                ms(rng.gamma(9.0, 10.0, 250) * 0.9), ms(rng.gamma(9.0, 10.0, 260))))
    rng = np.random.default_rng(20240106)
    latency.append(latency_case("slight-shift", "canary 5% slower: significant yet within a 10% tolerance",
                                ms(rng.lognormal(4.0, 0.2, 3000) * 1.05), ms(rng.lognormal(4.0, 0.2, 3000))))
    latency.append(latency_case("all-tied", "every value equal: zero variance, scipy gives p = 1",
                                [50.0] * 60, [50.0] * 70))

    proportions = [
        proportion_case("error-3x", "1% vs 3% errors over 10k requests each", (300, 10000), (100, 10000)),
        proportion_case("error-equal", "identical error counts: z = 0, p = 0.5", (10, 1000), (10, 1000)),
        proportion_case("error-unequal-n", "2.5% of 400 vs 1.8% of 2500", (10, 400), (45, 2500)),
        proportion_case("error-better", "canary has fewer errors: p near 1", (5, 5000), (40, 5000)),
        proportion_case("quality-drop", "quality 0.90 -> 0.88 as incorrect 100 vs 120 of 1000", (120, 1000), (100, 1000)),
    ]

    grid = [-37.0, -20.0, -10.0, -8.3, -5.0, -3.0, -1.959963984540054, -1.0, -0.5, -0.1, 0.0,
            0.3, 0.6744897501960817, 1.0, 1.6448536269514722, 2.5, 4.0, 5.0, 8.3, 12.0]
    normal = [{"z": z, "cdf": float(stats.norm.cdf(z)), "sf": float(stats.norm.sf(z))} for z in grid]

    doc = {
        "generatedBy": "scripts/gen-judge-fixtures.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "mannWhitney": "scipy.stats.mannwhitneyu(canary, stable, alternative='greater', method='asymptotic', use_continuity=True); u is U of the canary",
        "percentile": "numpy.percentile default method 'linear'",
        "proportion": "pooled two-proportion z = (x1/n1 - x2/n2) / sqrt(p(1-p)(1/n1+1/n2)), pValue = scipy.stats.norm.sf(z)",
        "latency": latency,
        "proportions": proportions,
        "normal": normal,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({len(latency)} latency, {len(proportions)} proportion, {len(normal)} normal-CDF cases)")


if __name__ == "__main__":
    main()

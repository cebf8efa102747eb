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


# The judge's latency buckets (lib/core/canary-metrics.ts): bucket b holds [1.02^b, 1.02^(b+1)) ms,
# latencies below 0.01 ms share the bucket of 0.01 ms; a bucket stands for its geometric midpoint.
BUCKET_BASE = 1.02
BUCKET_FLOOR_MS = 0.01


def buckets(sample):
    return np.floor(np.log(np.maximum(np.asarray(sample, dtype=float), BUCKET_FLOOR_MS)) / np.log(BUCKET_BASE)).astype(int)


def histogram(sample):
    b, c = np.unique(buckets(sample), return_counts=True)
    return [[int(x), int(y)] for x, y in zip(b, c)]


def mann_whitney(x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic", use_continuity=True)


def histogram_case(name, why, canary, stable, alpha=0.0095):
    """Mann-Whitney on the bucketed latencies (each bucket a tie group) next to the raw test.

    `alpha` is the judge's per-comparison level without labels ((0.02 - 2 * 0.0005) / 2): both
    paths must give the same verdict at it, which the generator asserts for every case.
    """
    raw = mann_whitney(canary, stable)
    binned = mann_whitney(buckets(canary), buckets(stable))
    value = lambda s: BUCKET_BASE ** (buckets(s) + 0.5)
    assert (raw.pvalue < alpha) == (binned.pvalue < alpha), name
    return {
        "name": name,
        "why": why,
        "canary": canary,
        "stable": stable,
        "canaryHistogram": histogram(canary),
        "stableHistogram": histogram(stable),
        "raw": {"u": float(raw.statistic), "pValue": float(raw.pvalue)},
        "histogram": {"u": float(binned.statistic), "pValue": float(binned.pvalue)},
        "alpha": alpha,
        "canaryPercentiles": percentiles(value(canary)),
        "stablePercentiles": percentiles(value(stable)),
    }


def fisher_case(name, why, worse, better):
    """One-sided Fisher's exact test that `worse` = (events, trials) has the higher rate."""
    (x1, n1), (x2, n2) = worse, better
    res = stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative="greater")
    return {"name": name, "why": why, "worse": {"events": x1, "trials": n1}, "better": {"events": x2, "trials": n2}, "pValue": float(res.pvalue)}


def binomial_case(k, n, p):
    return {"k": k, "n": n, "p": p, "upperTail": float(stats.binom.sf(k - 1, n, p))}


def sample_ratio_case(name, canary, stable, share):
    res = stats.chisquare([canary, stable], f_exp=[(canary + stable) * share, (canary + stable) * (1 - share)])
    return {"name": name, "canary": canary, "stable": stable, "share": share, "chiSquare": float(res.statistic), "pValue": float(res.pvalue)}


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

    histograms = []
    rng = np.random.default_rng(20260101)
    histograms.append(histogram_case("hist-equal", "same lognormal (median 40 ms, sigma 0.5), 200 canary vs 3800 stable: no verdict either way",
                                     ms(rng.lognormal(math.log(40), 0.5, 200)), ms(rng.lognormal(math.log(40), 0.5, 3800))))
    rng = np.random.default_rng(20260102)
    histograms.append(histogram_case("hist-plus-50pct", "canary 50% slower, 200 vs 3800: both paths fail it",
                                     ms(rng.lognormal(math.log(40), 0.5, 200) * 1.5), ms(rng.lognormal(math.log(40), 0.5, 3800))))
    rng = np.random.default_rng(20260103)
    histograms.append(histogram_case("hist-plus-10pct", "canary 10% slower, 2000 vs 2000: significant on both paths",
                                     ms(rng.lognormal(math.log(40), 0.5, 2000) * 1.1), ms(rng.lognormal(math.log(40), 0.5, 2000))))
    rng = np.random.default_rng(20260104)
    histograms.append(histogram_case("hist-sub-millisecond", "fast local model: 0.2 ms median, 0 ms and sub-floor values included",
                                     ms(np.concatenate([[0.0, 0.004], rng.lognormal(math.log(0.2), 0.4, 298)])), ms(np.concatenate([[0.0], rng.lognormal(math.log(0.2), 0.4, 499)]))))
    rng = np.random.default_rng(20260105)
    histograms.append(histogram_case("hist-faster", "canary 20% faster: p near 1 on both paths",
                                     ms(rng.lognormal(math.log(40), 0.5, 500) * 0.8), ms(rng.lognormal(math.log(40), 0.5, 500))))

    fisher = [
        fisher_case("fisher-small-canary", "3 errors of 200 canary vs 10 of 4000 stable (expected canary errors 0.6)", (3, 200), (10, 4000)),
        fisher_case("fisher-none", "0 canary errors: p = 1", (0, 200), (5, 4000)),
        fisher_case("fisher-equal-rates", "0.5% on both arms, 1000 vs 19000 (expected canary errors 5)", (5, 1000), (95, 19000)),
        fisher_case("fisher-2pct", "2% canary errors vs 0.5% stable, 1000 vs 19000", (20, 1000), (95, 19000)),
        fisher_case("fisher-tiny", "2 of 50 vs 0 of 50", (2, 50), (0, 50)),
        fisher_case("fisher-all-canary", "every error on the canary, 15 of 300 vs 0 of 6000: tiny p", (15, 300), (0, 6000)),
        fisher_case("fisher-better", "canary fewer errors: p near 1", (1, 400), (40, 4000)),
        fisher_case("fisher-large", "large counts: 60 of 20000 vs 2 of 2000", (60, 20000), (2, 2000)),
    ]
    binomial = [binomial_case(*c) for c in [(3, 20, 0.05), (11, 200, 0.05), (25, 200, 0.05), (1, 200, 0.05), (0, 10, 0.05),
                                             (60, 1000, 0.05), (150, 1000, 0.05), (10, 20, 0.05), (5100, 100000, 0.05)]]
    sample_ratio = [
        sample_ratio_case("srm-exact", 200, 3800, 0.05),
        sample_ratio_case("srm-noise", 210, 3790, 0.05),
        sample_ratio_case("srm-dying-canary", 150, 3850, 0.05),
        sample_ratio_case("srm-half", 2100, 1900, 0.5),
        sample_ratio_case("srm-no-canary", 0, 4000, 0.05),
    ]

    doc = {
        "generatedBy": "scripts/gen-judge-fixtures.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__},
        "mannWhitney": "scipy.stats.mannwhitneyu(canary, stable, alternative='greater', method='asymptotic', use_continuity=True); u is U of the canary",
        "percentile": "numpy.percentile default method 'linear'",
        "proportion": "pooled two-proportion z = (x1/n1 - x2/n2) / sqrt(p(1-p)(1/n1+1/n2)), pValue = scipy.stats.norm.sf(z)",
        "latency": latency,
        "proportions": proportions,
        "normal": normal,
        "histogramScheme": "bucket = floor(log(max(ms, 0.01)) / log(1.02)); percentiles on 1.02**(bucket + 0.5); Mann-Whitney as above on the bucket indices",
        "histograms": histograms,
        "fisher": "scipy.stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative='greater')",
        "fisherCases": fisher,
        "binomial": "scipy.stats.binom.sf(k - 1, n, p) = P(X >= k)",
        "binomialCases": binomial,
        "sampleRatio": "scipy.stats.chisquare([canary, stable], f_exp=[N * share, N * (1 - share)])",
        "sampleRatioCases": sample_ratio,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({len(latency)} latency, {len(proportions)} proportion, {len(normal)} normal-CDF, {len(histograms)} histogram, "
          f"{len(fisher)} Fisher, {len(binomial)} binomial, {len(sample_ratio)} sample-ratio cases)")


if __name__ == "__main__":
    main()

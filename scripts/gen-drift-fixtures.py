#!/usr/bin/env python3
"""Reference values for the drift statistics (test/unit/drift-statistics.test.ts).

The drift detectors (lib/kernel/drift/) re-implement their statistics in TypeScript; these
values come from scipy/numpy so the tests check them against an independent implementation.
Run from the repository root and commit the output (the tests never run Python):

    python3 scripts/gen-drift-fixtures.py   # writes test/fixtures/drift-fixtures.json

Every sample comes from numpy's default_rng with a fixed seed, so re-running it reproduces the
file byte for byte (given the same numpy/scipy versions, recorded in the output). Large samples
are stored as [value, count] pairs (values rounded, so they also exercise ties).
"""
import json
import pathlib

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "drift-fixtures.json"
rng = np.random.default_rng(20261130)


def runs(sample):
    values, counts = np.unique(sample, return_counts=True)
    return [[float(v), int(c)] for v, c in zip(values, counts)]


def ks_case(name, x, y):
    res = stats.ks_2samp(x, y, alternative="two-sided", method="auto")
    return {"name": name, "x": runs(x), "y": runs(y), "statistic": float(res.statistic), "pValue": float(res.pvalue)}


def normal(n, shift=0.0, scale=1.0, decimals=4):
    return np.round(rng.normal(shift, scale, n), decimals)


ks = [
    ks_case("exact, small, unequal sizes", normal(50), normal(70, 0.5)),
    ks_case("exact, equal sizes", normal(100), normal(100, 0.3)),
    ks_case("exact, integer ties", rng.integers(0, 10, 300).astype(float), rng.integers(0, 11, 400).astype(float)),
    ks_case("exact, no difference", np.arange(30.0), np.arange(30.0)),
    ks_case("exact, disjoint samples", np.arange(1.0, 5.0), np.arange(5.0, 9.0)),
    ks_case("exact, 5000 vs 8000, small shift", normal(5000, 0, 1, 3), normal(8000, 0.05, 1, 3)),
    ks_case("exact, 10000 vs 10000 (largest exact), rounded", normal(10000, 0, 1, 2), normal(10000, 0.03, 1, 2)),
    ks_case("asymptotic, 12000 vs 11000, no shift", normal(12000, 0, 1, 3), normal(11000, 0, 1, 3)),
    ks_case("asymptotic, 20000 vs 15000, 0.04 shift, ties", normal(20000, 0, 1, 2), normal(15000, 0.04, 1, 2)),
    ks_case("asymptotic, tiny p (0.2 shift)", normal(20000, 0, 1, 2), normal(20000, 0.2, 1, 2)),
    ks_case("asymptotic, unbalanced (en <= 140)", normal(20000, 0, 1, 2), normal(100, 0.2, 1, 2)),
    ks_case("asymptotic, unbalanced, large shift", normal(30000, 0, 1, 2), normal(60, 0.8, 1, 2)),
]

kstwo = []
for n in [5, 20, 50, 100, 140, 141, 400, 2000, 10000, 99999, 200000, 1000000]:
    for z in [0.3, 0.6, 0.9, 1.2, 1.5, 2.0, 3.0, 5.0]:
        d = z / np.sqrt(n)
        if d < 1:
            kstwo.append({"n": n, "d": float(d), "sf": float(stats.kstwo.sf(d, n))})


def counts_case(name, c1, c2):
    c1 = np.asarray(c1, dtype=float)
    c2 = np.asarray(c2, dtype=float)
    b = len(c1)
    p = (c1 + 0.5) / (c1.sum() + 0.5 * b)
    q = (c2 + 0.5) / (c2.sum() + 0.5 * b)
    # bin positions as lib/kernel/drift/numeric.ts defines them: midpoints of the inner bins,
    # tails half an adjacent bin width beyond the outer edges (half of 1 with a single edge)
    edges = np.cumsum(rng.uniform(0.1, 2.0, b - 1)) - 5.0
    widths = np.diff(edges) if b > 2 else np.array([1.0])  # a single edge: tails at ± 0.5
    pos = np.concatenate([[edges[0] - widths[0] / 2], (edges[:-1] + edges[1:]) / 2, [edges[-1] + widths[-1] / 2]])
    return {
        "name": name,
        "reference": c1.astype(int).tolist(),
        "current": c2.astype(int).tolist(),
        "edges": edges.tolist(),
        "js": float(distance.jensenshannon(c1, c2, base=2)),
        "psi": float(np.sum((q - p) * np.log(q / p))),
        "positions": pos.tolist(),
        "wasserstein": float(stats.wasserstein_distance(pos, pos, c1, c2)),
    }


binned = [
    counts_case("22 bins, similar", rng.multinomial(100000, np.ones(22) / 22), rng.multinomial(5000, np.ones(22) / 22)),
    counts_case("22 bins, shifted", rng.multinomial(100000, np.ones(22) / 22), rng.multinomial(5000, np.linspace(1, 3, 22) / np.linspace(1, 3, 22).sum())),
    counts_case("empty bins on either side", [0, 10, 20, 0, 30, 5, 0], [3, 0, 25, 7, 30, 0, 0]),
    counts_case("two bins, 50/50 vs 60/40", [50, 50], [60, 40]),
    counts_case("disjoint support", [10, 10, 0, 0], [0, 0, 5, 15]),
]

raw_w = []
for name, x, y in [
    ("normal vs shifted", normal(500), normal(700, 0.3)),
    ("ties", rng.integers(0, 5, 200).astype(float), rng.integers(1, 6, 300).astype(float)),
]:
    raw_w.append({"name": name, "x": runs(x), "y": runs(y), "wasserstein": float(stats.wasserstein_distance(x, y))})


def pool_sparse(labels, a, b, pool="__other__"):
    # the pooling rule of lib/kernel/drift/statistics.ts poolSparse
    n1, n2 = sum(a), sum(b)
    total, min_row = n1 + n2, min(n1, n2)
    kept, pa, pb, any_pooled = [], 0, 0, False
    for name, x, y in zip(labels, a, b):
        if (x + y) * min_row / total < 5 or name == pool:
            pa, pb, any_pooled = pa + x, pb + y, True
        else:
            kept.append([name, x, y])
    if any_pooled and pa + pb > 0:
        if (pa + pb) * min_row / total >= 5 or not kept:
            kept.append([pool, pa, pb])
        else:
            smallest = min(kept, key=lambda c: c[1] + c[2])
            smallest[0], smallest[1], smallest[2] = smallest[0] + "+" + pool, smallest[1] + pa, smallest[2] + pb
    return kept


chi = []
for name, labels, a, b in [
    ("three categories, shifted", ["a", "b", "c"], [5000, 3000, 2000], [300, 500, 200]),
    ("sparse categories pooled", ["a", "b", "c", "d", "e", "__other__"], [4000, 3000, 10, 3, 2, 20], [400, 280, 1, 0, 1, 2]),
    ("pool too small, joins the smallest", ["a", "b", "c", "d"], [500, 400, 300, 2], [50, 45, 20, 0]),
    ("no difference", ["x", "y"], [1000, 1000], [100, 100]),
    ("huge statistic, tiny p", ["a", "b", "c", "d"], [90000, 5000, 3000, 2000], [2000, 2000, 500, 500]),
    ("many categories", [f"k{i}" for i in range(40)], rng.multinomial(50000, np.ones(40) / 40).tolist(), rng.multinomial(3000, np.linspace(1, 2, 40) / np.linspace(1, 2, 40).sum()).tolist()),
]:
    a = [int(v) for v in a]
    b = [int(v) for v in b]
    pooled = pool_sparse(labels, a, b)
    table = np.array([[c[1] for c in pooled], [c[2] for c in pooled]])
    res = stats.chi2_contingency(table, correction=False)
    chi.append({"name": name, "labels": labels, "reference": a, "current": b, "columns": [c[0] for c in pooled],
                "statistic": float(res.statistic), "df": int(res.dof), "pValue": float(res.pvalue)})

chi2_sf = [{"x": x, "df": df, "sf": float(stats.chi2.sf(x, df))}
           for df in [1, 2, 3, 7, 20, 49, 100, 999]
           for x in [0.01, 0.5, 1.0, df * 0.5, float(df), df + 3 * np.sqrt(2 * df), df * 3.0 + 30, df * 10.0 + 500]]

doc = {
    "generator": "scripts/gen-drift-fixtures.py",
    "numpy": np.__version__,
    "scipy": scipy.__version__,
    "ks2samp": ks,
    "kstwoSf": kstwo,
    "binned": binned,
    "rawWasserstein": raw_w,
    "chiSquare": chi,
    "chi2Sf": chi2_sf,
}
OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")

#!/usr/bin/env python3
"""Reference values for the baseline builder tests (test/unit/baseline-build.test.ts).

lib/kernel/baseline-build.ts computes the numeric profile of a feature (mean, population std,
type-7 quantiles, equal-frequency edges, bin counts); these values come from numpy so the
tests check it against an independent implementation. Run from the repository root and commit
the output:

    python3 scripts/gen-baseline-fixtures.py   # writes test/fixtures/baseline-fixtures.json

Samples come from numpy's default_rng with fixed seeds, so re-running it reproduces the file
(given the same numpy version, recorded in the output).
"""
import json
import pathlib

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "baseline-fixtures.json"
BINS = 20
QUANTILES = {"p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99}


def bin_index(edges, v):
    """The contract's binIndex: how many edges are at or below v (half-open bins, open tails)."""
    return int(np.searchsorted(edges, v, side="right"))


def profile(name, raw, bins=BINS):
    values = [None if (v is None or np.isnan(v)) else float(v) for v in raw]
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    qs = np.quantile(x, np.arange(bins + 1) / bins, method="linear")
    edges = []
    for e in qs:
        if not edges or e > edges[-1]:
            edges.append(float(e))
    counts = [0] * (len(edges) + 1)
    for v in x:
        counts[bin_index(edges, v)] += 1
    return {
        "name": name,
        "bins": bins,
        "values": values,
        "expected": {
            "count": int(x.size),
            "missing": len(values) - int(x.size),
            "mean": float(np.mean(x)),
            "std": float(np.std(x)),
            "min": float(np.min(x)),
            "max": float(np.max(x)),
            "quantiles": {k: float(np.quantile(x, p, method="linear")) for k, p in QUANTILES.items()},
            "edges": edges,
            "counts": counts,
        },
    }


def main():
    rng = np.random.default_rng(20)
    normal = rng.normal(3.0, 2.0, 1000)
    skewed = rng.lognormal(0.0, 1.0, 777)
    ties = rng.integers(0, 5, 500).astype(np.float64)  # many tied quantiles: edges deduplicated
    with_missing = rng.normal(0.0, 1.0, 300)
    with_missing[rng.choice(300, 40, replace=False)] = np.nan
    cases = [
        profile("normal", normal),
        profile("lognormal", skewed),
        profile("ties", ties),
        profile("with-missing", with_missing),
        profile("constant", np.full(50, 4.25)),
        profile("three-values", np.array([5.0, -1.0, 2.0])),
        profile("single", np.array([7.5])),
        profile("normal-7-bins", normal[:101], bins=7),
    ]
    doc = {"generator": "scripts/gen-baseline-fixtures.py", "numpy": np.__version__, "cases": cases}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

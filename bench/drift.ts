/**
 * Drift statistics: (1) one numeric feature, BENCH_DRIFT_ROWS (default 1e6) reference × as many
 * current rows, the whole statistic set (equal-frequency edges, binning, JS, PSI, binned
 * Wasserstein/σ and KS, raw two-sample KS and raw Wasserstein) against scipy/numpy doing the same
 * in the same run (skipped with a note when python3 with scipy is absent); (2) a window of
 * BENCH_DRIFT_FEATURES (default 100) numeric features against one, BENCH_DRIFT_WINDOW_ROWS (default
 * 200k) rows given as column batches (profiling + detection: linear in features); (3) binning throughput. Never asserts.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createPrng } from '../lib/clients/training/prng.js';
import { binIndex } from '../lib/kernel/baseline-profile.js';
import { detectDrift } from '../lib/kernel/drift/decide.js';
import { numericDrift } from '../lib/kernel/drift/numeric.js';
import { numericProfile, profileColumns } from '../lib/kernel/drift/reference.js';
import { windowAccumulator } from '../lib/kernel/drift/window-build.js';
import { envInt, ratio, seconds, table } from './stats.js';

export const driftOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({
  rows: envInt('BENCH_DRIFT_ROWS', 1_000_000, env),
  features: envInt('BENCH_DRIFT_FEATURES', 100, env),
  windowRows: envInt('BENCH_DRIFT_WINDOW_ROWS', 200_000, env),
  runs: envInt('BENCH_DRIFT_RUNS', 5, env),
});
type Options = ReturnType<typeof driftOptionsFromEnv>;

// The same statistic set in scipy/numpy; prints the best of `runs` times in ms as JSON.
const PYTHON = `
import json, sys, time
import numpy as np
from scipy import stats
from scipy.spatial import distance
n, runs = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
x, y = rng.normal(0, 1, n), rng.normal(0.05, 1, n)
def once():
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 21)))
    c1 = np.bincount(np.searchsorted(edges, x, side='right'), minlength=len(edges) + 1)
    c2 = np.bincount(np.searchsorted(edges, y, side='right'), minlength=len(edges) + 1)
    js = distance.jensenshannon(c1, c2, base=2)
    p = (c1 + 0.5) / (c1.sum() + 0.5 * len(c1)); q = (c2 + 0.5) / (c2.sum() + 0.5 * len(c2))
    psi = np.sum((q - p) * np.log(q / p))
    w = np.diff(edges)
    pos = np.concatenate([[edges[0] - w[0] / 2], (edges[:-1] + edges[1:]) / 2, [edges[-1] + w[-1] / 2]])
    wb = stats.wasserstein_distance(pos, pos, c1, c2) / x.std()
    d = np.max(np.abs(np.cumsum(c1) / n - np.cumsum(c2) / n))
    pb = stats.kstwo.sf(d, round(n * n / (2 * n)))
    ks = stats.ks_2samp(x, y)
    wr = stats.wasserstein_distance(x, y) / x.std()
    return js, psi, wb, pb, ks.pvalue, wr
best = float('inf')
for _ in range(runs):
    t = time.perf_counter(); once(); best = min(best, (time.perf_counter() - t) * 1000)
print(json.dumps({"ms": best}))
`;

function scipyMs(o: Options): number | string {
  const r = spawnSync('python3', ['-c', PYTHON, String(o.rows), String(o.runs)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.error || r.status !== 0)
    return `skipped: python3 with numpy/scipy not available (${(r.error?.message ?? r.stderr).trim().split('\n').pop()})`;
  return (JSON.parse(r.stdout) as { ms: number }).ms;
}

function normals(n: number, seed: number, shift = 0): Float64Array {
  const rng = createPrng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() + shift;
  return out;
}

const best = (runs: number, f: () => void): number => {
  let b = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    b = Math.min(b, performance.now() - t);
  }
  return b;
};

/** Profile the reference, bin the window, every statistic, raw KS and Wasserstein included. */
function oneFeature(x: Float64Array, y: Float64Array): number {
  const reference = numericProfile(x);
  const counts = new Array<number>(reference.edges.length + 1).fill(0);
  for (let i = 0; i < y.length; i++) counts[binIndex(reference.edges, y[i]!)]!++;
  const raw = { reference: Float64Array.from(x).sort(), current: Float64Array.from(y).sort() };
  const r = numericDrift({
    feature: 'f',
    reference,
    current: { counts, missing: 0, invalid: 0 },
    threshold: 0.1,
    missingRateChange: 0.1,
    raw,
  });
  return r.js + (r.ks?.pValue ?? 0);
}

/** A window of `features` numeric features as column batches, and its baseline. */
function windowCase(features: number, rows: number) {
  const names = Array.from({ length: features }, (_, j) => `f${j}`);
  const baseline = profileColumns(names.map((name, j) => ({ name, kind: 'numeric' as const, values: normals(rows, 100 + j) })));
  const batch = { rows, features: Object.fromEntries(names.map((n, j) => [n, normals(rows, 1000 + j, 0.05)])) };
  return () => {
    const acc = windowAccumulator(baseline);
    acc.addColumns(batch);
    detectDrift(baseline, acc.profile());
  };
}

/** Profiling + detection of a window of 1 and of `features` features, same rows; warmed up, best of runs, interleaved. */
function windowsMs(features: number, rows: number, runs: number): { one: number; many: number } {
  const one = windowCase(1, rows);
  const many = windowCase(features, rows);
  one();
  many();
  let [a, b] = [Infinity, Infinity];
  for (let i = 0; i < runs; i++) {
    a = Math.min(a, best(1, one));
    b = Math.min(b, best(1, many));
  }
  return { one: a, many: b };
}

export function driftBench(o: Options = driftOptionsFromEnv(), print: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): void {
  print(
    `\n== Drift: one numeric feature, ${o.rows.toLocaleString('en-US')} reference × current rows; ${o.features} features vs 1; binning ==`,
  );
  const x = normals(o.rows, 1);
  const y = normals(o.rows, 2, 0.05);
  const ours = best(o.runs, () => oneFeature(x, y));
  const ref = scipyMs(o);
  const w = windowsMs(o.features, o.windowRows, o.runs);
  const edges = numericProfile(x).edges;
  const binMs = best(o.runs, () => {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += binIndex(edges, y[i]!);
    if (s < 0) print('');
  });
  print('');
  print(
    table(
      ['measurement', 'time (best of runs)', 'ratio', 'goal'],
      [
        ['whole statistic set, Aegis', seconds(ours), typeof ref === 'number' ? `${ratio(ours / ref)} of scipy` : 'n/a', '≤ 0.75× scipy'],
        ['whole statistic set, scipy/numpy', typeof ref === 'number' ? seconds(ref) : ref, '', ''],
        [`window of 1 feature × ${o.windowRows} rows (profile + detect)`, seconds(w.one), '', ''],
        [
          `window of ${o.features} features × ${o.windowRows} rows`,
          seconds(w.many),
          `${ratio(w.many / (o.features * w.one))} of ${o.features} × one`,
          '≤ 1.1×',
        ],
        [`binning ${edges.length + 1} bins`, seconds(binMs), `${(y.length / binMs / 1000).toFixed(1)} M values/s`, ''],
      ],
    ),
  );
}

/**
 * Drift windows over serving's input segments: BENCH_DRIFT_SEGMENT_ROWS (default 200k) single-row
 * requests × BENCH_DRIFT_SEGMENT_FEATURES (default 5) numeric features, written as segments of
 * 5000 lines (serving's default) to a filesystem drift store in a temp folder, then `windowOf`
 * (list, stream, parse, check, bin, labels joined) in rows/s, against the reference measured in
 * the same run: reading the same segments and `JSON.parse` of every line, nothing else. Also the
 * same window as 4 shards merged. Never asserts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createPrng } from '../lib/clients/training/prng.js';
import { buildBaseline } from '../lib/kernel/baseline-build.js';
import type { BaselineProfile } from '../lib/kernel/baseline-profile.js';
import { FsObjectStore } from '../lib/platform/adapters/object-store/fs.js';
import { DriftWindows, planShards, type ShardWindow, type WindowQuery } from '../lib/modules/drift/service.js';
import { envInt, ratio, seconds, table } from './stats.js';

export const driftWindowsOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({
  rows: envInt('BENCH_DRIFT_SEGMENT_ROWS', 200_000, env),
  features: envInt('BENCH_DRIFT_SEGMENT_FEATURES', 5, env),
  runs: envInt('BENCH_DRIFT_RUNS', 5, env),
});
type Options = ReturnType<typeof driftWindowsOptionsFromEnv>;

const SEGMENT_LINES = 5000;
const AT = '2026-11-30T07:30:00.000Z';

async function writeSegments(store: FsObjectStore, o: Options): Promise<BaselineProfile> {
  const prng = createPrng(7);
  const rand = () => prng.next();
  const names = Array.from({ length: o.features }, (_, j) => `f${j}`);
  const baseline = buildBaseline({
    columns: names.map((name) => ({ name, kind: 'numeric' as const, values: Array.from({ length: 10_000 }, () => rand()) })),
    predictions: { score: 'p(1)', values: Array.from({ length: 1000 }, () => rand()) },
  });
  for (let start = 0, seg = 0; start < o.rows; start += SEGMENT_LINES, seg++) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(o.rows, start + SEGMENT_LINES); i++) {
      const p = rand();
      lines.push(
        JSON.stringify({
          requestId: `r-${i}`,
          at: AT,
          variant: 'stable',
          artifactId: 'a1',
          latencyMs: 1,
          error: false,
          inputs: [names.map(() => rand() * 1.1)],
          predictions: [{ label: p > 0.5 ? '1' : '0', probabilities: { '0': 1 - p, '1': p } }],
        }),
      );
    }
    await store.put(`serving-inputs/m/prod/2026-11-30/07/20261130T07${String(seg).padStart(4, '0')}Z-x.jsonl`, `${lines.join('\n')}\n`);
  }
  return baseline;
}

async function bestOf(runs: number, f: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

export async function driftWindowsBench(
  o: Options = driftWindowsOptionsFromEnv(),
  print: (s: string) => void = (s) => process.stdout.write(`${s}\n`),
): Promise<void> {
  print(
    `\n== Drift windows: ${o.rows.toLocaleString('en-US')} served rows × ${o.features} features in segments of ${SEGMENT_LINES} lines ==`,
  );
  const root = await mkdtemp(join(tmpdir(), 'aegis-bench-drift-windows-'));
  try {
    const store = new FsObjectStore({ root });
    const baseline = await writeSegments(store, o);
    const windows = new DriftWindows({
      segments: store,
      store,
      registry: { get: async () => undefined },
      labels: { labels: async (_m, _e, ids) => new Map(ids.filter((_, i) => i % 10 === 0).map((id) => [id, '1'])) },
    });
    const q: WindowQuery = {
      model: 'm',
      env: 'prod',
      artifactId: 'a1',
      from: new Date('2026-11-30T07:00:00Z'),
      to: new Date('2026-11-30T08:00:00Z'),
    };
    const keys = (await windows.segmentsOf(q)).map((s) => s.key);
    let rows = 0;
    const ours = await bestOf(o.runs, async () => {
      rows = (await windows.windowOfShard(q, baseline, keys)).profile.rows;
    });
    const sharded = await bestOf(o.runs, async () => {
      const shards = await Promise.all(planShards(keys, 4).map((k) => windows.windowOfShard(q, baseline, k)));
      DriftWindows.windowFrom(q, 's', shards as [ShardWindow, ...ShardWindow[]]);
    });
    const parse = await bestOf(o.runs, async () => {
      for (const key of keys)
        for await (const line of createInterface({ input: await store.get(key), crlfDelay: Infinity })) if (line) JSON.parse(line);
    });
    if (rows !== o.rows) throw new Error(`the window counted ${rows} rows of ${o.rows}`);
    const perS = (msValue: number) => `${Math.round(o.rows / (msValue / 1000)).toLocaleString('en-US')} rows/s`;
    print('');
    print(
      table(
        ['measurement', 'time (best of runs)', 'throughput', 'ratio'],
        [
          [`windowOf, ${keys.length} segments in one pass`, seconds(ours), perS(ours), `${ratio(ours / parse)} of JSON.parse`],
          ['the same as 4 shards (one process) merged', seconds(sharded), perS(sharded), `${ratio(sharded / parse)} of JSON.parse`],
          ['reference: read + JSON.parse every line', seconds(parse), perS(parse), ''],
        ],
      ),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

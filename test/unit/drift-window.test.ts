/**
 * Drift windows over hand-written input segments in a filesystem drift store: hour prefixes
 * and the [from, to) edges, lines of other artifacts and variants skipped and counted, bad
 * lines named, labels joined, shards that add (one pass = the merge of N shards), and the
 * report body with both histograms.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildBaseline } from '../../lib/kernel/baseline-build.js';
import type { BaselineProfile } from '../../lib/kernel/baseline-profile.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { detectWindow } from '../../lib/modules/drift/detect.js';
import { hourPrefixes, listSegments } from '../../lib/modules/drift/segments.js';
import { DriftWindows, planShards, type ShardWindow, type WindowQuery } from '../../lib/modules/drift/service.js';

let root: string;
let store: FsObjectStore;
const labels = new Map<string, string>();
const labelSource = {
  calls: 0,
  async labels(model: string, env: string, ids: readonly string[]) {
    this.calls++;
    expect(`${model}/${env}`).toBe('churn/prod');
    return new Map(ids.flatMap((id) => (labels.has(id) ? [[id, labels.get(id)!] as const] : [])));
  },
};

// a baseline of two numeric features, one categorical, a label and binary scores
const baseline: BaselineProfile = buildBaseline({
  columns: [
    { name: 'age', kind: 'numeric', values: Array.from({ length: 400 }, (_, i) => 20 + (i % 40)) },
    { name: 'income', kind: 'numeric', values: Array.from({ length: 400 }, (_, i) => 1000 * (i % 50)) },
    { name: 'plan', kind: 'categorical', values: Array.from({ length: 400 }, (_, i) => ['a', 'b', 'c'][i % 3]!) },
  ],
  label: { column: 'churned', values: Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? '1' : '0')) },
  predictions: { score: 'p(1)', values: Array.from({ length: 400 }, (_, i) => (i % 100) / 100) },
  holdoutMetrics: { accuracy: 0.9, auc: 0.8, logLoss: 0.3 },
});

const ART = 'art-1';
const line = (o: Record<string, unknown>) =>
  JSON.stringify({
    requestId: 'r',
    at: '2026-11-30T07:30:00.000Z',
    variant: 'stable',
    artifactId: ART,
    latencyMs: 3,
    error: false,
    inputs: [[30, 5000, 'a']],
    predictions: [{ label: '0', probabilities: { '0': 0.8, '1': 0.2 } }],
    ...o,
  });
const put = (hour: string, id: string, lines: string[]) =>
  store.put(`serving-inputs/churn/prod/2026-11-30/${hour}/20261130T${hour}0000Z-${id}.jsonl`, `${lines.join('\n')}\n`);

const q = (o: Partial<WindowQuery> = {}): WindowQuery => ({
  model: 'churn',
  env: 'prod',
  artifactId: ART,
  from: new Date('2026-11-30T07:15:00Z'),
  to: new Date('2026-11-30T09:00:00Z'),
  ...o,
});
const windows = () =>
  new DriftWindows({
    segments: store,
    labels: labelSource,
    registry: { get: async () => undefined },
    store,
  });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aegis-drift-window-'));
  store = new FsObjectStore({ root });
  await put('07', 'a', [
    line({ requestId: 'early', at: '2026-11-30T07:14:59.999Z' }), // before from
    line({ requestId: 'r1', at: '2026-11-30T07:15:00.000Z', inputs: [{ age: 30, income: 5000, plan: 'a' }] }),
    'not json at all',
    line({ requestId: 'r2', inputs: [[30, 5000]] }), // the wrong width
    line({ requestId: 'other', artifactId: 'art-2' }),
    '',
    line({ requestId: 'r3', variant: 'canary', inputs: [{ age: 61, plan: 'zzz', extra: 1 }], predictions: null, error: true }),
  ]);
  await put('08', 'b', [
    line({
      requestId: 'r4',
      at: '2026-11-30T08:59:59.999Z',
      inputs: [
        [25, 1000, 'b'],
        [26, 2000, 'c'],
      ],
      predictions: [
        { label: '0', probabilities: { '0': 0.6, '1': 0.4 } },
        { label: '1', probabilities: { '0': 0.3, '1': 0.7 } },
      ],
    }),
    line({
      requestId: 'r5',
      variant: 'shadow',
      at: '2026-11-30T08:10:00Z',
      predictions: [{ label: '1', probabilities: { '0': 0.1, '1': 0.9 } }],
    }),
    JSON.stringify({ requestId: 'r6', at: 'yesterday', variant: 'stable', artifactId: ART, inputs: [[1, 2, 'a']], predictions: null }),
  ]);
  await put('09', 'c', [line({ requestId: 'late', at: '2026-11-30T09:00:00.000Z' })]); // at `to`: the next window's
  await store.put('serving-inputs/churn/staging/2026-11-30/08/x.jsonl', `${line({ requestId: 'staging' })}\n`);
  labels.set('r1', '0').set('r5', '0').set('r4', '1');
}, 30_000);
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the segment reader', () => {
  it('lists the hours [from, to) touches, in time order, across a day boundary', () => {
    expect(hourPrefixes({ model: 'm', env: 'e', from: new Date('2026-11-30T22:59:00Z'), to: new Date('2026-12-01T00:00:01Z') })).toEqual([
      'serving-inputs/m/e/2026-11-30/22/',
      'serving-inputs/m/e/2026-11-30/23/',
      'serving-inputs/m/e/2026-12-01/00/',
    ]);
  });

  it('lists the deployment’s segments of those hours only, in key order', async () => {
    const keys = (await listSegments(store, q())).map((s) => s.key);
    expect(keys).toEqual([
      'serving-inputs/churn/prod/2026-11-30/07/20261130T070000Z-a.jsonl',
      'serving-inputs/churn/prod/2026-11-30/08/20261130T080000Z-b.jsonl',
    ]);
  });
});

describe('windowOfShard / windowOf', () => {
  let shard: ShardWindow;
  beforeAll(async () => {
    const keys = (await listSegments(store, q())).map((s) => s.key);
    shard = await windows().windowOfShard(q(), baseline, keys);
  });

  it('counts the window’s lines of the artifact, skipping and counting the rest', () => {
    expect(shard).toMatchObject({ segments: 2, lines: 9, requests: 4, failed: 1 });
    expect(shard.skipped).toEqual({ otherArtifact: 1, otherVariant: 0, outOfRange: 1, bad: 3 });
    expect(shard.problems).toEqual([
      { key: 'serving-inputs/churn/prod/2026-11-30/07/20261130T070000Z-a.jsonl', line: 3, problem: 'not JSON' },
      {
        key: 'serving-inputs/churn/prod/2026-11-30/07/20261130T070000Z-a.jsonl',
        line: 4,
        problem: 'inputs[0] has 2 values; the baseline has 3 features',
      },
      { key: 'serving-inputs/churn/prod/2026-11-30/08/20261130T080000Z-b.jsonl', line: 3, problem: 'at is not a time' },
    ]);
    expect(shard.unknownFeatures).toEqual({ extra: 1 });
  });

  it('bins every row with the baseline’s edges: rows, missing, unseen categories, scores', () => {
    const p = shard.profile;
    expect(p.rows).toBe(5); // r1, r3, r4 (two rows), r5
    const age = p.features.age!;
    const income = p.features.income!;
    const plan = p.features.plan!;
    if (age.kind !== 'numeric' || income.kind !== 'numeric' || plan.kind !== 'categorical') throw new Error('kinds');
    expect(age.counts.reduce((s, c) => s + c, 0)).toBe(5);
    expect(income.missing).toBe(1); // r3 has no income
    expect(plan.unseen).toEqual({ zzz: 1 });
    expect(p.predictions!.missing).toBe(1); // r3 failed
    expect(p.predictions!.counts.reduce((s, c) => s + c, 0)).toBe(4);
  });

  it('joins labels of single-row requests only (r4 has two rows), and counts predicted vs actual', () => {
    expect(shard.labelled).toBe(2); // r1 (0, predicted 0) and r5 (0, predicted 1)
    expect(shard.profile.label!.counts).toEqual([2, 0]);
    expect(shard.profile.performance).toMatchObject({ labelled: 2, correct: 1, scored: 2 });
  });

  it('names a segment deleted between listing and reading (retention), and counts the rest', async () => {
    const gone = 'serving-inputs/churn/prod/2026-11-30/07/20261130T075959Z-gone.jsonl';
    const s = await windows().windowOfShard(q(), baseline, [gone, 'serving-inputs/churn/prod/2026-11-30/08/20261130T080000Z-b.jsonl']);
    expect(s.problems[0]).toEqual({ key: gone, line: 0, problem: 'the segment was deleted after it was listed' });
    expect(s).toMatchObject({ segments: 2, requests: 2 });
  });

  it('leaves out variants the query does not name', async () => {
    const keys = (await listSegments(store, q())).map((s) => s.key);
    const s = await windows().windowOfShard(q({ variants: ['stable'] }), baseline, keys);
    expect(s.skipped.otherVariant).toBe(2);
    expect(s.requests).toBe(2);
  });

  it('refuses a query without a window, naming the field', async () => {
    await expect(windows().segmentsOf(q({ to: new Date('2026-11-30T07:00:00Z') }))).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'to',
    });
    await expect(windows().segmentsOf(q({ from: new Date('x') }))).rejects.toMatchObject({ field: 'from' });
    await expect(windows().segmentsOf(q({ model: '' }))).rejects.toMatchObject({ field: 'model' });
  });

  it('the report body: detectors, both histograms per feature, what the window skipped', () => {
    const w = DriftWindows.windowFrom(q(), 'sha', [shard]);
    const r = detectWindow(w, baseline, { minRows: 1 });
    expect(r.reportFormat).toBe('aegis.drift-window-report/v1');
    expect(r.features.map((f) => f.feature)).toEqual(['age', 'income', 'plan']);
    const age = r.features[0]!;
    expect(age.histograms).toMatchObject({
      edges: (baseline.features.age as { edges: number[] }).edges,
      current: (w.profile.features.age as { counts: number[] }).counts,
    });
    expect(r.features[2]!.histograms).toMatchObject({ categories: ['a', 'b', 'c'] });
    expect(r.window).toMatchObject({ artifactId: ART, requests: 4, skipped: { bad: 3 } });
    expect(r.window).not.toHaveProperty('profile');
    expect(r.predictionHistogram!.current).toEqual(w.profile.predictions!.counts);
    expect(['drift', 'no-drift']).toContain(r.verdict);
    expect(detectWindow(w, baseline).verdict).toBe('insufficient-data'); // 5 rows < the 1000-row guard
  });
});

describe('shards add', () => {
  it('planShards: consecutive keys, never an empty shard, by size when known', () => {
    expect(planShards(['a', 'b', 'c', 'd', 'e'], 2)).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
    expect(planShards(['a', 'b'], 5)).toEqual([['a'], ['b']]);
    expect(planShards([], 3)).toEqual([]);
    expect(
      planShards(
        [
          { key: 'a', size: 100 },
          { key: 'b', size: 1 },
          { key: 'c', size: 1 },
        ],
        2,
      ),
    ).toEqual([['a'], ['b', 'c']]);
    expect(() => planShards(['a'], 0)).toThrow(/shards/);
  });

  it('a window counted in one pass equals the merge of its N shards (property)', async () => {
    const row = fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 90 }), fc.constant(null)),
      fc.integer({ min: 0, max: 60_000 }),
      fc.constantFrom('a', 'b', 'c', 'new', null),
    );
    const segLine = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          id: fc.uuid(),
          rows: fc.array(row, { minLength: 1, maxLength: 3 }),
          art: fc.constantFrom(ART, ART, 'art-2'),
          p: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
      },
      { weight: 1, arbitrary: fc.constant('bad') },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(segLine, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 6 }),
        async (segments, n) => {
          const day = `2026-10-${String(1 + (run++ % 28)).padStart(2, '0')}`;
          const keys: string[] = [];
          for (const [i, lines] of segments.entries()) {
            const key = `serving-inputs/churn/prod/${day}/10/${run}-${i}.jsonl`;
            keys.push(key);
            const text = lines.map((l) =>
              l === 'bad'
                ? '{"requestId":'
                : line({
                    requestId: l.id,
                    at: `${day}T10:00:00Z`,
                    artifactId: l.art,
                    inputs: l.rows,
                    predictions: l.rows.map(() => ({ label: l.p > 0.5 ? '1' : '0', probabilities: { '1': l.p, '0': 1 - l.p } })),
                  }),
            );
            await store.put(key, `${text.join('\n')}\n`);
            if (l0(lines)) labels.set(l0(lines)!, '1');
          }
          const query = q({ from: new Date(`${day}T00:00:00Z`), to: new Date(`${day}T23:00:00Z`) });
          const w = windows();
          const one = DriftWindows.windowFrom(query, 's', [await w.windowOfShard(query, baseline, keys)]);
          const shards = await Promise.all(planShards(keys, n).map((k) => w.windowOfShard(query, baseline, k)));
          const merged = DriftWindows.windowFrom(query, 's', shards as [ShardWindow, ...ShardWindow[]]);
          // Σ −ln p in another order differs in the last bits only
          expect(merged.profile.performance?.logLossSum ?? 0).toBeCloseTo(one.profile.performance?.logLossSum ?? 0, 9);
          const strip = (x: typeof one) => ({
            ...x,
            profile: { ...x.profile, performance: x.profile.performance && { ...x.profile.performance, logLossSum: 0 } },
          });
          expect(strip(merged)).toEqual(strip(one));
        },
      ),
      { numRuns: 25 },
    );
  });
});

/** The request id of a segment's first good line (labelled in the property, so labels join in every shard). */
const l0 = (lines: readonly (string | { id: string })[]) => lines.map((l) => (typeof l === 'string' ? undefined : l.id)).find((x) => x);

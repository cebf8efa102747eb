/**
 * Drift windows on the local stack: real predictions served through the HTTP server with
 * AEGIS_SERVING_SAMPLE_RATE=1 write input segments to the data folder's drift store, labels
 * come through the feedback route, and windowOf over them (the registered artifact's pinned
 * baseline, serving's labels through its service) equals the counts computed directly from
 * what was sent and answered.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BaselineProfile } from '../../lib/kernel/baseline-profile.js';
import { windowAccumulator } from '../../lib/kernel/drift/window-build.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { detectWindow } from '../../lib/modules/drift/detect.js';
import { DriftWindows, planShards, type ShardWindow } from '../../lib/modules/drift/service.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { trainedSample } from '../support/trained-sample.js';

let stack: Stack;
let work: string;
let artifactId: string;
let baseline: BaselineProfile;
let baselineSha: string;
const from = new Date(Date.now() - 60_000);
const sent: { id: string; rows: number[][]; label?: string; predictions: { label: string; probabilities: Record<string, number> }[] }[] =
  [];

const row = (i: number) => [20 + (i % 50), 10_000 + 997 * i, (i % 10) / 10, (i % 7) / 7, 95 + (i % 11)];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-drift-window-'));
  stack = await startStack({ AEGIS_SERVING_ROUTE_CACHE_SECONDS: '0', AEGIS_SERVING_SAMPLE_RATE: '1' });
  const invoker = (await stack.api('POST', '/v1/tokens', { principal: 'app', role: 'invoker' })).body.token as string;
  ({ artifactId, baseline, baselineSha256: baselineSha } = await trainedSample(stack, work));
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${stack.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${invoker}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  for (let i = 0; i < 60; i++) {
    const rows = i % 10 === 9 ? [row(i), row(i + 100)] : [row(i)];
    const inputs = i % 2 ? rows : rows.map(([age, income, ratio, weak, noise]) => ({ age, income, ratio, weak_signal: weak, noise }));
    const res = await call('/v1/serving/churn/staging/predict', { requestId: `dw-${i}`, inputs });
    expect(res.status).toBe(200);
    sent.push({ id: `dw-${i}`, rows, predictions: res.body.predictions, ...(i % 3 === 0 ? { label: i % 2 ? '1' : '0' } : {}) });
  }
  const items = sent.filter((s) => s.label !== undefined).map((s) => ({ requestId: s.id, label: s.label }));
  expect((await call('/v1/serving/churn/staging/feedback', { items })).status).toBe(202);
  await stack.container.serving.flush(); // the buffered segments written now
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
});

const windows = () =>
  new DriftWindows({
    segments: new FsObjectStore({ root: join(stack.dataDir, 'drift') }),
    registry: stack.container.registry,
    store: stack.container.store,
    labels: stack.container.serving,
  });
const query = () => ({ model: 'churn', env: 'staging', artifactId, from, to: new Date(Date.now() + 60_000) });

/** The window computed directly from what was sent, answered and labelled (score p(1) of the positive class 1). */
function direct() {
  const acc = windowAccumulator({ ...baseline, predictions: { ...baseline.predictions!, score: '1' } });
  for (const s of sent)
    s.rows.forEach((r, i) =>
      acc.add({
        features: Object.fromEntries(baseline.featureOrder.map((f, j) => [f, r[j]])),
        label: s.rows.length === 1 ? s.label : undefined,
        predicted: s.predictions[i]!.label,
        score: s.predictions[i]!.probabilities['1']!,
      }),
    );
  return acc.profile();
}

describe('windowOf over served segments', () => {
  it('reads the pinned baseline of the serving artifact and counts every served row, labels joined', async () => {
    expect(baseline.predictions?.score).toBe('p(1)');
    const r = await windows().windowOf(query());
    if (r.kind !== 'window') throw new Error(r.reason);
    const w = r.window;
    expect(w.baselineSha256).toBe(baselineSha);
    expect(w).toMatchObject({
      requests: 60,
      failed: 0,
      skipped: { otherArtifact: 0, otherVariant: 0, outOfRange: 0, bad: 0 },
      problems: [],
    });
    expect(w.lines).toBe(60);
    expect(w.segments).toBeGreaterThanOrEqual(1);
    expect(w.labelled).toBe(sent.filter((s) => s.label !== undefined && s.rows.length === 1).length);
    const expected = direct();
    expect(w.profile.rows).toBe(66);
    expect({ ...w.profile, performance: { ...w.profile.performance!, logLossSum: 0 } }).toEqual({
      ...expected,
      performance: { ...expected.performance!, logLossSum: 0 },
    });
    expect(w.profile.performance!.logLossSum).toBeCloseTo(expected.performance!.logLossSum, 9);
    const report = detectWindow(w, r.baseline, { minRows: 10, minLabelled: 5 });
    expect(report.features.map((f) => f.feature)).toEqual(baseline.featureOrder);
    expect(report.performance.labelled).toBe(w.labelled);
  });

  it('the same window from 3 shards merged; another artifact’s window counts nothing but what it skipped', async () => {
    const dw = windows();
    const keys = (await dw.segmentsOf(query())).map((s) => s.key);
    const shards = await Promise.all(planShards(keys, 3).map((k) => dw.windowOfShard(query(), baseline, k)));
    const merged = DriftWindows.windowFrom(query(), baselineSha, shards as [ShardWindow, ...ShardWindow[]]);
    expect(merged.profile.features).toEqual(direct().features);
    const other = await dw.windowOfShard({ ...query(), artifactId: 'someone-else' }, baseline, keys);
    expect(other).toMatchObject({ requests: 0, skipped: { otherArtifact: 60 } });
  });
});

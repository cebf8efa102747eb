/**
 * Issue 18 on the local stack: where serving events reach the database through the ingest (as
 * on AWS), the rollout step ends each canary window at the ingest watermark minus the grace, not
 * at now. Events after it are not counted; they (and events that arrived late) are counted by
 * the stage's next window. The judge is the real one, over the real serving tables, with the
 * Lambda recorder's view of how far the events are complete; the events are ingested as
 * `serving-ingest` inserts them, right when the step asks.
 */
import { randomBytes } from 'node:crypto';
import { latencyBucket } from '../../lib/kernel/canary-metrics.js';
import { MetricsRolloutJudge } from '../../lib/modules/rollout/canary.js';
import { LogLineEventRecorder, servingEventLine } from '../../lib/modules/serving/event-log.js';
import { ingestLogLines } from '../../lib/modules/serving/ingest.js';
import { agreementWindow } from '../../lib/modules/serving/store-agreement.js';
import { metricsWindow } from '../../lib/modules/serving/store.js';
import type { MetricsSource } from '../../lib/platform/ports/canary-metrics.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { settled } from './support.js';

const MODEL = 'watermarked';
const KEY = `${MODEL}/canary`;
const GRACE_SECONDS = 0.2;

let stack: Stack;
let stableId: string;
let canaryId: string;
let seq = 0;

/** The serving tables as the judge reads them, complete up to what the Lambda recorder says. */
const source: MetricsSource = {
  window: (deploymentKey, variant, artifactId, from, to) =>
    metricsWindow(stack.container.database.db, { deploymentKey, variant, artifactId, from, to }),
  agreement: (deploymentKey, stableArtifactId, shadowArtifactId, from, to) =>
    agreementWindow(stack.container.database.db, { deploymentKey, stableArtifactId, shadowArtifactId, from, to }),
  settledUntil: (deploymentKey, now) =>
    new LogLineEventRecorder({ database: stack.container.database, graceSeconds: GRACE_SECONDS }, () => undefined).settledUntil(
      deploymentKey,
      now,
    ),
};

/** The real judge; before it says where the window ends, the test's next delivery is ingested. */
class IngestingJudge extends MetricsRolloutJudge {
  readonly nows: Date[] = [];
  readonly deliveries: ((now: Date) => Promise<void>)[] = [];
  override async settledUntil(modelName: string, env: string, now: Date): Promise<Date> {
    this.nows.push(now);
    await this.deliveries.shift()?.(now);
    return super.settledUntil(modelName, env, now);
  }
}
const judge = new IngestingJudge(source);

/** `n` requests of each variant at `at`, ingested as one subscription delivery; how many arrived late. */
async function deliver(n: number, at: Date, now: Date): Promise<number> {
  const lines = (['stable', 'canary'] as const).flatMap((variant) =>
    Array.from({ length: n }, () => {
      const requestId = `wm-${++seq}`;
      const row = {
        request_id: requestId,
        deployment_key: KEY,
        variant,
        artifact_id: variant === 'stable' ? stableId : canaryId,
        promotion_id: null,
        at,
        latency_ms: 4,
        latency_bucket: latencyBucket(4),
        error: false,
        cold: false,
        prediction: null,
      };
      return { id: requestId, message: servingEventLine(row) };
    }),
  );
  const r = await ingestLogLines(stack.container.database.db, lines, { now, graceSeconds: GRACE_SECONDS });
  expect(r.events).toBe(2 * n);
  return r.late;
}
const before = (now: Date, ms: number) => new Date(now.getTime() - ms);

beforeAll(async () => {
  // real waits: the window must span time in which events can be placed before and after its end
  stack = await startStack({}, { judge });
  const registered = async () => {
    const r = await uploadAndRegister(stack, MODEL, randomBytes(900));
    expect(r.status).toBe(201);
    return r.body.artifactId as string;
  };
  const promote = async (artifactId: string, targetEnv: string, canary?: Record<string, unknown>) => {
    const r = await stack.api('POST', `/v1/registry/${artifactId}/promote`, { reason: 'test', targetEnv, ...(canary && { canary }) });
    expect(r.status).toBe(201);
    return settled(stack, r.body.promotionId);
  };
  stableId = await registered();
  canaryId = await registered();
  for (const a of [stableId, canaryId]) expect((await promote(a, 'staging')).status).toBe('succeeded');
  expect((await promote(stableId, 'canary', { steps: 0 })).status).toBe('succeeded');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

it('judges each window up to the ingest watermark minus the grace, and counts what came after it in the next window', async () => {
  const late: number[] = [];
  // window 1: 6 requests per arm well before its end, 6 more 300 ms before now: the watermark
  // is there, so the window ends 200 ms (the grace) earlier and leaves them out
  judge.deliveries.push(async (now) => {
    late.push(await deliver(6, before(now, 1000), now));
    late.push(await deliver(6, before(now, 300), now));
  });
  // window 2: one request per arm arrives late (behind window 1's end), 6 more at the new head
  judge.deliveries.push(async (now) => {
    late.push(await deliver(1, before(judge.nows[0]!, 600), now));
    late.push(await deliver(6, before(now, 300), now));
  });
  const r = await stack.api('POST', `/v1/registry/${canaryId}/promote`, {
    reason: 'test',
    targetEnv: 'canary',
    canary: { percent: 50, steps: 1, windowSeconds: 2, minRequests: 10, maxInconclusive: 2 },
  });
  expect(r.status).toBe(201);
  const p = await settled(stack, r.body.promotionId, 40_000);
  const [n1, n2] = judge.nows;
  const [w1, w2] = p.verdicts;
  expect(w1).toMatchObject({ verdict: 'inconclusive', requests: { stable: 6, canary: 6 }, to: before(n1!, 500).toISOString() });
  expect(w2).toMatchObject({ requests: { stable: 13, canary: 13 }, to: before(n2!, 500).toISOString() });
  // the stage's windows accumulate from one start, and never end after the step's now
  expect(w2.from).toBe(w1.from);
  expect(Date.parse(w1.from)).toBeLessThan(Date.parse(w1.to));
  expect(late).toEqual([0, 0, 2, 0]);
  expect(p.status).toMatch(/^(succeeded|rolled_back)$/);
}, 60_000);

it('ends the window at its start when nothing of the deployment was ingested (no traffic: inconclusive)', async () => {
  const quiet = await uploadAndRegister(stack, 'watermarked-quiet', randomBytes(900));
  const promote = (targetEnv: string, canary?: Record<string, unknown>) =>
    stack.api('POST', `/v1/registry/${quiet.body.artifactId}/promote`, { reason: 'test', targetEnv, ...(canary && { canary }) });
  expect((await settled(stack, (await promote('staging')).body.promotionId)).status).toBe('succeeded');
  const r = await promote('canary', { percent: 50, steps: 1, windowSeconds: 1, maxInconclusive: 0 });
  const p = await settled(stack, r.body.promotionId, 20_000);
  expect(p.status).toBe('rolled_back');
  expect(p.verdicts).toEqual([
    expect.objectContaining({ verdict: 'inconclusive', reason: 'insufficient-traffic', requests: { stable: 0, canary: 0 } }),
  ]);
  expect(p.verdicts[0].to).toBe(p.verdicts[0].from);
}, 30_000);

import { randomBytes } from 'node:crypto';
import { LOCAL_SCHEDULE_MS } from '../../lib/platform/composition/jobs.js';
import { PromotionService } from '../../lib/modules/promotion/service.js';
import { FakeTimers } from '../support/fake-timers.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ShiftedClock } from './support.js';

/**
 * Pending multisig promotions are swept on a schedule (issue 9), not only when touched: the
 * in-process scheduler's timer is fired by hand and the clock shifted, no sleeps. On AWS the
 * same job is an EventBridge rule invoking lambdas/pending-promotion-expiry.ts.
 */
const DAY = 86_400_000;
const EVERY = LOCAL_SCHEDULE_MS['pending-promotion-expiry'];

let stack: Stack;
let clock: ShiftedClock;
let timers: FakeTimers;

beforeAll(async () => {
  clock = new ShiftedClock();
  timers = new FakeTimers();
  stack = await startStack({}, { clock, timers, waitMs: 5 });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const db = () => stack.container.database.db;
const row = (id: string) =>
  db().selectFrom('promotions').select(['status', 'in_flight_key']).where('promotion_id', '=', id).executeTakeFirstOrThrow();
const expiredEvents = async (id: string) =>
  (await stack.api('GET', `/v1/audit?subject=promotion:${id}&type=promotion.expired&limit=100`)).body.items as {
    actor: string;
    payload: any;
  }[];

/** A critical rollback to an artifact that never served: it waits for approvals (critical-rollback-multisig), and nobody approves. */
async function pending(model: string) {
  const r = await uploadAndRegister(stack, model, randomBytes(500));
  expect(r.status).toBe(201);
  const res = await stack.api('POST', `/v1/registry/models/${model}/rollback`, {
    targetEnv: 'staging',
    toArtifactId: r.body.artifactId,
    reason: 'incident',
    critical: true,
  });
  expect(res.status).toBe(202);
  return res.body.promotionId as string;
}

/** Fires the expiry job's timer (the archive shares its period) and joins the run it started. */
async function fireExpiry() {
  expect(timers.fire(EVERY)).toBeGreaterThanOrEqual(1);
  return stack.container.scheduler.run('pending-promotion-expiry');
}

describe('pending promotions expire on a schedule', () => {
  it('marks those past their expiry expired, audited by system, without anyone touching them; a repeated run changes nothing', async () => {
    const older = await pending('sweep-a');
    clock.advance(3 * DAY);
    const newer = await pending('sweep-b');
    clock.advance(4 * DAY + 60_000); // older is 7 days and a minute old, newer 4 days

    expect(await fireExpiry()).toEqual({ expired: [older], more: false });
    expect(await row(older)).toEqual({ status: 'expired', in_flight_key: null });
    expect((await row(newer)).status).toBe('pending_multisig');
    const ev = await expiredEvents(older);
    expect(ev).toEqual([
      expect.objectContaining({ actor: 'system', payload: expect.objectContaining({ promotionId: older, status: 'expired' }) }),
    ]);
    expect(Date.parse(ev[0]!.payload.at)).toBeGreaterThanOrEqual(Date.parse(ev[0]!.payload.expiresAt));

    expect(await fireExpiry()).toEqual({ expired: [], more: false });
    expect(await expiredEvents(older)).toHaveLength(1);

    clock.advance(3 * DAY);
    expect(await fireExpiry()).toEqual({ expired: [newer], more: false });
    // the model and environment are free again
    expect((await stack.api('GET', '/v1/audit/verify')).body.ok).toBe(true);
  });

  it('closes at most a batch per run, oldest first, and says when more is left', async () => {
    const ids: string[] = [];
    for (const model of ['batch-a', 'batch-b', 'batch-c']) {
      ids.push(await pending(model));
      clock.advance(60_000);
    }
    clock.advance(7 * DAY);
    const c = stack.container;
    const sweep = new PromotionService({
      database: c.database,
      registry: c.registry,
      verification: c.verification,
      keys: c.keys,
      audit: c.audit,
      policy: { decide: () => Promise.reject(new Error('the sweep decides nothing')) },
      workflows: c.workflows,
      rollout: c.rollout,
      clock: c.clock,
      expiryBatch: 2,
    });
    expect(await sweep.expirePending()).toEqual({ expired: ids.slice(0, 2), more: true });
    expect((await row(ids[2]!)).status).toBe('pending_multisig');
    expect(await sweep.expirePending()).toEqual({ expired: [ids[2]], more: false });
    expect(await sweep.expirePending()).toEqual({ expired: [], more: false });
    for (const id of ids) expect(await expiredEvents(id)).toHaveLength(1);
  });
});

import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { QuarantineService, type QuarantineDeps } from '../../lib/modules/quarantine/service.js';
import type { Database } from '../../lib/platform/ports/database.js';
import type { DB } from '../../lib/platform/sql/schema.js';
import { QUARANTINE_ENFORCEMENT_GRACE_MS } from '../../lib/platform/composition/jobs.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ScriptedJudge, settled } from './support.js';

/**
 * A quarantine whose process dies after its transaction commits: the crash hook of
 * test/integration/crash.test.ts (a fault injected at the Database port), here letting the
 * first `transactions` transactions commit and failing every later one before its commit.
 */
function killedAfter(real: Database, transactions: number): Database {
  let committed = 0;
  const db = new Proxy(real.db, {
    get(target, prop) {
      if (prop === 'transaction') {
        return () => {
          const builder = target.transaction();
          return {
            execute: (cb: (tx: unknown) => Promise<unknown>) =>
              builder.execute(async (tx) => {
                const out = await cb(tx);
                if (committed++ >= transactions) throw new Error('process killed before commit');
                return out;
              }),
          };
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as Kysely<DB>;
  return { kind: real.kind, db, close: () => real.close() };
}

let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };
let stack: Stack;
let promoter: string;
let security: string;
let deps: QuarantineDeps;

beforeAll(async () => {
  stack = await startStack({}, { judge: new ScriptedJudge(), waitMs: 5, clock });
  const token = async (principal: string, role: string) =>
    (await stack.api('POST', '/v1/tokens', { principal, role })).body.token as string;
  promoter = await token('alice', 'promoter');
  security = await token('sam', 'security');
  deps = (stack.container.quarantines as unknown as { d: QuarantineDeps }).d;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

async function stagedPair(model: string): Promise<[string, string]> {
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await uploadAndRegister(stack, model, randomBytes(800));
    const p = await stack.api(
      'POST',
      `/v1/artifacts/${r.body.artifactId}/promote`,
      { targetEnv: 'staging', reason: 'r' },
      { token: promoter },
    );
    expect((await settled(stack, p.body.promotionId)).status).toBe('succeeded');
    ids.push(r.body.artifactId as string);
  }
  return ids as [string, string];
}

const staging = async (artifactId: string) =>
  ((await stack.api('GET', `/v1/lineage/${artifactId}`)).body.deployments as { env: string; role: string }[]).filter(
    (d) => d.env === 'staging',
  );
const rollbacksNaming = async (artifactId: string, requestId: string) =>
  (await stack.api('GET', `/v1/artifacts/${artifactId}/promotions`)).body.items.filter(
    (p: { kind: string; reason: string }) => p.kind === 'rollback' && p.reason.includes(`quarantined by request ${requestId}:`),
  );

describe('a quarantine whose process dies after it committed', () => {
  it('holds its refusals; the quarantine-enforcement job enforces it once the grace has passed, and only once', async () => {
    const [earlier, bad] = await stagedPair('crash-q1');
    // the process dies right after the quarantine's transaction: enforcement never starts
    const killed = () => Promise.reject(new Error('process killed after the commit'));
    const dying = new QuarantineService({
      ...deps,
      promotions: {
        forQuarantine: {
          cancelPendingOf: killed,
          rollingOutOf: killed,
          servedBefore: killed,
          inFlight: killed,
          rollback: killed,
          rollbacksWithReason: killed,
        },
      },
    });
    await expect(dying.request(bad, 'quarantine', 'key leaked', { id: 'sam', role: 'security', scope: 'global' })).rejects.toThrow(
      'process killed after the commit',
    );
    const view = (await stack.api('GET', `/v1/artifacts/${bad}/quarantine`)).body;
    expect(view).toMatchObject({ quarantined: true, requests: [{ status: 'applied', effects: null }] });
    const requestId = view.requests[0].requestId as string;
    expect(await staging(bad)).toEqual([expect.objectContaining({ role: 'stable' })]);
    const refused = await stack.api('POST', `/v1/artifacts/${bad}/promote`, { targetEnv: 'canary', reason: 'x' }, { token: promoter });
    expect(refused.body.error?.code).toBe('ARTIFACT_QUARANTINED');

    // within the grace the job leaves it alone (its own request may still be enforcing it)
    expect(await stack.container.scheduler.run('quarantine-enforcement')).toEqual([]);
    offsetMs = QUARANTINE_ENFORCEMENT_GRACE_MS + 1000;
    expect(await stack.container.scheduler.run('quarantine-enforcement')).toEqual([requestId]);
    const after = (await stack.api('GET', `/v1/artifacts/${bad}/quarantine`)).body.requests[0];
    expect(after.effects).toEqual([expect.objectContaining({ kind: 'stable-rolled-back', env: 'staging', toArtifactId: earlier })]);
    expect((await settled(stack, after.effects[0].promotionId)).status).toBe('succeeded');
    expect(await staging(bad)).toEqual([]);
    expect(await staging(earlier)).toEqual([expect.objectContaining({ role: 'stable' })]);
    expect(await rollbacksNaming(earlier, requestId)).toHaveLength(1);
    // enforced: the job has nothing left to do
    expect(await stack.container.scheduler.run('quarantine-enforcement')).toEqual([]);
    const enforced = (await stack.api('GET', `/v1/audit?subject=artifact:${bad}&type=quarantine.enforced`)).body.items;
    expect(enforced).toHaveLength(1);
    expect(enforced[0].actor).toBe('sam');
  });

  it('asking for the quarantine again enforces one that died half-way, without a second rollback', async () => {
    const [earlier, bad] = await stagedPair('crash-q2');
    // the rollback is requested, then the process dies before the effects are recorded
    const dying = new QuarantineService({ ...deps, database: killedAfter(deps.database, 1) });
    await expect(dying.request(bad, 'quarantine', 'backdoor', { id: 'sam', role: 'security', scope: 'global' })).rejects.toThrow(
      'process killed before commit',
    );
    const requestId = (await stack.api('GET', `/v1/artifacts/${bad}/quarantine`)).body.requests[0].requestId as string;
    expect(await rollbacksNaming(earlier, requestId)).toHaveLength(1);

    const again = await stack.api('POST', `/v1/artifacts/${bad}/quarantine`, { reason: 'asking again' }, { token: security });
    expect(again.status).toBe(201);
    expect(again.body.requests).toHaveLength(1);
    expect(again.body.requests[0]).toMatchObject({ requestId, reason: 'backdoor' });
    expect(again.body.requests[0].effects).toEqual([
      expect.objectContaining({ kind: 'stable-rolled-back', env: 'staging', toArtifactId: earlier }),
    ]);
    const [rollback] = await rollbacksNaming(earlier, requestId);
    expect(again.body.requests[0].effects[0].promotionId).toBe(rollback.promotionId);
    expect((await settled(stack, rollback.promotionId)).status).toBe('succeeded');
    expect(await rollbacksNaming(earlier, requestId)).toHaveLength(1);
    // now enforced, a third request is refused as before
    expect((await stack.api('POST', `/v1/artifacts/${bad}/quarantine`, { reason: 'thrice' }, { token: security })).status).toBe(409);
  });
});

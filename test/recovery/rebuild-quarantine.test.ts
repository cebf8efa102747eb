import { randomBytes } from 'node:crypto';
import { QuarantineReader } from '../../lib/modules/quarantine/service.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { diffSnapshots, registrySnapshot } from '../../lib/recovery/parity.js';
import { rebuildIndex, type RebuildReport } from '../../lib/recovery/rebuild.js';
import { ScriptedJudge, settled } from '../promotion/support.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { openTarget, recoveryDeps } from './support.js';

let source: Stack;
let target: Database;
let report: RebuildReport;
const ids: Record<string, string> = {};

async function registered(model: string): Promise<string> {
  const r = await uploadAndRegister(source, model, randomBytes(700));
  if (r.status !== 201) throw new Error(`register ${model}: ${r.status}`);
  return r.body.artifactId as string;
}

async function staged(artifactId: string, token: string): Promise<void> {
  const res = await source.api('POST', `/v1/artifacts/${artifactId}/promote`, { targetEnv: 'staging', reason: 'r' }, { token });
  expect((await settled(source, res.body.promotionId)).status).toBe('succeeded');
}

beforeAll(async () => {
  source = await startStack({}, { judge: new ScriptedJudge(), waitMs: 5 });
  const promoter = (await source.api('POST', '/v1/tokens', { principal: 'alice', role: 'promoter' })).body.token as string;
  const security = (await source.api('POST', '/v1/tokens', { principal: 'sam', role: 'security' })).body.token as string;
  ids.a1 = await registered('churn');
  ids.a2 = await registered('churn');
  ids.b1 = await registered('solo');
  for (const id of [ids.a1, ids.a2, ids.b1]) await staged(id, promoter);
  for (const id of [ids.a2, ids.b1]) {
    const q = await source.api('POST', `/v1/artifacts/${id}/quarantine`, { reason: 'compromised' }, { token: security });
    expect(q.status).toBe(201);
    for (const e of q.body.requests[0].effects) if (e.promotionId) await settled(source, e.promotionId);
  }
  await source.container.auditTrail.archive();
  target = await openTarget();
  report = await rebuildIndex(recoveryDeps(source, target));
}, 180_000);

afterAll(async () => {
  await target?.close();
  await source?.stop();
});

describe('rebuilding quarantines from the audit archive', () => {
  it('keeps every quarantine, its signed record and effects, the rollback and the drained route: parity finds no difference', async () => {
    expect(report.problems).toEqual([]);
    const [left, right] = [await registrySnapshot(source.container.database), await registrySnapshot(target)];
    expect(diffSnapshots(left, right)).toEqual([]);
    expect(right.quarantines.map((q) => [q.artifactId, q.status]).sort()).toEqual(
      [
        [ids.a2, 'applied'],
        [ids.b1, 'applied'],
      ].sort(),
    );
    expect(
      right.routes.map((r) => ({ id: r.id, stable: (r as unknown as { stableArtifactId: string | null }).stableArtifactId })),
    ).toHaveLength(2);
  });

  it('a rebuilt registry still refuses the quarantined artifacts', async () => {
    const reader = new QuarantineReader(target);
    expect(await reader.stateOf(ids.a2!)).toMatchObject({ reason: 'compromised', quarantinedBy: 'sam' });
    await expect(reader.assertNotQuarantined(ids.b1!)).rejects.toMatchObject({ code: 'ARTIFACT_QUARANTINED' });
    expect(await reader.stateOf(ids.a1!)).toBeNull();
  });
});

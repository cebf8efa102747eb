import type { AuditEvent } from '../../lib/kernel/audit-chain.js';
import { ServingRestore, RESTORES } from '../../lib/modules/serving/restore.js';
import type { RestoreLog } from '../../lib/modules/restore.js';

const event = (seq: number, type: string, payload: Record<string, unknown>): AuditEvent => ({
  seq,
  eventId: `e${seq}`,
  type,
  actor: 'aegis-serving',
  subject: `artifact:${String(payload.artifactId)}`,
  payload,
  ts: '2026-11-30T00:00:00.000Z',
  prevHash: '0'.repeat(64),
  hash: '1'.repeat(64),
  signature: 'sig',
  signerId: 'audit-signer-v1',
});
const verified = (artifactId: string, env: string, verifiedAt: string) => ({
  artifactId,
  modelName: 'churn',
  env,
  manifestSignatureId: `sig-${artifactId}`,
  format: 'aegis.logreg/v1',
  verifiedAt,
});

describe('the serving restore', () => {
  it('rebuilds one serving_deployments row per artifact and environment from serving.verified, the first one winning', () => {
    const r = new ServingRestore();
    const log: RestoreLog = { problems: [], warnings: [], orphans: [] };
    r.apply(event(1, 'serving.verified', verified('a1', 'staging', '2026-11-30T01:00:00.000Z')), log);
    r.apply(event(2, 'serving.verified', verified('a1', 'staging', '2026-11-30T02:00:00.000Z')), log);
    r.apply(event(3, 'serving.verified', verified('a1', 'prod', '2026-11-30T03:00:00.000Z')), log);
    r.apply(event(4, 'serving.verified', verified('gone', 'prod', '2026-11-30T03:00:00.000Z')), log);
    r.apply(event(5, 'serving.refused', { artifactId: 'a1' }), log);
    expect(log.problems).toEqual([]);
    const rows = r.take(new Set(['a1'])).servingDeployments;
    expect(rows.map((x) => [x.artifact_id, x.env, (x.verified_at as Date).toISOString()])).toEqual([
      ['a1', 'staging', '2026-11-30T01:00:00.000Z'],
      ['a1', 'prod', '2026-11-30T03:00:00.000Z'],
    ]);
    expect(RESTORES).toEqual(['serving.verified']);
  });

  it('reports a malformed payload as a problem instead of writing a row', () => {
    const r = new ServingRestore();
    const log: RestoreLog = { problems: [], warnings: [], orphans: [] };
    r.apply(event(7, 'serving.verified', { artifactId: 'a1' }), log);
    expect(log.problems).toEqual([expect.objectContaining({ id: 'seq 7', problem: 'payload-invalid' })]);
    expect(r.take(new Set(['a1'])).servingDeployments).toEqual([]);
  });
});

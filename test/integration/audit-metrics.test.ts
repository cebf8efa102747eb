import { FakeTimers } from '../support/fake-timers.js';
import { startStack, type Stack } from '../support/local-stack.js';

/**
 * The audit chain's series at the local `/metrics` (issue 23): the archive's lag after each
 * run, growing while the archive store fails, and every chain check by source and outcome —
 * what the `AegisAuditArchiveBehind` and `AegisAuditChainVerificationFailed` alerts read.
 */
let stack: Stack;
let n = 0;
beforeAll(async () => {
  stack = await startStack({}, { timers: new FakeTimers() });
});
afterAll(async () => {
  await stack?.stop();
});

const metrics = async () => (await fetch(`${stack.url}/metrics`)).text();
const newEvent = async () =>
  expect(
    (await stack.api('POST', '/v1/datasets', { id: `am-${n++}`, version: '1', checksum: `sha256:${'cd'.repeat(32)}`, uri: 'file:///x' }))
      .status,
  ).toBe(201);
const headSeq = async () =>
  Number(
    (await stack.container.database.db.selectFrom('audit_events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow())
      .seq,
  );

describe('audit metrics', () => {
  it('reports the archive lag: zero after a run that archived everything, the unarchived events while the store fails', async () => {
    await newEvent();
    expect((await stack.api('POST', '/v1/audit/archive')).status).toBe(200);
    expect(await metrics()).toMatch(/^ai_infra_audit_archive_lag_events 0$/m);

    const through = await headSeq();
    await newEvent();
    await newEvent();
    const store = stack.container.auditTrail['archiveStore'];
    const put = store.put.bind(store);
    store.put = () => Promise.reject(new Error('archive bucket unreachable'));
    try {
      await expect(stack.container.auditTrail.archive()).rejects.toThrow(/archive bucket unreachable/);
    } finally {
      store.put = put;
    }
    expect(await metrics()).toMatch(new RegExp(`^ai_infra_audit_archive_lag_events ${(await headSeq()) - through}$`, 'm'));
    await stack.container.auditTrail.archive();
    expect(await metrics()).toMatch(/^ai_infra_audit_archive_lag_events 0$/m);
  });

  it('counts chain checks by source and outcome: a clean verification, then a broken chain and the refused checkpoint', async () => {
    expect((await stack.api('GET', '/v1/audit/verify')).body.ok).toBe(true);
    expect((await stack.api('GET', '/v1/audit/verify?fromArchive=true')).body.ok).toBe(true);
    await stack.container.auditTrail.checkpointHead();
    let text = await metrics();
    expect(text).toMatch(/^ai_infra_audit_verifications_total\{source="database",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^ai_infra_audit_verifications_total\{source="archive",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^ai_infra_audit_verifications_total\{source="checkpoint",outcome="ok"\} 1$/m);
    expect(text).not.toMatch(/outcome="failed"/);

    // the newest event deleted with the head row after a checkpoint signed it
    const db = stack.container.database.db;
    const head = await headSeq();
    const kept = await db
      .selectFrom('audit_events')
      .select('hash')
      .where('seq', '=', head - 1)
      .executeTakeFirstOrThrow();
    await db.deleteFrom('audit_events').where('seq', '=', head).execute();
    await db
      .updateTable('audit_head')
      .set({ seq: head - 1, hash: kept.hash })
      .execute();
    expect((await stack.api('GET', '/v1/audit/verify')).body.ok).toBe(false);
    await expect(stack.container.auditTrail.checkpointHead()).rejects.toThrow(/refusing to checkpoint/);
    text = await metrics();
    expect(text).toMatch(/^ai_infra_audit_verifications_total\{source="database",outcome="failed"\} 1$/m);
    expect(text).toMatch(/^ai_infra_audit_verifications_total\{source="checkpoint",outcome="failed"\} 1$/m);
  });
});

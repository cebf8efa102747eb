/**
 * Drift records on the local stack: a drifted report stored (canonical JSON whose sha256 the
 * index and `drift.report` carry) raises one signed suggestion per deployment and serving
 * artifact; later drifted reports attach to it, an undrifted one raises nothing, a run records
 * one report; accept and dismiss follow the transitions; a tampered report is refused; and a
 * real promotion of an artifact retrained from the suggestion resolves it.
 */
import { randomBytes } from 'node:crypto';
import type { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { canonicalJson, sha256Hex } from '../../lib/kernel/canonical.js';
import { verifyRaw } from '../../lib/kernel/signatures.js';
import type { DriftRecords } from '../../lib/modules/drift/records-service.js';
import { suggestionStatementBytes } from '../../lib/modules/drift/records.js';
import { settled } from '../promotion/support.js';
import { recordsOf, runOf, windowReport } from '../support/drift-records.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';

let stack: Stack;
let records: DriftRecords;
let raised: string[];
let objects: FsObjectStore;
let served: string;

const register = async (overrides: Record<string, unknown> = {}) => {
  const bytes = randomBytes(1024);
  const r = await uploadAndRegister(stack, 'churn', bytes, { manifest: manifestFor('churn', bytes, overrides) });
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
};
const events = async (type: string) =>
  (await stack.container.database.db.selectFrom('audit_events').selectAll().where('type', '=', type).orderBy('seq').execute()).map(
    (e) => (typeof e.payload === 'string' ? JSON.parse(e.payload) : e.payload) as Record<string, any>,
  );

beforeAll(async () => {
  stack = await startStack();
  ({ records, raised, objects } = recordsOf(stack));
  served = await register();
  const p = await stack.api('POST', `/v1/registry/${served}/promote`, { targetEnv: 'staging', reason: 'test' });
  expect((await settled(stack, p.body.promotionId, 30_000)).status).toBe('succeeded');
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('drift reports and retrain suggestions', () => {
  let suggestionId: string;
  let first: string;

  it('stores a drifted report whose sha256 the index and drift.report carry, and raises a signed open suggestion', async () => {
    const report = windowReport({ artifactId: served, shift: 30 });
    expect(report.verdict).toBe('drift');
    const out = await records.recordReport(runOf(served), report);
    expect(out).toMatchObject({ verdict: 'drift', raised: true });
    first = out.reportId;
    suggestionId = out.suggestionId!;
    const got = (await records.report(first))!;
    expect(got.record.sha256).toBe(sha256Hex(canonicalJson(report)));
    expect(got.record.objectKey).toBe(`drift-reports/churn/staging/${first}.json`);
    expect(got.report).toEqual(JSON.parse(canonicalJson(report)));
    expect(got.record.summary.driftedFeatures).toEqual(['age']);
    const [event] = (await events('drift.report')).filter((e) => e.reportId === first);
    expect(event).toMatchObject({ sha256: got.record.sha256, suggestionId, summary: got.record.summary });
    const s = (await records.suggestion(suggestionId))!;
    expect(s).toMatchObject({
      status: 'open',
      model: 'churn',
      env: 'staging',
      servingArtifactId: served,
      reportId: first,
      reportIds: [first],
    });
    expect(s.reasons[0]).toMatchObject({ detector: 'dataset', metric: 'driftedShare' });
    expect(s.reasons).toContainEqual(expect.objectContaining({ detector: 'feature', feature: 'age', metric: 'js' }));
    const key = (await stack.container.keys.get(s.signature.signerId))!;
    expect(key.purpose).toBe('manifest');
    const { status: _s, statusReason: _r, statusBy: _b, statusAt: _a, resolvedBy: _v, reportIds: _i, signature, ...statement } = s;
    expect(verifyRaw(key.alg, key.publicKey, suggestionStatementBytes(statement), signature.signature)).toBe(true);
    expect(verifyRaw(key.alg, key.publicKey, suggestionStatementBytes({ ...statement, env: 'prod' }), signature.signature)).toBe(false);
    expect(raised).toEqual(['churn/staging/dataset']);
  });

  it('attaches a later drifted report, raises nothing for an undrifted one, and records one report per run', async () => {
    const later = await records.recordReport(runOf(served), windowReport({ artifactId: served, shift: 25 }));
    expect(later).toMatchObject({ suggestionId, raised: false });
    const calm = await records.recordReport(runOf(served), windowReport({ artifactId: served, shift: 0 }));
    expect(calm).toMatchObject({ verdict: 'no-drift', suggestionId: null, raised: false });
    const run = runOf(served);
    const once = await records.recordReport(run, windowReport({ artifactId: served, shift: 30 }));
    const twice = await records.recordReport(run, windowReport({ artifactId: served, shift: 30 }));
    expect(twice).toEqual({ ...once, raised: false });
    expect((await records.reports({ model: 'churn', env: 'staging', limit: 500 })).items.filter((r) => r.runId === run.runId)).toHaveLength(
      1,
    );
    expect((await records.suggestion(suggestionId))!.reportIds).toEqual([first, later.reportId, once.reportId]);
    expect((await events('drift.suggestion_attached')).map((e) => e.reportId)).toEqual([later.reportId, once.reportId]);
    expect((await events('drift.suggestion')).map((e) => e.suggestionId)).toEqual([suggestionId]);
    expect(raised).toHaveLength(1);
  });

  it('pages reports newest first by an opaque cursor, and names a bad limit or cursor', async () => {
    const all = (await records.reports({ model: 'churn', limit: 500 })).items;
    const p1 = await records.reports({ model: 'churn', limit: 2 });
    const p2 = await records.reports({ model: 'churn', limit: 500, cursor: p1.nextCursor! });
    expect([...p1.items, ...p2.items].map((r) => r.reportId)).toEqual(all.map((r) => r.reportId));
    expect(all.map((r) => r.createdAt)).toEqual([...all.map((r) => r.createdAt)].sort().reverse());
    await expect(records.reports({ limit: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'limit' });
    await expect(records.reports({ limit: 5, cursor: 'nope' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'cursor' });
  });

  it('accepts then dismisses; refuses a dismissed one (409 naming status) and an empty reason (400 naming reason)', async () => {
    const other = await register();
    const { suggestionId: id } = await records.recordReport(
      runOf(other, 'prod'),
      windowReport({ artifactId: other, shift: 30, env: 'prod' }),
    );
    await expect(records.decide(id!, 'accept', '  ', 'alice')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'reason' });
    expect(await records.decide(id!, 'accept', 'retrain on November', 'alice')).toMatchObject({
      status: 'accepted',
      statusReason: 'retrain on November',
      statusBy: 'alice',
    });
    expect((await records.decide(id!, 'dismiss', 'seasonal, expected', 'bob')).status).toBe('dismissed');
    await expect(records.decide(id!, 'dismiss', 'again', 'bob')).rejects.toMatchObject({ code: 'CONFLICT', field: 'status', status: 409 });
    await expect(records.decide('sug-none', 'accept', 'x', 'bob')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await events('drift.suggestion_dismissed')).map((e) => [e.suggestionId, e.by])).toEqual([[id, 'bob']]);
    // dismissed: a later drifted report still attaches to it and never re-opens it
    const later = await records.recordReport(runOf(other, 'prod'), windowReport({ artifactId: other, shift: 30, env: 'prod' }));
    expect(later).toMatchObject({ suggestionId: id, raised: false });
    expect((await records.suggestion(id!))!.status).toBe('dismissed');
    expect(await records.modelOf('suggestion', id!)).toBe('churn');
  });

  it('refuses a stored report whose bytes no longer match the index, naming the report', async () => {
    const { record } = (await records.report(first))!;
    await objects.put(record.objectKey, '{"verdict":"no-drift"}');
    await expect(records.report(first)).rejects.toMatchObject({ code: 'SHA256_MISMATCH', message: expect.stringContaining(first) });
  });

  it('resolves the suggestion when a promotion applies an artifact retrained from it; audit-verify passes', async () => {
    const retrained = await register({ parent: { artifactId: served, suggestionId } });
    const p = await stack.api('POST', `/v1/registry/${retrained}/promote`, { targetEnv: 'staging', reason: 'retrained' });
    expect((await settled(stack, p.body.promotionId, 30_000)).status).toBe('succeeded');
    expect(await records.suggestion(suggestionId)).toMatchObject({
      status: 'resolved',
      resolvedBy: { artifactId: retrained, promotionId: p.body.promotionId },
    });
    expect(await events('drift.suggestion_resolved')).toEqual([
      expect.objectContaining({ suggestionId, artifactId: retrained, promotionId: p.body.promotionId }),
    ]);
    const lineage = (await stack.api('GET', `/v1/lineage/${retrained}`)).body;
    expect(lineage.edges).toContainEqual({ from: `artifact:${retrained}`, to: `suggestion:${suggestionId}`, rel: 'resolves' });
    const parent = await stack.container.lineage.lineage(served);
    expect(parent.edges).toContainEqual({ from: `artifact:${served}`, to: `suggestion:${suggestionId}`, rel: 'suggests-retrain' });
    expect((await stack.api('GET', '/v1/audit/verify')).body).toMatchObject({ ok: true, firstBreak: null });
  });
});

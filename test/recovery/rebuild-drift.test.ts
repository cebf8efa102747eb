/**
 * A rebuilt registry has the drift records: rebuild-index replays drift.report and the
 * drift.suggestion* events into the report index and the suggestions (each status, the
 * attached reports, what resolved one), and parity finds no difference.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../../lib/platform/ports/database.js';
import { diffSnapshots, registrySnapshot } from '../../lib/recovery/parity.js';
import { rebuildIndex, type RebuildReport } from '../../lib/recovery/rebuild.js';
import { settled } from '../promotion/support.js';
import { recordsOf, runOf, windowReport } from '../support/drift-records.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { openTarget, recoveryDeps } from './support.js';

let source: Stack;
let target: Database;
let report: RebuildReport;
const ids: Record<string, string> = {};

const register = async (overrides: Record<string, unknown> = {}) => {
  const bytes = randomBytes(1024);
  const r = await uploadAndRegister(source, 'churn', bytes, { manifest: manifestFor('churn', bytes, overrides) });
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
};
const promote = async (artifactId: string) => {
  const p = await source.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv: 'staging', reason: 'r' });
  expect((await settled(source, p.body.promotionId, 30_000)).status).toBe('succeeded');
};

beforeAll(async () => {
  source = await startStack();
  const { records } = recordsOf(source);
  const [a, b, c] = [await register(), await register(), await register()];
  await promote(a);
  const drifted = (id: string, env: string) => records.recordReport(runOf(id, env), windowReport({ artifactId: id, shift: 30, env }));
  ids.resolved = (await drifted(a, 'staging')).suggestionId!;
  await drifted(a, 'staging'); // attached
  await records.recordReport(runOf(a), windowReport({ artifactId: a, shift: 0 })); // no drift
  ids.accepted = (await drifted(b, 'prod')).suggestionId!;
  await records.decide(ids.accepted, 'accept', 'retrain', 'alice');
  ids.dismissed = (await drifted(c, 'prod')).suggestionId!;
  await records.decide(ids.dismissed, 'dismiss', 'seasonal', 'bob');
  ids.open = (await drifted(c, 'staging')).suggestionId!;
  await promote(await register({ parent: { artifactId: a, suggestionId: ids.resolved } }));
  await source.container.auditTrail.archive();
  target = await openTarget();
  report = await rebuildIndex(recoveryDeps(source, target));
}, 240_000);

afterAll(async () => {
  await target?.close();
  await source?.stop();
});

it('rebuilds the report index and every suggestion with its status: parity finds no difference', async () => {
  expect(report.problems).toEqual([]);
  expect(report.warnings.filter((w) => w.includes('drift.'))).toEqual([]);
  const [left, right] = [await registrySnapshot(source.container.database), await registrySnapshot(target)];
  expect(diffSnapshots(left, right)).toEqual([]);
  expect(right.driftReports).toHaveLength(6);
  const status = Object.fromEntries(right.driftSuggestions.map((s) => [s.suggestionId, s.status]));
  expect(status).toEqual({
    [ids.resolved!]: 'resolved',
    [ids.accepted!]: 'accepted',
    [ids.dismissed!]: 'dismissed',
    [ids.open!]: 'open',
  });
  const resolved = right.driftSuggestions.find((s) => s.suggestionId === ids.resolved)!;
  expect(resolved.reportIds).toHaveLength(2);
  expect(resolved.resolvedBy).not.toBeNull();
});

it('finds a rebuilt suggestion that lost its transition', async () => {
  await target.db.updateTable('drift_suggestions').set({ status: 'open' }).where('suggestion_id', '=', ids.accepted!).execute();
  const diffs = diffSnapshots(await registrySnapshot(source.container.database), await registrySnapshot(target));
  expect(diffs).toEqual([{ kind: 'drift-suggestion', id: ids.accepted, field: 'status', left: 'accepted', right: 'open' }]);
});

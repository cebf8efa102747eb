/**
 * A rebuilt registry knows where each artifact verified and served: serving_deployments is
 * replayed from serving.verified, and parity finds no difference. Serving events are not
 * audited and not rebuilt.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../lib/clients/training/pack.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { diffSnapshots, registrySnapshot } from '../../lib/recovery/parity.js';
import { rebuildIndex, type RebuildReport } from '../../lib/recovery/rebuild.js';
import { settled } from '../promotion/support.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { openTarget, recoveryDeps } from './support.js';

let source: Stack;
let target: Database;
let report: RebuildReport;
let work: string;
let artifactId: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-rebuild-serving-'));
  source = await startStack();
  await runBuiltinTrainer({
    datasets: [{ id: 's', path: join(process.cwd(), 'test/data/sample') }],
    outDir: join(work, 'm'),
    seed: 3,
    hyperparams: {},
  });
  await packDirectory(join(work, 'm'), join(work, 'm.tar.gz'));
  const reg = await uploadAndRegister(source, 'served', await readFile(join(work, 'm.tar.gz')));
  artifactId = reg.body.artifactId as string;
  const p = await source.api('POST', `/v1/artifacts/${artifactId}/promote`, { targetEnv: 'staging', reason: 'r' });
  expect((await settled(source, p.body.promotionId)).status).toBe('succeeded');
  const row = { age: 40, income: 50000, ratio: 0.5, weak_signal: 0.5, noise: 100 };
  expect((await source.api('POST', '/v1/serving/served/staging/predict', { inputs: [row] })).status).toBe(200);
  await source.container.auditTrail.archive();
  target = await openTarget();
  report = await rebuildIndex(recoveryDeps(source, target));
}, 180_000);

afterAll(async () => {
  await target?.close();
  await source?.stop();
  await rm(work, { recursive: true, force: true });
});

it('rebuilds the serving deployment from serving.verified: parity finds no difference', async () => {
  expect(report.problems).toEqual([]);
  const [left, right] = [await registrySnapshot(source.container.database), await registrySnapshot(target)];
  expect(diffSnapshots(left, right)).toEqual([]);
  expect(right.servingDeployments).toEqual([expect.objectContaining({ id: `${artifactId}@staging`, format: 'aegis.logreg/v1' })]);
  // per-request events are metrics, not state: not rebuilt
  expect(await target.db.selectFrom('serving_events').selectAll().execute()).toEqual([]);
});

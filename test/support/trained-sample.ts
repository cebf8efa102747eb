/**
 * The built-in trainer's model of test/data/sample (seed 7), registered on a local stack with its
 * drift baseline pinned in the manifest (`baselineSha256`) and promoted to staging: what the drift
 * suites serve and judge.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { readBaseline, type BaselineProfile } from '../../lib/kernel/baseline-profile.js';
import { settled } from '../promotion/support.js';
import { manifestFor, uploadAndRegister, type Stack } from './local-stack.js';

export interface TrainedSample {
  artifactId: string;
  baseline: BaselineProfile;
  baselineSha256: string;
}

/** Trains `model` into `<work>/<model>`, registers it and waits until it serves in staging. */
export async function trainedSample(stack: Stack, work: string, model = 'churn'): Promise<TrainedSample> {
  const dir = join(work, model);
  await runBuiltinTrainer({
    datasets: [{ id: 'sample', path: join(process.cwd(), 'test/data/sample') }],
    outDir: dir,
    seed: 7,
    hyperparams: {},
  });
  const baselineText = await readFile(join(dir, 'baseline.json'));
  const baselineSha256 = createHash('sha256').update(baselineText).digest('hex');
  await packDirectory(dir, join(work, `${model}.tar.gz`));
  const bytes = await readFile(join(work, `${model}.tar.gz`));
  const r = await uploadAndRegister(stack, model, bytes, { manifest: manifestFor(model, bytes, { baselineSha256 }) });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
  const artifactId = r.body.artifactId as string;
  const p = await stack.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv: 'staging', reason: 'test' });
  const done = await settled(stack, p.body.promotionId, 30_000);
  if (done.status !== 'succeeded') throw new Error(`promotion to staging: ${done.status}`);
  return { artifactId, baseline: readBaseline(JSON.parse(baselineText.toString('utf8'))), baselineSha256 };
}

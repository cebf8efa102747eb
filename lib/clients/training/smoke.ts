/**
 * The training smoke (`npm run train:smoke`, and the acceptance's reproducibility check): a
 * small deterministic run of the built-in trainer on test/data/sample. Run twice, it gives the
 * same artifact sha256.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { hashStream } from '../../kernel/hashing.js';
import { resolveCodeRef, resolveContainerDigest } from './provenance.js';
import { recordTraining, type TrainingResult } from './record.js';

/**
 * Trains the smoke model from the checkout at `root` into `work`. Without a container digest
 * (no container), the recorded digest is the sha256 of the Node binary that ran the trainer:
 * the runtime the bytes depend on.
 */
export async function trainSmoke(
  root: string,
  work: string,
  containerDigest?: string,
): Promise<Pick<TrainingResult, 'manifest' | 'artifactPath'>> {
  const digest = resolveContainerDigest(containerDigest ?? `sha256:${(await hashStream(createReadStream(process.execPath))).sha256}`);
  const result = await recordTraining({
    modelName: 'smoke',
    datasets: [{ id: 'sample', version: 'v1', path: join(root, 'test/data/sample') }],
    cmd: undefined,
    hyperparams: { epochs: 100 },
    seed: 42,
    code: await resolveCodeRef(root, { allowDirty: true }).catch(() => ({
      codeRef: 'unversioned',
      dirty: false,
      source: 'given' as const,
    })),
    containerDigest: digest,
    outDir: join(work, 'out'),
    artifactPath: join(work, 'model.tar.gz'),
    cwd: root,
  });
  return { manifest: result.manifest, artifactPath: result.artifactPath };
}

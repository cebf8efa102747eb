import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainingManifest } from '../../kernel/manifest.js';
import { datasetChecksum } from './dataset-checksum.js';
import { BUILTIN_TRAINING_CMD, recordTraining, type Reporter } from './record.js';
import { resolveCodeRef } from './provenance.js';

export interface Difference {
  what: 'codeRef' | 'containerDigest' | 'dataset' | 'artifact';
  subject?: string;
  expected: string;
  actual: string;
  reason: string;
}

export interface ReproduceReport {
  ok: boolean;
  differences: Difference[];
  /** things that could not be checked, with why */
  notes: string[];
  artifactSha256: string | null;
  artifactPath: string | null;
}

export interface ReproduceOptions {
  manifest: Pick<
    TrainingManifest,
    'modelName' | 'codeRef' | 'containerDigest' | 'datasetRefs' | 'hyperparams' | 'seed' | 'trainingCmd' | 'artifactSha256'
  >;
  /** dataset id → path, overriding the manifest's recorded uri */
  datasetPaths: Record<string, string>;
  /** the digest of the container this runs in, when known */
  containerDigest: string | undefined;
  cwd: string;
  outDir?: string;
  reporter?: Reporter;
}

const isGitSha = (s: string) => /^[0-9a-f]{40}$/.test(s);

/**
 * Re-runs a recorded training run and names every difference: codeRef, container digest,
 * each dataset's checksum, and finally the artifact bytes. It runs even when inputs differ,
 * so the report shows the whole picture.
 */
export async function reproduce(o: ReproduceOptions): Promise<ReproduceReport> {
  const m = o.manifest;
  const differences: Difference[] = [];
  const notes: string[] = [];

  if (isGitSha(m.codeRef)) {
    try {
      const here = await resolveCodeRef(o.cwd, { allowDirty: true });
      if (here.codeRef !== m.codeRef)
        differences.push({ what: 'codeRef', expected: m.codeRef, actual: here.codeRef, reason: 'the work tree is at another commit' });
      else if (here.dirty) notes.push('the work tree has uncommitted changes; codeRef matches HEAD but the code may differ');
    } catch {
      differences.push({
        what: 'codeRef',
        expected: m.codeRef,
        actual: '(not a git work tree)',
        reason: `${o.cwd} is not a git work tree`,
      });
    }
  } else notes.push(`codeRef ${m.codeRef} is not a git commit; not checked`);

  if (o.containerDigest === undefined) notes.push('container digest not checked: set CONTAINER_DIGEST or pass --container-digest');
  else if (o.containerDigest !== m.containerDigest)
    differences.push({
      what: 'containerDigest',
      expected: m.containerDigest,
      actual: o.containerDigest,
      reason: 'running in another container image',
    });

  const datasets: { id: string; version: string; path: string }[] = [];
  for (const ref of m.datasetRefs) {
    const path = o.datasetPaths[ref.id] ?? (ref.uri?.startsWith('file:') ? fileURLToPath(ref.uri) : undefined);
    if (!path) {
      differences.push({
        what: 'dataset',
        subject: `${ref.id}@${ref.version}`,
        expected: ref.checksum,
        actual: '(no path)',
        reason: `no local path for dataset ${ref.id}: pass --dataset ${ref.id}=PATH`,
      });
      continue;
    }
    o.reporter?.step(`hashing dataset ${ref.id}@${ref.version} (${path})`);
    try {
      const { checksum } = await datasetChecksum(path, { onProgress: (d, t) => o.reporter?.bytes(`dataset ${ref.id}`, d, t) });
      if (checksum !== ref.checksum)
        differences.push({
          what: 'dataset',
          subject: `${ref.id}@${ref.version}`,
          expected: ref.checksum,
          actual: checksum,
          reason: `dataset ${ref.id} checksum differs`,
        });
    } catch (e) {
      differences.push({
        what: 'dataset',
        subject: `${ref.id}@${ref.version}`,
        expected: ref.checksum,
        actual: '(unreadable)',
        reason: (e as Error).message,
      });
      continue;
    }
    datasets.push({ id: ref.id, version: ref.version, path });
  }
  if (datasets.length !== m.datasetRefs.length) {
    notes.push('training not re-run: a dataset is missing');
    return { ok: false, differences, notes, artifactSha256: null, artifactPath: null };
  }

  const work = o.outDir ?? (await mkdtemp(join(tmpdir(), 'aegis-reproduce-')));
  let result: Awaited<ReturnType<typeof recordTraining>>;
  try {
    result = await recordTraining({
      modelName: m.modelName,
      datasets,
      cmd: m.trainingCmd === BUILTIN_TRAINING_CMD ? undefined : m.trainingCmd,
      hyperparams: m.hyperparams,
      seed: m.seed,
      code: { codeRef: m.codeRef, dirty: false, source: 'given' },
      containerDigest: m.containerDigest,
      outDir: join(work, 'out'),
      artifactPath: join(work, 'model.tar.gz'),
      cwd: o.cwd,
      ...(o.reporter ? { reporter: o.reporter } : {}),
    });
  } catch (e) {
    // Changed inputs often break the run itself; the differences found so far still matter.
    notes.push(`training failed: ${(e as Error).message}`);
    differences.push({ what: 'artifact', expected: m.artifactSha256, actual: '(not rebuilt)', reason: 'the training run failed' });
    return { ok: false, differences, notes, artifactSha256: null, artifactPath: null };
  }
  const sha = result.manifest.artifactSha256;
  if (sha !== m.artifactSha256)
    differences.push({ what: 'artifact', expected: m.artifactSha256, actual: sha, reason: 'the rebuilt artifact bytes differ' });
  return { ok: differences.length === 0, differences, notes, artifactSha256: sha, artifactPath: result.artifactPath };
}

import { spawn } from 'node:child_process';
import { lstat, readdir, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BASELINE_FILE } from '../../kernel/artifact-baseline.js';
import { sha256Hex } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import type { ManifestInput } from '../../kernel/manifest.js';
import { runBuiltinTrainer } from './builtin-trainer.js';
import { datasetChecksum } from './dataset-checksum.js';
import { packDirectory } from './pack.js';
import { captureEnvironment, type CodeRef } from './provenance.js';

/** The training command recorded when the built-in trainer ran (it runs in-process). */
export const BUILTIN_TRAINING_CMD = 'aegis builtin-train';

export interface DatasetSpec {
  id: string;
  version: string;
  path: string;
}

export interface Reporter {
  step(message: string): void;
  bytes(label: string, done: number, total: number): void;
}

export interface TrainingRun {
  modelName: string;
  datasets: DatasetSpec[];
  /** undefined: the built-in trainer */
  cmd: string | undefined;
  hyperparams: Record<string, unknown>;
  seed: number;
  code: CodeRef;
  containerDigest: string;
  /** where the command writes its output; must be empty or absent */
  outDir: string;
  /** the packed artifact (.tar.gz) */
  artifactPath: string;
  cwd: string;
  reporter?: Reporter;
}

export interface TrainingResult {
  manifest: ManifestInput & { artifactSha256: string; artifactSize: number };
  artifactPath: string;
  datasetChecksums: Record<string, string>;
  durationSeconds: number;
}

/**
 * The variables a training command is given. The seed goes to every framework's usual knob;
 * SOURCE_DATE_EPOCH makes well-behaved tools write fixed timestamps.
 */
export function trainingEnv(
  run: Pick<TrainingRun, 'seed' | 'outDir' | 'hyperparams'>,
  datasets: readonly DatasetSpec[],
): Record<string, string> {
  const env: Record<string, string> = {
    AEGIS_SEED: String(run.seed),
    PYTHONHASHSEED: String(run.seed),
    SEED: String(run.seed),
    TF_DETERMINISTIC_OPS: '1',
    CUBLAS_WORKSPACE_CONFIG: ':4096:8',
    SOURCE_DATE_EPOCH: '0',
    AEGIS_OUT_DIR: run.outDir,
    AEGIS_HYPERPARAMS: JSON.stringify(run.hyperparams),
    AEGIS_DATASETS: JSON.stringify(Object.fromEntries(datasets.map((d) => [d.id, d.path]))),
  };
  for (const d of datasets) env[`AEGIS_DATASET_${d.id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = d.path;
  return env;
}

async function runCommand(cmd: string, cwd: string, env: Record<string, string>): Promise<void> {
  const child = spawn('/bin/sh', ['-c', cmd], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', rej);
    child.once('close', (c, signal) => res(signal ? 128 : c));
  });
  if (code !== 0)
    throw new AegisError('VALIDATION_FAILED', `training command failed with exit code ${code}: ${cmd} — nothing was registered`, {
      field: 'cmd',
    });
}

async function assertEmptyOut(outDir: string): Promise<void> {
  try {
    const entries = await readdir(outDir);
    if (entries.length)
      throw new AegisError('VALIDATION_FAILED', `output folder ${outDir} is not empty: stale files would end up in the artifact`, {
        field: 'out',
      });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await mkdir(outDir, { recursive: true });
}

/**
 * Records and runs one training run: dataset checksums and environment first, then the
 * command (or the built-in trainer) with the seed, then a deterministic pack of its output
 * and the manifest. Registration is the caller's next step, and only if this succeeded.
 */
export async function recordTraining(run: TrainingRun): Promise<TrainingResult> {
  const started = process.hrtime.bigint();
  const say = run.reporter ?? { step: () => undefined, bytes: () => undefined };
  const outDir = resolve(run.outDir);
  await assertEmptyOut(outDir);

  const datasets = run.datasets.map((d) => ({ ...d, path: resolve(run.cwd, d.path) }));
  const datasetChecksums: Record<string, string> = {};
  for (const d of datasets) {
    say.step(`hashing dataset ${d.id}@${d.version} (${d.path})`);
    datasetChecksums[d.id] = (
      await datasetChecksum(d.path, { onProgress: (done, total) => say.bytes(`dataset ${d.id}`, done, total) })
    ).checksum;
  }
  const trainingCmd = run.cmd ?? BUILTIN_TRAINING_CMD;
  const environment = await captureEnvironment(run.cwd, run.code.dirty ? { gitDirty: true } : {});

  say.step(`training: ${trainingCmd} (seed ${run.seed})`);
  let metrics: Record<string, unknown>;
  if (run.cmd === undefined) {
    metrics = (await runBuiltinTrainer({ datasets, outDir, seed: run.seed, hyperparams: run.hyperparams, onProgress: (m) => say.step(m) }))
      .metrics as unknown as Record<string, unknown>;
  } else {
    await runCommand(run.cmd, run.cwd, trainingEnv({ ...run, outDir }, datasets));
    metrics = await readMetrics(outDir);
  }

  say.step(`packing ${outDir} → ${run.artifactPath}`);
  const packed = await packDirectory(outDir, run.artifactPath, { onProgress: (done, total) => say.bytes('packing', done, total) });
  const baselineSha256 = await baselineSha256Of(outDir);
  const manifest = {
    modelName: run.modelName,
    codeRef: run.code.codeRef,
    containerDigest: run.containerDigest,
    datasetRefs: datasets.map((d) => ({
      id: d.id,
      version: d.version,
      checksum: datasetChecksums[d.id]!,
      uri: pathToFileURL(d.path).href,
    })),
    hyperparams: run.hyperparams,
    seed: run.seed,
    trainingCmd,
    environment,
    artifactSha256: packed.sha256,
    artifactSize: packed.size,
    metrics,
    ...(baselineSha256 ? { baselineSha256 } : {}),
    createdAt: new Date().toISOString(),
  };
  return {
    manifest,
    artifactPath: resolve(run.artifactPath),
    datasetChecksums,
    durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/**
 * The sha256 of the `baseline.json` the run left at the root of its output (the built-in
 * trainer always writes one; a custom command may), pinned by the manifest; undefined without one.
 */
async function baselineSha256Of(outDir: string): Promise<string | undefined> {
  const path = join(outDir, BASELINE_FILE);
  const info = await lstat(path).catch(() => undefined);
  return info?.isFile() ? sha256Hex(await readFile(path)) : undefined;
}

/** A custom command may leave `metrics.json` (a flat JSON object) in its output; it is recorded. */
async function readMetrics(outDir: string): Promise<Record<string, unknown>> {
  try {
    const v = JSON.parse(await readFile(join(outDir, 'metrics.json'), 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

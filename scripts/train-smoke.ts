/**
 * `npm run train:smoke`: a small deterministic training run on test/data/sample, in a fresh
 * temporary folder (or --work DIR), printing the artifact sha256. Run twice, it prints the
 * same sha256: that is the reproducibility check CI runs.
 *
 * Without CONTAINER_DIGEST (no container), the recorded digest is the sha256 of the Node
 * binary that ran the built-in trainer: the runtime the bytes depend on.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadClientConfig } from '../lib/platform/client-config.js';
import { hashStream } from '../lib/kernel/hashing.js';
import { resolveCodeRef, resolveContainerDigest } from '../lib/clients/training/provenance.js';
import { recordTraining } from '../lib/clients/training/record.js';
import { writeFile } from 'node:fs/promises';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i]!.includes('=') ? args[i]!.slice(name.length + 1) : args[i + 1];
};

const root = resolve(import.meta.dirname, '..');
const cfg = loadClientConfig();
const work = opt('--work') ? resolve(opt('--work')!) : await mkdtemp(join(tmpdir(), 'aegis-smoke-'));
const containerDigest = resolveContainerDigest(
  cfg.containerDigest ?? `sha256:${(await hashStream(createReadStream(process.execPath))).sha256}`,
);
const result = await recordTraining({
  modelName: 'smoke',
  datasets: [{ id: 'sample', version: 'v1', path: join(root, 'test/data/sample') }],
  cmd: undefined,
  hyperparams: { epochs: 100 },
  seed: 42,
  code: await resolveCodeRef(root, { allowDirty: true }).catch(() => ({ codeRef: 'unversioned', dirty: false, source: 'given' as const })),
  containerDigest,
  outDir: join(work, 'out'),
  artifactPath: join(work, 'model.tar.gz'),
  cwd: root,
});
const manifestOut = opt('--manifest-out');
if (manifestOut) await writeFile(resolve(manifestOut), `${JSON.stringify(result.manifest, null, 2)}\n`);
const keep = Boolean(opt('--work')) || args.includes('--keep');
if (!keep) await rm(work, { recursive: true, force: true });
process.stdout.write(keep ? `${result.manifest.artifactSha256}  ${result.artifactPath}\n` : `${result.manifest.artifactSha256}\n`);

/**
 * `npm run train:smoke`: a small deterministic training run on test/data/sample, in a fresh
 * temporary folder (or --work DIR), printing the artifact sha256. Run twice, it prints the
 * same sha256: that is the reproducibility check CI runs.
 *
 * The run itself is lib/clients/training/smoke.ts (the acceptance runs it too).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadClientConfig } from '../lib/platform/client-config.js';
import { trainSmoke } from '../lib/clients/training/smoke.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i]!.includes('=') ? args[i]!.slice(name.length + 1) : args[i + 1];
};

const root = resolve(import.meta.dirname, '..');
const cfg = loadClientConfig();
const work = opt('--work') ? resolve(opt('--work')!) : await mkdtemp(join(tmpdir(), 'aegis-smoke-'));
const result = await trainSmoke(root, work, cfg.containerDigest);
const manifestOut = opt('--manifest-out');
if (manifestOut) await writeFile(resolve(manifestOut), `${JSON.stringify(result.manifest, null, 2)}\n`);
const keep = Boolean(opt('--work')) || args.includes('--keep');
if (!keep) await rm(work, { recursive: true, force: true });
process.stdout.write(keep ? `${result.manifest.artifactSha256}  ${result.artifactPath}\n` : `${result.manifest.artifactSha256}\n`);

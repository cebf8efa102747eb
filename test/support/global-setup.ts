import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * No server to start globally: each suite starts what it needs (moto_server, a fresh
 * database). The build (dist/, what `aegis` and `npm start` run, and the migrated PGlite
 * folder every first start of a local data folder copies) is brought up to date once, before
 * any suite spawns the CLI or the server. One scratch folder per run, outside the repo,
 * that suites share (the AWS-mode suites synthesize the stack into it once); the workers
 * inherit its path. It holds the run's temp folder too (TMPDIR): every temp folder a suite or a
 * process it starts makes (`os.tmpdir()`, `mktemp`, CDK's `cdk.out*`, a browser's profile) is
 * removed with it by the global teardown, also the ones a failed or interrupted test left.
 */
export default async function globalSetup(): Promise<void> {
  const { NODE_OPTIONS: _omit, ...env } = process.env;
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { env, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build failed:\n${build.stderr}`);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.env.AEGIS_TEST_RUN_DIR ??= mkdtempSync(join(tmpdir(), 'aegis-run-'));
  const tmp = join(process.env.AEGIS_TEST_RUN_DIR, 'tmp');
  mkdirSync(tmp, { recursive: true });
  process.env.TMPDIR = tmp;
}

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Nothing to start globally: each suite starts what it needs (moto_server, a fresh
 * database). One scratch folder per run, outside the repo, that suites share (the AWS-mode
 * suites synthesize the stack into it once); the workers inherit its path.
 */
export default async function globalSetup(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.env.AEGIS_TEST_RUN_DIR ??= mkdtempSync(join(tmpdir(), 'aegis-run-'));
}

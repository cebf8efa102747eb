import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.AEGIS_TEST_RUN_DIR;
  if (dir && /aegis-run-/.test(dir)) rmSync(dir, { recursive: true, force: true });
}

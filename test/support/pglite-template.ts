import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';

/**
 * A PGlite data folder with this code's migrations applied, made once per test run (by the
 * global setup, `tsx test/support/pglite-template.ts <dir>`). A fresh PGlite folder costs an
 * initdb (seconds of wasm); a copy of this one costs a file copy and a reopen. Only the schema
 * is in it: no keys, no tokens, no events, so a stack started on a copy bootstraps exactly as
 * on an empty folder (its migrations find nothing to apply). Suites about the first start of a
 * real folder (upgrade, persistence, the spawned server) do not use it.
 */
const PGLITE_TEMPLATE_ENV = 'AEGIS_TEST_PGLITE_TEMPLATE'; // set by test/support/global-setup.ts

/** Copies the run's migrated template to `pgDir` when that folder does not exist yet; false when there is no template. */
export function seedPgliteFolder(pgDir: string): boolean {
  const template = process.env[PGLITE_TEMPLATE_ENV];
  if (!template || existsSync(pgDir)) return false;
  cpSync(template, pgDir, { recursive: true });
  return true;
}

async function makeTemplate(dir: string): Promise<void> {
  const database = await PgliteDatabase.open(join(dir));
  try {
    await migrateToLatest(database.db);
  } finally {
    await database.close();
  }
}

const target = process.argv[2];
if (target && import.meta.url === `file://${process.argv[1]}`) await makeTemplate(target);

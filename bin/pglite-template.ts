/**
 * `node dist/pglite-template.js <dir>`: makes the migrated PGlite data folder a first start
 * copies instead of running initdb (lib/platform/adapters/sql/pglite-template.ts). The build
 * (scripts/build.mjs) runs it into `dist/pglite-template`.
 */
import { resolve } from 'node:path';
import { makeTemplate } from '../lib/platform/adapters/sql/pglite-template.js';
import { migrateToLatest } from '../lib/platform/sql/migrations.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: pglite-template <dir>\n');
  process.exit(2);
}
const meta = await makeTemplate(resolve(dir), migrateToLatest);
process.stdout.write(`${JSON.stringify(meta)}\n`);

/**
 * The migrated PGlite data folder a first start copies instead of running initdb (~2.3 s of
 * wasm here) and the migrations (~0.5 s): the build makes it once (`dist/pglite-template`,
 * bin/pglite-template.ts). It holds the schema only — no keys, tokens, events or secrets — so
 * a server started on a copy bootstraps exactly as on an empty folder. Layout: `pg/` (the data
 * folder) and `template.json` ({@link TemplateMeta}), written last.
 *
 * A template is used only when it fits the code that starts: made by the same PGlite version
 * (the data folder's format is PGlite's) and with no migration this code does not know (the
 * migrator would refuse the database); migrations it lacks are applied at start as on any
 * database. Otherwise the first start runs initdb as without one.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Kysely } from 'kysely';
import type { DB } from '../../sql/schema.js';
import { PgliteDatabase } from './pglite.js';
import { pgliteEntry } from './pglite-thread.js';
import { packageDir } from '../../../kernel/package-dir.js';

export interface TemplateMeta {
  /** the version of `@electric-sql/pglite` that made the folder */
  pglite: string;
  /** the migrations applied to it, in order */
  migrations: string[];
}

const DATA = 'pg';
const META = 'template.json';

/** The version of the PGlite package this code loads (its entry's package.json). */
export function pgliteVersion(): string {
  const dir = packageDir(dirname(pgliteEntry()));
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Makes a template at `dir` (replacing one there): initdb, `migrate`, a clean close, then the
 * metadata. Made in a scratch folder beside `dir` and renamed into place whole.
 */
export async function makeTemplate(dir: string, migrate: (db: Kysely<DB>) => Promise<string[]>): Promise<TemplateMeta> {
  const scratch = `${dir}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mkdir(scratch, { recursive: true });
    const database = await PgliteDatabase.open(join(scratch, DATA));
    let migrations: string[];
    try {
      migrations = await migrate(database.db);
    } finally {
      await database.close();
    }
    const meta: TemplateMeta = { pglite: pgliteVersion(), migrations };
    writeFileSync(join(scratch, META), `${JSON.stringify(meta, null, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(scratch, dir);
    return meta;
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
}

/**
 * The data folder of the template at `dir` when this code may start from it, or why not
 * (no template, another PGlite version, a migration this code does not know).
 */
export function usableTemplate(dir: string, knownMigrations: readonly string[]): { data: string } | { unusable: string } {
  let meta: TemplateMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, META), 'utf8')) as TemplateMeta;
  } catch {
    return { unusable: `no template at ${dir}` };
  }
  if (typeof meta?.pglite !== 'string' || !Array.isArray(meta.migrations))
    return { unusable: `the template at ${dir} has no valid ${META}` };
  const version = pgliteVersion();
  if (meta.pglite !== version) return { unusable: `the template at ${dir} was made by PGlite ${meta.pglite}, this is ${version}` };
  const known = new Set(knownMigrations);
  const unknown = meta.migrations.find((m) => !known.has(m));
  if (unknown !== undefined) return { unusable: `the template at ${dir} has migration ${unknown}, which this code does not know` };
  return { data: join(dir, DATA) };
}

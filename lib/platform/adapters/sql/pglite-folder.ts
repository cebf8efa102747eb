import { spawn } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pgliteEntry } from './pglite-thread.js';

/** The file that makes a folder a PostgreSQL data folder (PGlite checks it too). */
const MARKER = 'PG_VERSION';

/** The initdb run in its own process: PGlite's first open of an empty folder, then a clean close. */
const INITDB_SOURCE = String.raw`'use strict';
const { PGlite } = require(process.argv[1]);
(async () => {
  const db = new PGlite(process.argv[2]);
  await db.waitReady;
  await db.close();
})().catch((e) => {
  process.stderr.write(String((e && e.message) || e) + '\n');
  process.exit(1);
});
`;

/** The scratch folders of first starts, beside the data folder: `<name>.initdb-<pid>-<random>`. */
const scratchPrefix = (dataDir: string) => `${basename(dataDir)}.initdb-`;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the scratch folders that first starts left when they were interrupted (their process is gone). */
function removeLeftovers(dataDir: string): void {
  const prefix = scratchPrefix(dataDir);
  for (const name of readdirSync(dirname(dataDir))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(join(dirname(dataDir), name), { recursive: true, force: true });
  }
}

async function initdb(folder: string): Promise<void> {
  // NODE_OPTIONS is the caller's (a test runner's loader, an inspector port): initdb needs none of it
  const { NODE_OPTIONS: _omit, ...env } = process.env;
  const child = spawn(process.execPath, ['-e', INITDB_SOURCE, pgliteEntry(), folder], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`PGlite's initdb failed in ${folder} (exit ${code}): ${stderr.trim().split('\n').at(-1) ?? ''}`);
}

/**
 * A data folder to start a new one from, or a function that finds one (none: initdb), called
 * only when a folder must be made.
 */
export type Template = string | (() => Promise<string | undefined>);

/**
 * Makes `dataDir` a PGlite data folder if it is not one yet, and says how: `copied` from
 * `template` (a data folder made ahead, e.g. by the build: a file copy instead of seconds of
 * initdb), `created` by initdb, or `existing`.
 *
 * The initdb of a first start runs in a child process that exits: its wasm memory (hundreds
 * of MiB that PGlite never gives back) leaves with it, so a fresh server idles at the memory
 * of a reopened one. Either way the folder is made as a scratch folder beside `dataDir` and
 * renamed into place whole: an interrupted first start leaves no half-made data folder, only a
 * scratch folder that the next start removes before it begins again. A folder that holds files
 * but no database is refused, never overwritten.
 *
 * @example
 * await prepareDataFolder('/data/pg'); // 'created' the first time, 'existing' after
 */
export async function prepareDataFolder(dataDir: string, opts: { template?: Template } = {}): Promise<'created' | 'copied' | 'existing'> {
  if (existsSync(join(dataDir, MARKER))) return 'existing';
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(
      `${dataDir} holds files but no database (no ${MARKER}): not a PGlite data folder; move it away or point the data folder elsewhere`,
    );
  }
  const parent = dirname(dataDir);
  mkdirSync(parent, { recursive: true });
  removeLeftovers(dataDir);
  const scratch = mkdtempSync(join(parent, `${scratchPrefix(dataDir)}${process.pid}-`));
  try {
    const template = typeof opts.template === 'function' ? await opts.template() : opts.template;
    if (template) await cp(template, scratch, { recursive: true });
    else await initdb(scratch);
    renameSync(scratch, dataDir); // replaces an empty dataDir; fails on a non-empty one
    return template ? 'copied' : 'created';
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    // another process made the folder meanwhile: use it
    if (existsSync(join(dataDir, MARKER))) return 'existing';
    throw e;
  }
}

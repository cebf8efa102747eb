/**
 * Idle memory of the local server as `npm start` runs it (`node dist/server.js`, PGlite in the
 * data folder): the first start on a fresh folder, a restart on that folder, and a bare
 * node:http server as the reference, each in its own process, its RSS read once it is
 * listening and has idled. The first start's initdb runs in a process of its own, so the
 * fresh server should idle where the reopened one does. Linux (/proc); no numbers asserted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { envInt, mib, ratio, table } from './stats.js';
import { removeTree, tempDir } from './stack.js';

export interface IdleMemoryOptions {
  /** how long each server idles after it listens before its RSS is read */
  idleMs: number;
}

export const idleMemoryOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env): IdleMemoryOptions => ({
  idleMs: envInt('BENCH_IDLE_MS', 3000, env),
});

const REPO = fileURLToPath(new URL('..', import.meta.url));
const BARE_HTTP = `require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', () => console.log('listening on'));`;

/** The resident set of a process, from /proc (what `ps` calls RSS). */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  if (!line) throw new Error(`no VmRSS for process ${pid}`);
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

/** Starts `node args`, waits for "listening on", idles, reads its RSS, stops it with SIGTERM. */
async function idleRss(args: string[], env: NodeJS.ProcessEnv, idleMs: number): Promise<number> {
  const { NODE_OPTIONS: _omit, ...base } = process.env;
  const child = spawn(process.execPath, args, { cwd: REPO, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 180_000;
    while (!out.includes('listening on')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, idleMs));
    return rssOf(child.pid!);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function idleMemoryBench(opts: IdleMemoryOptions, print: (line: string) => void): Promise<void> {
  print(`\n== Idle memory of the local server (RSS after listening and ${opts.idleMs} ms idle, one process each) ==`);
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build failed: ${build.stderr}`);
  const dataDir = await tempDir('idle');
  try {
    const env = { DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' };
    const fresh = await idleRss(['dist/server.js'], env, opts.idleMs);
    const reopened = await idleRss(['dist/server.js'], env, opts.idleMs);
    const bare = await idleRss(['-e', BARE_HTTP], {}, opts.idleMs);
    print(
      table(
        ['server', 'idle RSS', 'vs reopened', 'vs bare node:http'],
        [
          ['npm start, fresh data folder', mib(fresh), ratio(fresh / reopened), ratio(fresh / bare)],
          ['npm start, reopened folder', mib(reopened), ratio(1), ratio(reopened / bare)],
          ['bare node:http (reference)', mib(bare), ratio(bare / reopened), ratio(1)],
        ],
      ),
    );
  } finally {
    await removeTree(dataDir);
  }
}

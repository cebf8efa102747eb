/** Wall time of fresh processes, for the benches that measure start-up. */
import { spawn } from 'node:child_process';
import { summarize } from './stats.js';

/**
 * Wall time of a fresh `node` running `args` in `cwd`, median of `runs` (the first run warms
 * the page cache and is dropped). Spawned without blocking this process, so the command may
 * talk to a server running here. Throws when a run exits non-zero.
 */
export async function nodeWall(args: string[], cwd: string, runs: number, env: Record<string, string> = {}): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: 'ignore' });
    const status = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
    const t = performance.now() - t0;
    if (status !== 0) throw new Error(`node ${args.join(' ')} in ${cwd} exited ${status}`);
    if (i > 0) times.push(t);
  }
  return summarize(times).p50;
}

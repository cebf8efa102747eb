import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion with jest's NODE_OPTIONS removed (children are plain Node). */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const { NODE_OPTIONS: _omit, ...base } = process.env;
    const child = spawn(cmd, args, { cwd: opts.cwd ?? process.cwd(), env: { ...base, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `node bin/aegis.js …` from the repo root, as `npx aegis` runs it. */
export const aegisCli = (args: string[], env: Record<string, string | undefined> = {}) =>
  run(process.execPath, [join(process.cwd(), 'bin/aegis.js'), ...args], { env });

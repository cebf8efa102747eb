/** A local server in its own process (`aegis serve`, as `npm start` runs it), for tests that kill one. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './moto.js';

export interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `aegis serve` as `npm start` runs it, waiting for its "listening on" line. */
export async function serve(env: Record<string, string>): Promise<Server> {
  const { NODE_OPTIONS: _omit, ...base } = process.env;
  const port = await freePort();
  const child = spawn(process.execPath, [join(process.cwd(), 'bin/aegis.js'), 'serve'], {
    env: { ...base, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on('exit', (code, signal) => res({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  while (!out.includes('listening on')) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: `http://127.0.0.1:${port}`, output: () => out, exited };
}

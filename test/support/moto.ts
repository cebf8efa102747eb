import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A free loopback port (for servers the tests start). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export interface Moto {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts `moto_server` (a local AWS emulator) on a free loopback port for one test file.
 * Returns undefined (and says why) when it is not installed outside CI; in CI a missing
 * emulator is an error, never a skip.
 */
export async function startMoto(): Promise<Moto | undefined> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let proc: ChildProcess;
  try {
    proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await new Promise<void>((res, rej) => {
      proc.once('error', rej);
      proc.once('spawn', () => res());
    });
  } catch (e) {
    if (process.env.CI) throw new Error(`moto_server is required in CI: ${(e as Error).message}`, { cause: e });
    console.warn(`skipping AWS adapter tests: moto_server not available (${(e as Error).message})`);
    return undefined;
  }
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${endpoint}/moto-api/`);
      if (r.status < 500) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('moto_server did not start within 20 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  process.env.AWS_REGION ??= 'us-east-1';
  return {
    endpoint,
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGTERM');
      }),
  };
}

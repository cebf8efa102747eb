import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Benchmark inputs and the openssl reference, shared by the artifact and dataset benches. */
export const WRITE_CHUNK = 8 * 1024 ** 2;

/** Writes `bytes` of random data in 8 MiB chunks (one reusable buffer) and flushes it to disk. */
export async function writeRandomFile(file: string, bytes: number, buf: Buffer = Buffer.allocUnsafe(WRITE_CHUNK)): Promise<void> {
  const fh = await open(file, 'wx');
  try {
    for (let left = bytes; left > 0; left -= WRITE_CHUNK) {
      const n = Math.min(WRITE_CHUNK, left);
      randomFillSync(buf, 0, n);
      await fh.write(buf, 0, n);
    }
    await fh.sync(); // so background write-back does not land inside a timed section
  } finally {
    await fh.close();
  }
}

/** One `openssl dgst -sha256 FILE…` spawn: each file's digest in order and the time, or why it could not run. */
export function opensslSha256(files: readonly string[]): Promise<{ digests: string[]; ms: number } | { skipped: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn('openssl', ['dgst', '-sha256', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ skipped: e.code === 'ENOENT' ? 'openssl is not installed (not on PATH)' : `openssl failed to start: ${e.message}` }),
    );
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const digests = [...out.matchAll(/=\s*([0-9a-f]{64})\s*$/gm)].map((m) => m[1]!);
      resolve(
        code === 0 && digests.length === files.length
          ? { digests, ms }
          : { skipped: `openssl exited ${code}: ${(err || out).trim().slice(0, 200)}` },
      );
    });
  });
}

/**
 * A large artifact registered as a multipart upload by `aegis register` (a separate process, as
 * a user runs it: it hashes the file, sends the parts and registers), at one part in flight and
 * at several (AEGIS_UPLOAD_CONCURRENCY), each run right after `openssl dgst -sha256` of the same
 * file, its reference. The server is this process (PGlite, fs store): it hashes each part as it
 * arrives and writes it in place into the upload's file, which registration hashes once.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { opensslSha256, writeRandomFile } from './files.js';
import { envInt, mbPerS, mib, ratio, seconds, table } from './stats.js';
import { manifestFor, removeTree, startBenchStack, tempDir } from './stack.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export const multipartOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({
  sizeMiB: envInt('BENCH_MULTIPART_MB', 1024, env),
  concurrency: envInt('BENCH_MULTIPART_CONCURRENCY', 4, env),
});

interface RegisterRun {
  ms: number;
  /** when the upload began and ended (its first progress line, its 100% line): before is the CLI's start and whole-file hash, after the registration */
  uploadFrom?: number;
  uploadTo?: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `aegis register`, timing it and its upload's progress lines (the CLI writes one at 0% and one at 100%). */
function timedRegister(args: string[], env: Record<string, string>): Promise<RegisterRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['bin/aegis.js', ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: RegisterRun = { ms: 0, code: null, stdout: '', stderr: '' };
    child.stdout.on('data', (d: Buffer) => (run.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      run.stderr += text;
      if (/uploading /.test(text)) run.uploadFrom ??= performance.now() - t0;
      if (/uploading 100%/.test(text)) run.uploadTo = performance.now() - t0;
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ ...run, ms: performance.now() - t0, code }));
  });
}

export async function multipartBench(opts: { sizeMiB: number; concurrency: number }, print: (s: string) => void): Promise<void> {
  const bytes = opts.sizeMiB * 1024 ** 2;
  print(`\n== Multipart: aegis register of one ${mib(bytes)} artifact in 64 MiB parts, 1 vs ${opts.concurrency} parts in flight ==`);
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build failed: ${build.stderr}`);
  const dir = await tempDir('multipart');
  const stack = await startBenchStack();
  try {
    const file = join(dir, 'artifact.bin');
    await writeRandomFile(file, bytes);
    // the CLI hashes the file and fills in artifactSha256 and artifactSize
    const { artifactSha256: _s, artifactSize: _z, ...manifest } = manifestFor('bench', '0'.repeat(64), 0);
    const rows: string[][] = [];
    const summary: string[] = [];
    let sha256: string | undefined;
    for (const concurrency of [1, opts.concurrency]) {
      const model = `bench-multipart-c${concurrency}`;
      const manifestFile = join(dir, `${model}.json`);
      await writeFile(manifestFile, JSON.stringify({ ...manifest, modelName: model }));
      // the reference right before the run: both read the file from the page cache
      const ran = await opensslSha256([file]);
      const reg = await timedRegister(['--json', 'register', '--model', model, '--artifact', file, '--manifest', manifestFile], {
        AEGIS_URL: stack.url,
        AEGIS_TOKEN: stack.publisherToken,
        AEGIS_DATA_DIR: dir,
        AEGIS_UPLOAD_CONCURRENCY: String(concurrency),
      });
      if (reg.code !== 0) throw new Error(`aegis register exited ${reg.code}: ${reg.stderr.slice(-500)}`);
      const out = JSON.parse(reg.stdout) as { sha256: string; version: number; replayed: boolean };
      if (out.replayed) throw new Error('the registration was a replay');
      if ('digests' in ran && ran.digests[0] !== out.sha256) throw new Error(`openssl says ${ran.digests[0]}, the server ${out.sha256}`);
      sha256 = out.sha256;
      const ref = 'ms' in ran ? ran.ms : undefined;
      if (ref !== undefined)
        rows.push([`openssl dgst -sha256 (reference for the next row)`, seconds(ref), mbPerS(bytes, ref).toFixed(0), '1.00×']);
      rows.push([
        `aegis register, ${concurrency} part(s) in flight`,
        seconds(reg.ms),
        mbPerS(bytes, reg.ms).toFixed(0),
        ref === undefined ? 'n/a' : ratio(ref / reg.ms),
      ]);
      if (reg.uploadFrom !== undefined && reg.uploadTo !== undefined) {
        const phase = (label: string, msValue: number) => [`  ${label}`, seconds(msValue), mbPerS(bytes, msValue).toFixed(0), ''];
        rows.push(
          phase('CLI start + whole-file sha256', reg.uploadFrom),
          phase('parts: hashed, sent, hashed and written by the server', reg.uploadTo - reg.uploadFrom),
          phase('register: the server hashes the assembled file, signs', reg.ms - reg.uploadTo),
        );
      }
      summary.push(`${concurrency} in flight: ${ref === undefined ? 'n/a' : ratio(ref / reg.ms)}`);
    }
    print('');
    print(table(['measurement (MB = 10^6 bytes)', 'time', 'MB/s', 'vs openssl'], rows));
    print('   "vs openssl": the run\'s MB/s / the MB/s of openssl on the same file just before it (1.00× = as fast)');
    print(`   registration throughput / openssl throughput: ${summary.join(', ')}`);
    print(
      `   each run is a fresh CLI process: hash the file, hash and send each part, register (the server hashes the assembled file); sha256 ${sha256?.slice(0, 16)}…`,
    );
  } finally {
    await stack.close();
    await removeTree(dir);
  }
}

/**
 * `aegis pull` of a large artifact through the local server (a fresh CLI process: signed
 * download URL, streamed sha256, size and signature checks, fsync, rename into place) against
 * `openssl dgst -sha256` over the same file in the same run, with the pull process's RSS.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { hashStream } from '../lib/kernel/hashing.js';
import { opensslSha256, writeRandomFile } from './files.js';
import { envInt, mbPerS, mib, ratio, seconds, table } from './stats.js';
import { manifestFor, removeTree, startBenchStack, tempDir, type Registration, type UploadTarget } from './stack.js';

const MODEL = 'bench-pull';
const REPO = fileURLToPath(new URL('..', import.meta.url));

export const pullOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({ bytes: envInt('BENCH_PULL_BYTES', 1024 ** 3, env) });

/** VmRSS and VmHWM (peak) of a process, in bytes, from /proc (Linux); undefined elsewhere or once it has exited. */
function procMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    const m = { rss: kib('VmRSS'), hwm: kib('VmHWM') };
    return Number.isFinite(m.rss) && Number.isFinite(m.hwm) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Profiles this process (the server side of the pull) until the returned function writes the profile into `dir`. */
async function startProfile(): Promise<(dir: string) => Promise<string>> {
  const session = new Session();
  session.connect();
  const post = <T>(method: string) =>
    new Promise<T>((res, rej) => session.post(method, (e: Error | null, r?: unknown) => (e ? rej(e) : res(r as T))));
  await post('Profiler.enable');
  await post('Profiler.start');
  return async (dir) => {
    const { profile } = await post<{ profile: unknown }>('Profiler.stop');
    session.disconnect();
    const file = join(dir, `server-${process.pid}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  };
}

interface PullRun {
  ms: number;
  code: number | null;
  stderr: string;
  /** RSS when the download had begun (the .part file exists): modules loaded, ticket and key ring fetched */
  rssAtStart?: number;
  /** the highest RSS the process reached (VmHWM, last read before it exited) */
  rssPeak?: number;
  samples: number;
}

/** Runs `aegis pull` and samples its memory every 20 ms. */
function timedPull(args: string[], env: Record<string, string>, outDir: string): Promise<PullRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // BENCH_PULL_CPU_PROF=<dir>: a CPU profile of the pull process (open it in Chrome DevTools)
    const prof = process.env.BENCH_PULL_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PULL_CPU_PROF}`] : [];
    const child = spawn(process.execPath, [...prof, 'bin/aegis.js', ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const run: PullRun = { ms: 0, code: null, stderr: '', samples: 0 };
    const sample = () => {
      const m = child.pid === undefined ? undefined : procMemory(child.pid);
      if (!m) return;
      run.samples++;
      run.rssPeak = Math.max(run.rssPeak ?? 0, m.hwm, m.rss);
      if (run.rssAtStart === undefined && readdirSync(outDir).some((n) => n.endsWith('.part'))) run.rssAtStart = m.rss;
    };
    const timer = setInterval(sample, 20);
    child.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ ...run, ms: performance.now() - t0, code, stderr });
    });
  });
}

export async function runArtifactPull(opts: { bytes: number }, print: (s: string) => void): Promise<void> {
  const { bytes } = opts;
  print(`\n== Pull: aegis pull of one ${mib(bytes)} artifact (${bytes} bytes) through the local server, page cache warm ==`);
  const build = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build failed: ${build.stderr}`);
  const dir = await tempDir('pull');
  try {
    const file = join(dir, 'artifact.bin');
    await writeRandomFile(file, bytes);
    const local = await hashStream(createReadStream(file, { highWaterMark: 1024 * 1024 }));
    const stack = await startBenchStack();
    try {
      const up = await stack.publisher.request<UploadTarget>('POST', '/v1/registry/uploads', { modelName: MODEL, size: bytes });
      await stack.publisher.uploadFile(up.url, up.headers, file);
      const reg = await stack.publisher.request<Registration>('POST', '/v1/registry/register', {
        uploadId: up.uploadId,
        manifest: manifestFor(MODEL, local.sha256, bytes),
      });
      print(`   registered ${MODEL} v${reg.version} (setup, not measured)`);

      const env = { AEGIS_URL: stack.url, AEGIS_TOKEN: stack.publisherToken, AEGIS_DATA_DIR: dir };
      // the same file, read by openssl right before the pull: both read it from the page cache
      const ran = await opensslSha256([file]);
      const outDir = join(dir, 'out');
      mkdirSync(outDir);
      const out = join(outDir, 'model.bin');
      const serverProfile = process.env.BENCH_PULL_CPU_PROF ? await startProfile() : undefined;
      const pull = await timedPull(['pull', '--artifact-id', reg.artifactId, '--out', out], env, outDir);
      if (serverProfile)
        print(
          `   CPU profiles: the pull process's and this process's (the server) ${await serverProfile(process.env.BENCH_PULL_CPU_PROF!)}`,
        );
      if (pull.code !== 0) throw new Error(`aegis pull exited ${pull.code}: ${pull.stderr.slice(-500)}`);
      if (statSync(out).size !== bytes) throw new Error(`the pulled file has ${statSync(out).size} bytes, not ${bytes}`);
      if ('digests' in ran && ran.digests[0] !== local.sha256) throw new Error('openssl and node disagree on the sha256');

      // the fixed cost in that wall time: a fresh CLI process that does nothing (median of 3)
      const startups = [0, 1, 2].map(() => {
        const t = performance.now();
        spawnSync(process.execPath, ['bin/aegis.js', '--version'], { cwd: REPO, stdio: 'ignore' });
        return performance.now() - t;
      });
      const startup = startups.sort((a, b) => a - b)[1]!;
      const ref = 'ms' in ran ? ran.ms : undefined;
      const row = (label: string, msValue: number) => [
        label,
        seconds(msValue),
        mbPerS(bytes, msValue).toFixed(0),
        ref === undefined ? 'n/a' : ratio(ref / msValue),
      ];
      print('');
      print(
        table(
          ['measurement (MB = 10^6 bytes)', 'time', 'MB/s', 'vs openssl'],
          [
            ...(ref === undefined ? [] : [row('openssl dgst -sha256 (reference)', ref)]),
            row('aegis pull: process start to verified file in place', pull.ms),
            row('  less CLI start-up (aegis --version, same run)', pull.ms - startup),
          ],
        ),
      );
      if ('skipped' in ran) print(`   openssl reference skipped: ${ran.skipped}`);
      else
        print(
          `   pull throughput / openssl throughput = ${ratio(ref! / pull.ms)} (goal ≥ 0.80×; includes ${seconds(startup)} of CLI start-up, the download ticket, the key ring, writing the file, fsync and rename)`,
        );
      print('');
      if (pull.rssAtStart === undefined || pull.rssPeak === undefined) {
        print(`   memory of the pull process: not measured (${pull.samples} samples; /proc is Linux only, or the pull ended too soon)`);
      } else {
        const grew = pull.rssPeak - pull.rssAtStart;
        print(
          `   memory of the pull process: RSS ${mib(pull.rssAtStart)} when the download began, peak ${mib(pull.rssPeak)} (+${mib(Math.max(0, grew))}; ${pull.samples} samples every 20 ms)`,
        );
        print(
          grew < Math.min(64 * 1024 ** 2, bytes / 4)
            ? `     => flat: the ${mib(bytes)} artifact was streamed to disk, not held in memory`
            : `     => NOT flat: RSS grew by ${mib(grew)} for a ${mib(bytes)} artifact`,
        );
      }
    } finally {
      await stack.close();
    }
  } finally {
    await removeTree(dir);
  }
}

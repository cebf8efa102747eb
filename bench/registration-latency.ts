/**
 * Registration latency with concurrent clients against the in-process local server, shown
 * against GET /healthz round trips measured with the same concurrency in the same run.
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { envInt, ms, ratio, summarize, table, type Summary } from './stats.js';
import { manifestFor, runConcurrent, startBenchStack, type Registration, type UploadTarget } from './stack.js';

const ARTIFACT_BYTES = 64 * 1024;
const MODEL = 'bench-latency';
/** The seed's example SLO, printed as context only: this bench never asserts a time. */
const SLO = 'artifact registration p95 < 500 ms';

interface Phase {
  latencies: number[];
  wallMs: number;
}

export interface RegistrationLatencyOptions {
  registrations: number;
  concurrency: number;
}

export const registrationOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env): RegistrationLatencyOptions => ({
  registrations: envInt('BENCH_REGISTRATIONS', 200, env),
  concurrency: envInt('BENCH_CONCURRENCY', 8, env),
});

export async function runRegistrationLatency(opts: RegistrationLatencyOptions, print: (s: string) => void): Promise<void> {
  const { registrations: n, concurrency: c } = opts;
  const warmup = Math.min(n, 2 * c);
  print(`\n== 1. Registration latency: ${n} registrations of ${ARTIFACT_BYTES / 1024} KiB random artifacts, ${c} concurrent clients ==`);
  print(
    '   each: POST /v1/registry/uploads -> PUT bytes to the returned url -> POST /v1/registry/register (one model, distinct artifacts)',
  );
  const stack = await startBenchStack();
  try {
    const { publisher } = stack;
    const versions = new Set<number>();

    // Artifacts are made and hashed before timing: the client's own work is not server latency.
    const prepare = (count: number) =>
      Array.from({ length: count }, () => {
        const bytes = randomBytes(ARTIFACT_BYTES);
        return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
      });

    const healthz = async (count: number): Promise<Phase> => {
      const latencies: number[] = [];
      const start = performance.now();
      await runConcurrent(count, c, async () => {
        const t0 = performance.now();
        await publisher.request('GET', '/healthz');
        latencies.push(performance.now() - t0);
      });
      return { latencies, wallMs: performance.now() - start };
    };

    const register = async (count: number): Promise<{ endToEnd: Phase; registerOnly: number[] }> => {
      const artifacts = prepare(count);
      const latencies: number[] = [];
      const registerOnly: number[] = [];
      const start = performance.now();
      await runConcurrent(count, c, async (i) => {
        const { bytes, sha256 } = artifacts[i]!;
        const t0 = performance.now();
        const up = await publisher.request<UploadTarget>('POST', '/v1/registry/uploads', { modelName: MODEL, size: bytes.length });
        const put = await fetch(up.url, { method: 'PUT', headers: up.headers, body: bytes });
        const putText = await put.text();
        if (!put.ok) throw new Error(`upload PUT answered ${put.status}: ${putText.slice(0, 200)}`);
        const t1 = performance.now();
        const reg = await publisher.request<Registration>('POST', '/v1/registry/register', {
          uploadId: up.uploadId,
          manifest: manifestFor(MODEL, sha256, bytes.length),
        });
        const t2 = performance.now();
        if (reg.replayed) throw new Error(`registration ${i} was a replay: the artifacts should all be distinct`);
        versions.add(reg.version);
        latencies.push(t2 - t0);
        registerOnly.push(t2 - t1);
      });
      return { endToEnd: { latencies, wallMs: performance.now() - start }, registerOnly };
    };

    // Warm-up (not measured): first requests pay for JIT, connection set-up and the first signing key use.
    await healthz(warmup);
    await register(warmup);

    const health = await healthz(n);
    const reg = await register(n);
    if (versions.size !== n + warmup) throw new Error(`expected ${n + warmup} distinct versions, got ${versions.size}`);

    const e2e = summarize(reg.endToEnd.latencies);
    const only = summarize(reg.registerOnly);
    const hz = summarize(health.latencies);
    const perS = (p: Phase) => `${(p.latencies.length / (p.wallMs / 1000)).toFixed(0)}/s`;
    const row = (label: string, s: Summary, tput: string) => [label, String(s.n), ms(s.p50), ms(s.p95), ms(s.p99), ms(s.max), tput];
    print('');
    print(
      table(
        ['measurement', 'n', 'p50', 'p95', 'p99', 'max', 'throughput'],
        [
          row('GET /healthz (reference)', hz, perS(health)),
          row('register call alone', only, '-'),
          row('registration end-to-end', e2e, perS(reg.endToEnd)),
        ],
      ),
    );
    print('');
    print(
      table(
        ['ratio to GET /healthz', 'p50', 'p95', 'p99'],
        [
          ['register call alone', ratio(only.p50 / hz.p50), ratio(only.p95 / hz.p95), ratio(only.p99 / hz.p99)],
          ['registration end-to-end', ratio(e2e.p50 / hz.p50), ratio(e2e.p95 / hz.p95), ratio(e2e.p99 / hz.p99)],
        ],
      ),
    );
    print(`\n   register-p50 / healthz-p50 = ${ratio(only.p50 / hz.p50)}`);
    print(
      `   throughput: ${perS(reg.endToEnd)} registrations vs ${perS(health)} health checks (same ${c} concurrent client${c === 1 ? '' : 's'})`,
    );
    print(`   context, not asserted: the seed's SLO is "${SLO}" (the deployed service); end-to-end p95 here was ${ms(e2e.p95)}`);
    print(`   ${warmup} warm-up registrations and health checks ran first and are not counted; all ${n + warmup} got distinct versions`);
  } finally {
    await stack.close();
  }
}

/**
 * Shadow mirroring (issue 19): single-row predictions through the local server with the route's
 * shadow at 100 % (every request also answered by the candidate, after its response is
 * written) against the same route without a shadow, interleaved over several runs so a busy
 * moment of the machine falls on both arms. Reports throughput with 8 clients, latency with one,
 * and the ratio: what mirroring costs the callers (the shadow runs after the response, but on
 * the same event loop and CPU).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuiltinTrainer } from '../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../lib/clients/training/pack.js';
import { drive, sampleRows, type Run } from './serving.js';
import { envInt, ms, percentile, ratio, table } from './stats.js';
import { manifestFor, removeTree, startBenchStack, tempDir, type BenchStack, type Registration, type UploadTarget } from './stack.js';

export const shadowOptionsFromEnv = () => ({
  requests: envInt('BENCH_SHADOW_REQUESTS', 2000),
  concurrency: envInt('BENCH_SERVING_CONCURRENCY', 8),
  runs: Math.max(3, envInt('BENCH_SHADOW_RUNS', 3)),
});

const SAMPLE = join(process.cwd(), 'test/data/sample');

async function registered(stack: BenchStack, work: string, seed: number): Promise<string> {
  const dir = join(work, `model-${seed}`);
  await runBuiltinTrainer({ datasets: [{ id: 'sample', path: SAMPLE }], outDir: dir, seed, hyperparams: {} });
  await packDirectory(dir, `${dir}.tar.gz`);
  const bytes = await readFile(`${dir}.tar.gz`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const up = await stack.publisher.request<UploadTarget>('POST', '/v1/registry/uploads', { modelName: 'bench', size: bytes.length });
  const put = await fetch(up.url, { method: 'PUT', headers: up.headers, body: bytes });
  if (!put.ok) throw new Error(`upload PUT answered ${put.status}`);
  const reg = await stack.publisher.request<Registration>('POST', '/v1/registry/register', {
    uploadId: up.uploadId,
    manifest: manifestFor('bench', sha256, bytes.length),
  });
  return reg.artifactId;
}

export async function shadowBench(opts: ReturnType<typeof shadowOptionsFromEnv>, print: (line: string) => void): Promise<void> {
  print('\n## Serving with a shadow at 100 % vs without (built-in logistic regression, single rows)');
  const work = await tempDir('shadow');
  // routes cached for 1 s (the default is 5): each arm starts once its route is read
  const stack = await startBenchStack({ AEGIS_SERVING_ROUTE_CACHE_SECONDS: '1' });
  try {
    const stable = await registered(stack, work, 7);
    const candidate = await registered(stack, work, 11);
    const promotion = await stack.admin.request<{ promotionId: string }>('POST', `/v1/artifacts/${stable}/promote`, {
      targetEnv: 'staging',
      reason: 'bench',
    });
    for (let s = 'rolling_out'; s === 'rolling_out'; await new Promise((r) => setTimeout(r, 50)))
      s = (await stack.admin.request<{ status: string }>('GET', `/v1/promotions/${promotion.promotionId}`)).status;
    const { token } = await stack.admin.request<{ token: string }>('POST', '/v1/tokens', { principal: 'bench-app', role: 'invoker' });
    const url = `${stack.url}/v1/serving/bench/staging/predict`;
    const rows = await sampleRows();
    // the shadow as the rollout sets it (no API sets a route directly)
    const shadow = async (on: boolean) => {
      await stack.container.database.db
        .updateTable('routes')
        .set({ shadow_artifact_id: on ? candidate : null, shadow_percent: on ? 100 : 0 })
        .where('model_name', '=', 'bench')
        .where('env', '=', 'staging')
        .execute();
      await new Promise((r) => setTimeout(r, 1_200));
    };
    await shadow(true);
    await drive(url, token, rows, 300, opts.concurrency, 'warm'); // loads both models, JIT
    const arms: Record<'off' | 'on', { tp: Run[]; seq: Run[] }> = { off: { tp: [], seq: [] }, on: { tp: [], seq: [] } };
    const seqN = Math.max(100, Math.floor(opts.requests / 4));
    for (let run = 0; run < opts.runs; run++)
      for (const arm of run % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        await shadow(arm === 'on');
        arms[arm].tp.push(await drive(url, token, rows, opts.requests, opts.concurrency, `${arm}-tp${run}`));
        arms[arm].seq.push(await drive(url, token, rows, seqN, 1, `${arm}-lat${run}`));
      }
    await stack.container.serving.flush();
    const mirrored = await stack.container.database.db
      .selectFrom('serving_events')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('variant', '=', 'shadow')
      .executeTakeFirstOrThrow();
    const rps = (arm: 'off' | 'on') => arms[arm].tp.reduce((n, r) => n + r.rps, 0) / opts.runs;
    const lat = (arm: 'off' | 'on', q: number) =>
      percentile(
        arms[arm].seq.flatMap((r) => r.latencies),
        q,
      );
    print(
      table(
        ['', 'shadow at 100 %', 'no shadow', 'ratio / difference'],
        [
          [
            `throughput (${opts.concurrency} clients, ${opts.runs} runs)`,
            `${rps('on').toFixed(0)} req/s`,
            `${rps('off').toFixed(0)} req/s`,
            ratio(rps('on') / rps('off')),
          ],
          ['latency p50 (1 client)', ms(lat('on', 50)), ms(lat('off', 50)), `${ms(lat('on', 50) - lat('off', 50))}`],
          ['latency p99 (1 client)', ms(lat('on', 99)), ms(lat('off', 99)), `${ms(lat('on', 99) - lat('off', 99))}`],
          ['shadow answers recorded', String(Number(mirrored.n)), '', ''],
        ],
      ),
    );
  } finally {
    await stack.close();
    await removeTree(work);
  }
}

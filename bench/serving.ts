/**
 * Serving (issue 17): single-row predictions through the local server (`POST
 * /v1/serving/{model}/{env}/predict`: auth, route, validation, the model, the serving event,
 * the input segment, the headers) against a bare node:http server in the same process calling
 * the same model function (the built-in trainer's logistic regression, loaded by the same
 * runtime) — the reference: what HTTP, JSON and the arithmetic alone cost here. Reports the
 * throughput ratio (goal ≥ 0.5×), the per-request overhead at p50 and p99 (one client, so
 * latency is not queueing), and the serving-event ingest rate with 50 concurrent clients
 * (requests answered per second, and until every event is in `serving_events`).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuiltinTrainer } from '../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../lib/clients/training/pack.js';
import { LogisticModelRuntime } from '../lib/platform/adapters/model-runtime/logistic.js';
import { envInt, ms, percentile, ratio, table } from './stats.js';
import { manifestFor, removeTree, runConcurrent, startBenchStack, tempDir, type Registration, type UploadTarget } from './stack.js';

export const servingOptionsFromEnv = () => ({
  requests: envInt('BENCH_SERVING_REQUESTS', 4000),
  concurrency: envInt('BENCH_SERVING_CONCURRENCY', 8),
  ingestClients: envInt('BENCH_SERVING_INGEST_CLIENTS', 50),
});

const SAMPLE = join(process.cwd(), 'test/data/sample');

export async function sampleRows(): Promise<Record<string, number>[]> {
  const [head, ...lines] = (await readFile(join(SAMPLE, 'train.csv'), 'utf8')).trim().split('\n');
  const cols = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').flatMap((v, j) => (cols[j] === 'label' ? [] : [[cols[j]!, Number(v)]]))));
}

/** The reference: node:http, JSON in and out, the same model's predict. */
async function bareServer(modelDir: string): Promise<{ url: string; server: Server }> {
  const model = await new LogisticModelRuntime().load(new Map([['model.json', await readFile(join(modelDir, 'model.json'))]]));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { inputs: Record<string, number>[] };
      const rows = body.inputs.map((r) => model.features.map((f) => r[f]!));
      void model.predict(rows).then((predictions) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ predictions }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}/predict`, server };
}

export interface Run {
  rps: number;
  latencies: number[];
}

export async function drive(url: string, token: string | undefined, rows: Record<string, number>[], n: number, c: number, tag: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const latencies: number[] = [];
  const start = performance.now();
  await runConcurrent(n, c, async (i) => {
    const t = performance.now();
    const r = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ requestId: `${tag}-${i}`, inputs: [rows[i % rows.length]] }),
    });
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
    latencies.push(performance.now() - t);
  });
  return { rps: n / ((performance.now() - start) / 1000), latencies } satisfies Run;
}

export async function servingBench(opts: ReturnType<typeof servingOptionsFromEnv>, print: (line: string) => void): Promise<void> {
  print('\n## Serving: single-row predictions (built-in logistic regression, 5 features)');
  const work = await tempDir('serving');
  const stack = await startBenchStack();
  let bare: Server | undefined;
  try {
    await runBuiltinTrainer({ datasets: [{ id: 'sample', path: SAMPLE }], outDir: join(work, 'model'), seed: 7, hyperparams: {} });
    await packDirectory(join(work, 'model'), join(work, 'model.tar.gz'));
    const bytes = await readFile(join(work, 'model.tar.gz'));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const up = await stack.publisher.request<UploadTarget>('POST', '/v1/registry/uploads', { modelName: 'bench', size: bytes.length });
    const put = await fetch(up.url, { method: 'PUT', headers: up.headers, body: bytes });
    if (!put.ok) throw new Error(`upload PUT answered ${put.status}`);
    const reg = await stack.publisher.request<Registration>('POST', '/v1/registry/register', {
      uploadId: up.uploadId,
      manifest: manifestFor('bench', sha256, bytes.length),
    });
    const promotion = await stack.admin.request<{ promotionId: string }>('POST', `/v1/artifacts/${reg.artifactId}/promote`, {
      targetEnv: 'staging',
      reason: 'bench',
    });
    for (let s = 'rolling_out'; s === 'rolling_out'; await new Promise((r) => setTimeout(r, 50)))
      s = (await stack.admin.request<{ status: string }>('GET', `/v1/promotions/${promotion.promotionId}`)).status;
    const { token } = await stack.admin.request<{ token: string }>('POST', '/v1/tokens', { principal: 'bench-app', role: 'invoker' });
    const aegisUrl = `${stack.url}/v1/serving/bench/staging/predict`;
    const ref = await bareServer(join(work, 'model'));
    bare = ref.server;
    const rows = await sampleRows();

    // warm-up (not measured): model load, JIT, connections
    await drive(aegisUrl, token, rows, 300, opts.concurrency, 'warm');
    await drive(ref.url, undefined, rows, 300, opts.concurrency, 'warm');
    // alternate the arms so a busy moment of the machine does not fall on one only
    const half = Math.max(1, Math.floor(opts.requests / 2));
    const a1 = await drive(aegisUrl, token, rows, half, opts.concurrency, 'tp1');
    const b1 = await drive(ref.url, undefined, rows, half, opts.concurrency, 'tp1');
    const a2 = await drive(aegisUrl, token, rows, half, opts.concurrency, 'tp2');
    const b2 = await drive(ref.url, undefined, rows, half, opts.concurrency, 'tp2');
    const [aRps, bRps] = [(a1.rps + a2.rps) / 2, (b1.rps + b2.rps) / 2];
    const seqN = Math.min(2000, opts.requests);
    const aSeq = await drive(aegisUrl, token, rows, seqN, 1, 'lat');
    const bSeq = await drive(ref.url, undefined, rows, seqN, 1, 'lat');
    const p = (run: Run, q: number) => percentile(run.latencies, q);
    print(
      table(
        ['', 'Aegis predict', 'bare node:http + same model', 'ratio / overhead'],
        [
          [
            `throughput (${opts.concurrency} clients)`,
            `${aRps.toFixed(0)} req/s`,
            `${bRps.toFixed(0)} req/s`,
            `${ratio(aRps / bRps)} (goal ≥ 0.5×)`,
          ],
          ['latency p50 (1 client)', ms(p(aSeq, 50)), ms(p(bSeq, 50)), `+${ms(p(aSeq, 50) - p(bSeq, 50))}`],
          ['latency p99 (1 client)', ms(p(aSeq, 99)), ms(p(bSeq, 99)), `+${ms(p(aSeq, 99) - p(bSeq, 99))}`],
        ],
      ),
    );

    // ingest: 50 clients at once, then until every serving event is in the table
    const before = await recorded(stack.admin);
    const n = opts.requests;
    const start = performance.now();
    const ingest = await drive(aegisUrl, token, rows, n, opts.ingestClients, 'ingest');
    let events = 0;
    const deadline = Date.now() + 60_000;
    while ((events = (await recorded(stack.admin)) - before) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const allInMs = performance.now() - start;
    if (events < n) throw new Error(`only ${events} of ${n} serving events recorded after 60 s`);
    print(
      table(
        [`serving events, ${opts.ingestClients} concurrent clients`, 'value'],
        [
          ['requests answered', `${n} at ${ingest.rps.toFixed(0)} req/s (p99 ${ms(percentile(ingest.latencies, 99))})`],
          ['events recorded', `${events} at ${(events / (allInMs / 1000)).toFixed(0)} events/s (all in after ${ms(allInMs)})`],
        ],
      ),
    );
  } finally {
    bare?.close();
    await stack.close();
    await removeTree(work);
  }
}

/** Serving events recorded for bench in staging over the last hour (GET …/status). */
async function recorded(admin: Awaited<ReturnType<typeof startBenchStack>>['admin']): Promise<number> {
  const s = await admin.request<{ variants: { stable: { requests: number } } }>('GET', '/v1/serving/bench/staging/status?windowMinutes=60');
  return s.variants.stable.requests;
}

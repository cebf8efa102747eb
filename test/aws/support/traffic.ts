/**
 * Served traffic for the AWS-mode rollout suites (canary.test.ts, strategies.test.ts):
 * models trained with the built-in trainer and registered through the CLI, predictions and
 * their labels through the emulated API (SigV4, as an invoker) to the bundled serving and
 * feedback functions, and the serving function's event log lines delivered to the bundled
 * `serving-ingest` function as CloudWatch Logs delivers them to the subscription (batched,
 * gzip + base64, about once a second, each delivery after the first repeating the previous
 * one's last line, as an at-least-once delivery may).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runBuiltinTrainer } from '../../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../../lib/clients/training/pack.js';
import { SERVING_EVENT_FIELD } from '../../../lib/modules/serving/event-log.js';
import { roleClient } from './callers.js';
import { ok, type CliRun } from './cli.js';
import type { World } from './world.js';

export const SAMPLE = join(process.cwd(), 'test/data/sample');
/** One row of the sample's features, for single predictions. */
export const ROW = { age: 41.2, income: 52000, ratio: 0.7, weak_signal: 0.4, noise: 100.1 };

export const csv = (text: string) => {
  const [head, ...lines] = text.trim().split('\n');
  return { header: head!.split(','), rows: lines.map((l) => l.split(',')) };
};

export interface TrafficKit {
  /** Trains the built-in model on a dataset folder, registers it with the same offline metrics as the others; its id. */
  trained(label: string, datasetDir: string, datasetId: string, seed: number): Promise<string>;
  /** Registers a packed folder as an artifact of the model (anything: serving decides whether it loads); its id. */
  registered(label: string, dir: string): Promise<string>;
  /** The promotion once it is no longer under way. */
  settled(promotionId: string, timeoutMs?: number): Promise<any>;
  /**
   * Single-row predictions of the sample's rows, four callers at once, each true label sent
   * back as feedback in batches of 25, until the promotion settles; the answers by variant and
   * the events delivered to the ingest function meanwhile.
   */
  traffic(
    promotionId: string,
    tag: string,
  ): Promise<{ sent: Record<string, number>; answered: Record<string, Set<string>>; delivered: number; promotion: any }>;
  /** One prediction of {@link ROW}: the variant and artifact that answered. */
  predict(): Promise<{ variant: string; artifactId: string }>;
}

export function trafficKit(o: {
  world: () => World;
  work: () => string;
  cli: (role: string, args: string[]) => Promise<CliRun>;
  model: string;
  env: string;
  servingFn: () => string;
  ingestFn: () => string;
}): TrafficKit {
  const checksums = new Map<string, string>();
  const invoker = () => roleClient(o.world(), 'invoker');
  const base = () => `/v1/serving/${o.model}/${o.env}`;

  function startDeliveries(intervalMs = 1000) {
    const world = o.world();
    const servingFn = o.servingFn();
    let next = 0;
    let previousLast: string | undefined;
    let delivered = 0;
    let failure: unknown;
    const deliver = async () => {
      const lines = world.logs
        .slice(next)
        .filter((l) => l.startsWith(`${servingFn}: `))
        .map((l) => l.slice(servingFn.length + 2));
      next = world.logs.length;
      if (lines.length === 0) return;
      const batch = previousLast ? [previousLast, ...lines] : lines;
      previousLast = lines.at(-1);
      const payload = {
        messageType: 'DATA_MESSAGE',
        owner: '123456789012',
        logGroup: `/aws/lambda/${servingFn}`,
        logStream: '2026/11/30/[$LATEST]traffic',
        subscriptionFilters: ['aegis-serving-events'],
        logEvents: batch.map((message, i) => ({ id: `${Date.now()}${String(i).padStart(8, '0')}`, timestamp: Date.now(), message })),
      };
      await world.fleet.invoke(o.ingestFn(), { awslogs: { data: gzipSync(Buffer.from(JSON.stringify(payload))).toString('base64') } });
      delivered += lines.filter((l) => l.includes(`"${SERVING_EVENT_FIELD}"`)).length;
    };
    let running = true;
    const loop = (async () => {
      while (running) {
        await new Promise((r) => setTimeout(r, intervalMs));
        await deliver().catch((e) => {
          failure = e;
        });
      }
      await deliver();
    })();
    return {
      async stop() {
        running = false;
        await loop;
        if (failure) throw failure;
        return delivered;
      },
    };
  }

  async function registered(label: string, dir: string, seed = 7, checksum?: string, datasetId = 'traffic-sample'): Promise<string> {
    const artifact = join(o.work(), `${label}.tar.gz`);
    await packDirectory(dir, artifact);
    const manifest = join(o.work(), `${label}.manifest.json`);
    if (!checksum) {
      if (!checksums.has(datasetId)) {
        const ds = await o.cli('publisher', [
          'datasets',
          'register',
          '--id',
          datasetId,
          '--version',
          '1',
          '--path',
          join(SAMPLE, 'train.csv'),
        ]);
        ok(ds);
        checksums.set(datasetId, ds.json.checksum);
      }
      checksum = checksums.get(datasetId)!;
    }
    // the same offline metrics for all: the gate lets each through, the judge must tell them apart
    writeFileSync(
      manifest,
      JSON.stringify({
        codeRef: 'git:4f2c1e0',
        containerDigest: `sha256:${'a'.repeat(64)}`,
        datasetRefs: [{ id: datasetId, version: '1', checksum }],
        hyperparams: {},
        seed,
        trainingCmd: 'aegis train',
        environment: { node: '22' },
        metrics: { auc: 0.8 },
      }),
    );
    const reg = await o.cli('publisher', ['register', '--model', o.model, '--artifact', artifact, '--manifest', manifest]);
    ok(reg);
    return reg.json.artifactId as string;
  }

  async function trained(label: string, datasetDir: string, datasetId: string, seed: number): Promise<string> {
    if (!checksums.has(datasetId)) {
      const ds = await o.cli('publisher', [
        'datasets',
        'register',
        '--id',
        datasetId,
        '--version',
        '1',
        '--path',
        join(datasetDir, 'train.csv'),
      ]);
      ok(ds);
      checksums.set(datasetId, ds.json.checksum);
    }
    const modelDir = join(o.work(), `model-${label}`);
    await runBuiltinTrainer({ datasets: [{ id: datasetId, path: datasetDir }], outDir: modelDir, seed, hyperparams: {} });
    return registered(label, modelDir, seed, checksums.get(datasetId), datasetId);
  }

  async function settled(promotionId: string, timeoutMs = 180_000) {
    for (const deadline = Date.now() + timeoutMs; ;) {
      const p = await o.cli('auditor', ['promotions', '--id', promotionId]);
      ok(p);
      if (!['requested', 'allowed', 'approved', 'rolling_out'].includes(p.json.status)) return p.json;
      if (Date.now() > deadline)
        throw new Error(`promotion ${promotionId} still ${p.json.status}\n${o.world().logs.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function traffic(promotionId: string, tag: string) {
    const { header, rows } = csv(readFileSync(join(SAMPLE, 'train.csv'), 'utf8'));
    const col = header.indexOf('label');
    const features = header.filter((_, j) => j !== col);
    const api = invoker();
    const sent: Record<string, number> = {};
    const answered: Record<string, Set<string>> = {};
    let status = 'rolling_out';
    let n = 0;
    const deliveries = startDeliveries();
    const caller = async () => {
      let pending: { requestId: string; label: string }[] = [];
      while (status === 'rolling_out' && n < 5000) {
        const i = n++;
        const row = rows[i % rows.length]!;
        const requestId = `${tag}-${i}`;
        const input = Object.fromEntries(features.map((f) => [f, Number(row[header.indexOf(f)])]));
        const r = await api.request<{ variant: string; artifactId: string }>('POST', `${base()}/predict`, { requestId, inputs: [input] });
        sent[r.variant] = (sent[r.variant] ?? 0) + 1;
        (answered[r.variant] ??= new Set()).add(r.artifactId);
        pending.push({ requestId, label: row[col]! });
        if (pending.length === 25) {
          await api.request('POST', `${base()}/feedback`, { items: pending });
          pending = [];
          const p = await o.cli('auditor', ['promotions', '--id', promotionId]);
          status = p.json.status;
        }
      }
      if (pending.length) await api.request('POST', `${base()}/feedback`, { items: pending });
    };
    await Promise.all([caller(), caller(), caller(), caller()]);
    const delivered = await deliveries.stop();
    return { sent, answered, delivered, promotion: await settled(promotionId) };
  }

  const predict = () => invoker().request<{ variant: string; artifactId: string }>('POST', `${base()}/predict`, { inputs: [ROW] });

  return { trained, registered: (label, dir) => registered(label, dir), settled, traffic, predict };
}

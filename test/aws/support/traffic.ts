/**
 * Served traffic for the AWS-mode rollout suites (canary.test.ts, strategies.test.ts):
 * models trained with the built-in trainer and registered through the CLI, predictions and
 * their labels through the emulated API (SigV4, as an invoker) to the bundled serving and
 * feedback functions, and the serving function's event log lines delivered to the bundled
 * `serving-ingest` function as CloudWatch Logs delivers them to the subscription (batched,
 * gzip + base64, about once a second, each delivery after the first repeating the previous
 * one's last line, as an at-least-once delivery may).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll } from '@jest/globals';
import { createPrng } from '../../../lib/clients/training/prng.js';
import { runBuiltinTrainer } from '../../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../../lib/clients/training/pack.js';
import { SERVING_EVENT_FIELD } from '../../../lib/modules/serving/event-log.js';
import { roleClient } from './callers.js';
import { ok, type CliRun } from './cli.js';
import { worldSuite, type WorldSuite } from './suite.js';
import { servedRoutes, type FunctionAsset } from './synth.js';
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

  /** Registers version 1 of the dataset (its train.csv) once per run; its checksum. */
  async function datasetChecksum(datasetId: string, datasetDir: string): Promise<string> {
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
    return checksums.get(datasetId)!;
  }

  async function registered(label: string, dir: string, seed = 7, checksum?: string, datasetId = 'traffic-sample'): Promise<string> {
    const artifact = join(o.work(), `${label}.tar.gz`);
    await packDirectory(dir, artifact);
    const manifest = join(o.work(), `${label}.manifest.json`);
    checksum ??= await datasetChecksum(datasetId, SAMPLE);
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
    const checksum = await datasetChecksum(datasetId, datasetDir);
    const modelDir = join(o.work(), `model-${label}`);
    await runBuiltinTrainer({ datasets: [{ id: datasetId, path: datasetDir }], outDir: modelDir, seed, hyperparams: {} });
    return registered(label, modelDir, seed, checksum, datasetId);
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

/**
 * The sample with its labels permuted (seeded) in `<work>/shuffled`: a model trained on it has
 * learnt nothing. Its folder.
 */
export function shuffledSample(work: string, seed = 17): string {
  const { header, rows } = csv(readFileSync(join(SAMPLE, 'train.csv'), 'utf8'));
  const col = header.indexOf('label');
  const labels = createPrng(seed).shuffle(rows.map((r) => r[col]!));
  const dir = join(work, 'shuffled');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'train.csv'),
    `${[header.join(','), ...rows.map((r, i) => r.map((v, j) => (j === col ? labels[i]! : v)).join(','))].join('\n')}\n`,
  );
  return dir;
}

/** A suite's world with served traffic: the world, its temp folder, the serving and ingest functions, the CLI and the kit. */
export interface ServedWorld extends WorldSuite {
  readonly servingFn: string;
  readonly ingestFn: string;
  kit: TrafficKit;
}

/**
 * Starts the world before the suite's tests (every Wait of the state machines lasting `waitMs`,
 * the window the traffic fills; the serving function seeing a route change within a second, the
 * default cache being 5 s) and stops it, with the suite's temp folder, after them.
 */
export function servedWorld(o: {
  model: string;
  env: string;
  prefix: string;
  waitMs?: number;
  /** more environment for some functions (the suite's temp folder given, e.g. for a configuration file written there) */
  extraEnv?: (fn: FunctionAsset, work: string) => Record<string, string>;
}): ServedWorld {
  const suite = worldSuite(o.prefix, (work) => ({
    waitMs: o.waitMs ?? 10_000,
    extraEnv: (fn): Record<string, string> => ({
      ...(servedRoutes(fn).includes('servingPredict') ? { AEGIS_SERVING_ROUTE_CACHE_SECONDS: '1' } : {}),
      ...o.extraEnv?.(fn, work),
    }),
  }));
  let servingFn = '';
  let ingestFn = '';
  beforeAll(() => {
    servingFn = suite.world.functionId((fn) => servedRoutes(fn).includes('servingPredict'));
    ingestFn = suite.world.functionId((fn) => /^ServingIngest/.test(fn.logicalId));
  });
  const { cli } = suite;
  const kit = trafficKit({
    world: () => suite.world,
    work: () => suite.work,
    cli,
    model: o.model,
    env: o.env,
    servingFn: () => servingFn,
    ingestFn: () => ingestFn,
  });
  return {
    get world() {
      return suite.world;
    },
    get work() {
      return suite.work;
    },
    get servingFn() {
      return servingFn;
    },
    get ingestFn() {
      return ingestFn;
    },
    cli,
    kit,
  };
}

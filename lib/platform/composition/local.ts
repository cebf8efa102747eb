/**
 * The composition root of everything that runs on a machine rather than in Lambda: the
 * local server, the CLI's admin tools and the tests. It may pick any adapter the
 * configuration names (PGlite, a PostgreSQL server or the Data API; the filesystem or S3;
 * key files or KMS), importing each lazily so a local run never loads the AWS SDK it does
 * not use. Lambda bundles never import this file (see composition-lambda.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessScheduler } from '../adapters/scheduler/in-process.js';
import { PrometheusMetricsSink } from '../adapters/metrics/prometheus.js';
import { buildContainer, unconfiguredWorkflows, type AdapterFactories, type BuildOptions } from './services.js';
import { kmsProviderOptions, type Config, type DatabaseConfig } from '../config.js';
import type { Container } from './container.js';
import type { Database } from '../ports/database.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { Workflows } from '../ports/workflows.js';
import type { RolloutService } from '../../modules/rollout/service.js';
import { modelRuntimes } from './runtimes.js';
import { afterResponse } from '../http/after-response.js';
import { unconfiguredDriftWorkflows, type DriftStep } from './drift.js';
import { tracedAdapters } from './traced-adapters.js';
import { unconfiguredRegisterWorkflows, type RegisterStep } from './registration.js';

/** Opens a registry database by its configuration (no migrations, no bootstrap). */
export async function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  switch (cfg.kind) {
    case 'pglite': {
      const { PgliteDatabase } = await import('../adapters/sql/pglite.js');
      const { template } = cfg;
      // the template is read only when the data folder is new
      return PgliteDatabase.open(cfg.dataDir, { template: template ? () => templateData(template) : undefined });
    }
    case 'pg': {
      const { PgDatabase } = await import('../adapters/sql/pg.js');
      return new PgDatabase(cfg.url);
    }
    case 'data-api': {
      const { DataApiDatabase } = await import('../adapters/sql/data-api.js');
      return new DataApiDatabase(cfg);
    }
  }
}

/** The build's template's data folder when this code may start a new data folder from it (else initdb). */
async function templateData(dir: string): Promise<string | undefined> {
  const [{ usableTemplate }, { MIGRATION_NAMES }] = await Promise.all([
    import('../adapters/sql/pglite-template.js'),
    import('../sql/migrations.js'),
  ]);
  const t = usableTemplate(dir, MIGRATION_NAMES);
  return 'data' in t ? t.data : undefined;
}

/** A secret that signs local upload URLs; created once per data folder, never logged. */
function uploadSecret(dataDir: string): Buffer {
  const path = join(dataDir, 'upload-url.secret');
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(path, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
}

async function s3Store(config: Config, bucket: string): Promise<ObjectStore> {
  const { S3ObjectStore, s3Client } = await import('../adapters/object-store/s3.js');
  return new S3ObjectStore({ bucket, client: s3Client(config.s3) });
}

/** The audit archive store (an Object-Lock bucket on AWS, a folder of the data dir locally). */
async function openArchiveStore(config: Config): Promise<ObjectStore> {
  if (config.auditArchive.kind === 's3') return s3Store(config, config.auditArchive.bucket);
  const { FsObjectStore } = await import('../adapters/object-store/fs.js');
  return new FsObjectStore({ root: config.auditArchive.root });
}

async function localWorkflows(config: Config, opts: BuildOptions, rollout: RolloutService): Promise<Workflows> {
  if (opts.mode === 'lambda') {
    if (!config.stateMachineArns) return unconfiguredWorkflows;
    const { SfnWorkflows } = await import('../adapters/workflows/sfn.js');
    return new SfnWorkflows(config.stateMachineArns);
  }
  const { LocalWorkflows } = await import('../adapters/workflows/asl.js');
  return new LocalWorkflows({
    definitionsDir: config.statemachinesDir,
    step: (input) => rollout.step(input as never),
    ...(opts.waitMs !== undefined ? { waitMs: opts.waitMs } : {}),
    onError: (name, e) => (opts.logger ?? console).error('rollout execution failed', { promotionId: name, error: (e as Error).message }),
    release: (promotionId, runner) => rollout.release(promotionId, runner),
  });
}

/** The drift machine: the same ASL in-process, every Task state the drift step (Step Functions when built as Lambda). */
async function localDriftWorkflows(config: Config, opts: { mode: Container['mode']; logger: Container['logger'] }, step: DriftStep) {
  if (opts.mode === 'lambda') {
    if (!config.drift.stateMachineArn) return unconfiguredDriftWorkflows;
    const { SfnWorkflows } = await import('../adapters/workflows/sfn.js');
    return new SfnWorkflows({ drift: config.drift.stateMachineArn });
  }
  const { LocalWorkflows } = await import('../adapters/workflows/asl.js');
  return new LocalWorkflows({
    definitionsDir: config.statemachinesDir,
    step,
    onError: (runId, e) => opts.logger.error('drift execution failed', { runId, error: (e as Error).message }),
  });
}

/** The register machine: the same ASL in-process, every Task state the register step (Step Functions when built as Lambda). */
async function localRegisterWorkflows(config: Config, opts: { mode: Container['mode']; logger: Container['logger'] }, step: RegisterStep) {
  if (opts.mode === 'lambda') {
    if (!config.registration.stateMachineArn) return unconfiguredRegisterWorkflows;
    const { SfnWorkflows } = await import('../adapters/workflows/sfn.js');
    return new SfnWorkflows({ register: config.registration.stateMachineArn });
  }
  const { LocalWorkflows } = await import('../adapters/workflows/asl.js');
  return new LocalWorkflows({
    definitionsDir: config.statemachinesDir,
    step,
    onError: (registrationId, e) => opts.logger.error('register execution failed', { registrationId, error: (e as Error).message }),
  });
}

export const localAdapters: AdapterFactories = {
  database: (config) => openDatabase(config.database),
  async objectStore(config, publicUrl) {
    if (config.objectStore.kind === 's3') return { store: await s3Store(config, config.objectStore.bucket) };
    const { FsObjectStore } = await import('../adapters/object-store/fs.js');
    const fs = new FsObjectStore({ root: config.objectStore.root, uploadBaseUrl: publicUrl, uploadSecret: uploadSecret(config.dataDir) });
    // the local server's upload URLs write into this store, and its download URLs read from it
    return { store: fs, uploadSink: fs, downloadSource: fs };
  },
  archiveStore: openArchiveStore,
  async keyProvider(config) {
    if (config.signing.backend === 'kms') {
      const { KmsKeyProvider } = await import('../adapters/signing/kms.js');
      return new KmsKeyProvider(kmsProviderOptions(config));
    }
    const { FileKeyProvider } = await import('../adapters/signing/file.js');
    return new FileKeyProvider({ dir: join(config.dataDir, 'keys') });
  },
  async metricsSource(config, serving) {
    if (!config.canaryMetricsFile) return serving; // the serving events this deployment recorded
    const { RecordedMetricsSource } = await import('../adapters/canary-metrics/recorded.js');
    return RecordedMetricsSource.fromFile(config.canaryMetricsFile);
  },
  // the data folder's drift/ store: input segments, and the drift runs' plans, shard counts and reports
  async driftStore(config) {
    const { FsObjectStore } = await import('../adapters/object-store/fs.js');
    const fs = new FsObjectStore({ root: join(config.dataDir, 'drift') });
    return { segments: fs, purge: fs, objects: fs };
  },
  workflows: localWorkflows,
  driftWorkflows: localDriftWorkflows,
  registerWorkflows: localRegisterWorkflows,
  modelRuntimes,
  // a shadow runs once the caller's response is written (setImmediate outside a request: tools, benches)
  shadowMode: () => ({ kind: 'after-response', defer: (task) => void (afterResponse(task) || setImmediate(task)) }),
  // blue-green warm-ups load and answer in this process: the one that serves the switched route
  servingWarmer: (_config, serving) => serving,
  async policy(config, clock) {
    const { openPolicy } = await import('./policy.js');
    return openPolicy(config, clock);
  },
  // a Prometheus registry per container, served at the local server's /metrics
  metrics() {
    const prometheus = new PrometheusMetricsSink();
    return { sinks: [prometheus], exposition: prometheus };
  },
  scheduler: (_config, opts) =>
    new InProcessScheduler({
      ...(opts.timers && { timers: opts.timers }),
      onError: (job, e) => (opts.logger ?? console).error('scheduled job failed', { job, error: (e as Error).message }),
    }),
};

/** The container of a process on a machine (local server, admin tools, tests); its ports make spans when tracing is on. */
export const buildLocalContainer = (config: Config, opts: BuildOptions): Promise<Container> =>
  buildContainer(config, tracedAdapters(localAdapters), opts);

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from './config.js';
import type { Container } from './container.js';
import { migrateToLatest } from './db/migrations.js';
import { BearerTokenAuthenticator, IamAuthenticator } from './http/auth.js';
import { systemClock, type Clock, type Database, type KeyProvider, type ObjectStore, type RolloutJudge, type Workflows } from './ports.js';
import type { MetricsSource } from './core/canary-metrics.js';
import type { PolicyEngine, RiskTier } from './core/policy.js';
import { AuditLog } from './services/audit.js';
import { addMetricsSink } from './services/metrics.js';
import { MetricsRolloutJudge } from './services/canary.js';
import { PromotionService } from './services/promotions.js';
import { RolloutService } from './services/rollout.js';
import { AuditTrail } from './services/audit-trail.js';
import { DatasetService } from './services/datasets.js';
import { KeyService } from './services/keys.js';
import { LineageService } from './services/lineage.js';
import { RegistryService } from './services/registry.js';
import { TokenService } from './services/tokens.js';
import { VerificationService } from './services/verification.js';

export const REGISTRY_DEFAULTS = { retentionDays: 365, uploadTtlSeconds: 3600 } as const;
/** Audit archive retention (Object Lock): seven years, the usual audit-record horizon. */
export const AUDIT_RETENTION_DAYS = 2557;

async function openDatabase(config: Config): Promise<Database> {
  switch (config.database.kind) {
    case 'pglite': {
      const { PgliteDatabase } = await import('./adapters/local/pglite-database.js');
      return PgliteDatabase.open(config.database.dataDir);
    }
    case 'pg': {
      const { PgDatabase } = await import('./adapters/local/pg-database.js');
      return new PgDatabase(config.database.url);
    }
    case 'data-api': {
      const { DataApiDatabase } = await import('./adapters/aws/data-api-database.js');
      return new DataApiDatabase(config.database);
    }
  }
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

async function openStore(config: Config, publicUrl: string | undefined): Promise<ObjectStore> {
  if (config.objectStore.kind === 's3') {
    const { S3ObjectStore } = await import('./adapters/aws/s3-object-store.js');
    return new S3ObjectStore({ bucket: config.objectStore.bucket });
  }
  const { FsObjectStore } = await import('./adapters/local/fs-object-store.js');
  return new FsObjectStore({ root: config.objectStore.root, uploadBaseUrl: publicUrl, uploadSecret: uploadSecret(config.dataDir) });
}

async function openArchiveStore(config: Config): Promise<ObjectStore> {
  if (config.auditArchive.kind === 's3') {
    const { S3ObjectStore } = await import('./adapters/aws/s3-object-store.js');
    return new S3ObjectStore({ bucket: config.auditArchive.bucket });
  }
  const { FsObjectStore } = await import('./adapters/local/fs-object-store.js');
  return new FsObjectStore({ root: config.auditArchive.root });
}

async function openKeyProvider(config: Config): Promise<KeyProvider> {
  if (config.signing.backend === 'kms') {
    const { KmsKeyProvider } = await import('./adapters/aws/kms-key-provider.js');
    return new KmsKeyProvider({});
  }
  const { FileKeyProvider } = await import('./adapters/local/file-key-provider.js');
  return new FileKeyProvider({ dir: join(config.dataDir, 'keys') });
}

async function openPolicyEngine(config: Config, clock: Clock): Promise<{ engine: PolicyEngine; riskTierOf: (m: string) => RiskTier }> {
  const { CedarPolicyEngine } = await import('./adapters/local/cedar-policy-engine.js');
  const local = await CedarPolicyEngine.load(config.policiesDir, { clock });
  const riskTierOf = (m: string) => local.config.riskTiers.models[m] ?? local.config.riskTiers.default;
  if (!config.sentinelnetUrl) return { engine: local, riskTierOf };
  const { RemotePolicyEngine } = await import('./adapters/remote-policy-engine.js');
  return { engine: new RemotePolicyEngine({ url: config.sentinelnetUrl }), riskTierOf };
}

async function openMetricsSource(config: Config): Promise<MetricsSource> {
  const { RecordedMetricsSource } = await import('./adapters/local/recorded-metrics-source.js');
  // Serving writes per-variant metrics later; until then a recording (or nothing: inconclusive).
  return config.canaryMetricsFile ? RecordedMetricsSource.fromFile(config.canaryMetricsFile) : new RecordedMetricsSource();
}

async function openWorkflows(config: Config, opts: BuildOptions, rollout: RolloutService): Promise<Workflows> {
  if (opts.mode === 'lambda') {
    if (!config.stateMachineArns) return { start: () => Promise.reject(new Error('AEGIS_PROMOTION_STATE_MACHINE_ARN and AEGIS_ROLLBACK_STATE_MACHINE_ARN are not set')) };
    const { SfnWorkflows } = await import('./adapters/aws/sfn-workflows.js');
    return new SfnWorkflows(config.stateMachineArns);
  }
  const { LocalWorkflows } = await import('./adapters/local/local-workflows.js');
  return new LocalWorkflows({
    definitionsDir: config.statemachinesDir,
    step: (input) => rollout.step(input as never),
    ...(opts.waitMs !== undefined ? { waitMs: opts.waitMs } : {}),
    onError: (name, e) => (opts.logger ?? console).error('rollout execution failed', { promotionId: name, error: (e as Error).message }),
  });
}

let emfSinkAdded = false;

export interface BuildOptions {
  mode: 'local' | 'lambda';
  /** base URL of the local server, for local upload URLs */
  publicUrl?: string;
  clock?: Clock;
  /** run migrations and make sure signing keys exist (local start and the AWS migrate step) */
  bootstrap?: boolean;
  logger?: Container['logger'];
  /** tests: judge canaries with this instead of the metrics */
  judge?: RolloutJudge;
  /** tests: shorten every Wait of the local state machines to this many ms */
  waitMs?: number;
}

/**
 * The composition root: the only place that chooses and constructs adapters. Adapter
 * modules are imported lazily so a Lambda bundle never loads PGlite and the local server
 * never needs AWS credentials.
 */
export async function buildContainer(config: Config, opts: BuildOptions): Promise<Container> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? new Logger({ serviceName: 'aegis' });
  if (opts.mode === 'lambda' && !emfSinkAdded) {
    // Lambda: the same measurements also go to CloudWatch as EMF (Prometheus serves them locally)
    const { EmfMetricsSink } = await import('./adapters/aws/emf-metrics-sink.js');
    addMetricsSink(new EmfMetricsSink());
    emfSinkAdded = true;
  }
  const database = await openDatabase(config);
  try {
    const store = await openStore(config, opts.publicUrl ?? config.publicUrl);
    const keyProvider = await openKeyProvider(config);
    // The audit log signs with the active audit key as its transaction sees it; the key
    // service audits its own changes through the same log.
    const audit = new AuditLog((tx) => keys.activeSigner('audit', tx), clock);
    const keys: KeyService = new KeyService(database, keyProvider, clock, audit);
    if (opts.bootstrap) await bootstrap(config, database, keys);
    const datasets = new DatasetService(database, clock, audit);
    const registry = new RegistryService(database, store, keys, datasets, audit, clock, REGISTRY_DEFAULTS);
    const tokens = new TokenService(database, clock, audit);
    const auditTrail = new AuditTrail(database, await openArchiveStore(config), keys, clock, AUDIT_RETENTION_DAYS);
    const verification = new VerificationService(registry, keys, store);
    const judge = opts.judge ?? new MetricsRolloutJudge(await openMetricsSource(config));
    const rollout = new RolloutService(database, audit, keys, judge, clock);
    const workflows = await openWorkflows(config, opts, rollout);
    // Cedar's wasm loads on the first decision, so functions that never promote never pay for it.
    let policy: Promise<Awaited<ReturnType<typeof openPolicyEngine>>> | undefined;
    const engine = () => (policy ??= openPolicyEngine(config, clock));
    const promotions = new PromotionService({
      database,
      registry,
      verification,
      keys,
      audit,
      // the risk tier comes from SentinelNet's configuration, never from the requester
      policy: {
        decide: async (input) => {
          const e = await engine();
          return e.engine.decide({ ...input, riskTier: e.riskTierOf(input.artifact.modelName) });
        },
      },
      workflows,
      clock,
      pendingTtlSeconds: config.pendingPromotionTtlSeconds,
    });
    return {
      config,
      mode: opts.mode,
      database,
      store,
      keyProvider,
      keys,
      audit,
      auditTrail,
      registry,
      datasets,
      lineage: new LineageService(database, registry, datasets, keys, clock),
      verification,
      promotions,
      rollout,
      workflows,
      tokens,
      auth: opts.mode === 'lambda' ? new IamAuthenticator(config.iamRoleMap) : new BearerTokenAuthenticator(tokens),
      logger,
      clock,
      close: () => database.close(),
    };
  } catch (e) {
    await database.close();
    throw e;
  }
}

/** Schema migrations, then an active manifest and audit key (created locally, adopted from KMS). */
export async function bootstrap(config: Config, database: Database, keys: KeyService): Promise<string[]> {
  const applied = await migrateToLatest(database.db);
  const { manifestKmsKeyId, auditKmsKeyId, manifestSignerKid } = config.signing;
  // The audit key first: every later key creation is an audit event it signs.
  await keys.ensureActive('audit', 'audit-signer-v1', auditKmsKeyId ? { kmsKeyId: auditKmsKeyId } : {});
  await keys.ensureActive('manifest', manifestSignerKid, manifestKmsKeyId ? { kmsKeyId: manifestKmsKeyId } : {});
  return applied;
}

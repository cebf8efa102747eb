import { EVENT_CATALOGUE } from '../../modules/catalogue.js';
import type { Timers } from '../ports/scheduler.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { AUDIT_CHECKPOINT_DEFAULT_SECONDS, type Config } from '../config.js';
import type { Container } from './container.js';
import { migrateToLatest } from '../sql/migrations.js';
import { runStartupChecks } from '../startup-checks.js';
import { BearerTokenAuthenticator } from '../adapters/auth/bearer-token.js';
import { IamAuthenticator } from '../adapters/auth/iam.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { KeyProvider } from '../ports/signer.js';
import type { MetricsExposition, MetricsSink } from '../ports/metrics.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { RolloutJudge, Workflows } from '../ports/workflows.js';
import type { ScheduledJobName, Scheduler } from '../ports/scheduler.js';
import type { MetricsSource } from '../ports/canary-metrics.js';
import type { PromotionGate } from '../ports/policy.js';
import { AuditLog } from '../audit/log.js';
import { serviceMetrics } from '../metrics.js';
import { MetricsRolloutJudge } from '../../modules/rollout/canary.js';
import { PromotionLedgerService } from '../../modules/promotion/ledger.js';
import { PromotionService } from '../../modules/promotion/service.js';
import { RolloutService } from '../../modules/rollout/service.js';
import { AuditTrail } from '../audit/trail.js';
import { DatasetService } from '../../modules/datasets/service.js';
import { KeyService } from '../../modules/keys/service.js';
import { LineageService } from '../../modules/lineage/service.js';
import { RegistryService } from '../../modules/registry/service.js';
import { TokenService } from '../../modules/tokens/service.js';
import { VerificationService } from '../../modules/registry/verification.js';

export const REGISTRY_DEFAULTS = { retentionDays: 365, uploadTtlSeconds: 3600 } as const;

/**
 * How often the in-process scheduler runs each job (the local server). On AWS each job is an
 * EventBridge rule whose rate the stack sets (`lib/infra/scheduled-job.ts`).
 */
export const LOCAL_SCHEDULE_MS: Readonly<Record<ScheduledJobName, number>> = {
  'audit-archive': 30_000,
  // the default: AEGIS_AUDIT_CHECKPOINT_SECONDS sets it
  'audit-checkpoint': AUDIT_CHECKPOINT_DEFAULT_SECONDS * 1000,
  'pending-promotion-expiry': 30_000,
  'pending-upload-expiry': 300_000,
  // the local server's default lease (60 s) / 4; rolloutTakeoverMs follows AEGIS_ROLLOUT_LEASE_SECONDS
  'rollout-takeover': 15_000,
};
/** How often a local server looks for rollouts to take over: a few times per lease. */
export const rolloutTakeoverMs = (config: Config): number => Math.max(500, Math.floor((config.rolloutLeaseSeconds * 1000) / 4));

/**
 * The test-only fault point (`AEGIS_TEST_KILL_AT`, refused in production): the process
 * kills itself with SIGKILL the `nth` time it reaches `point`, as `kill -9` would, at a
 * deterministic place (inside a step's transaction, before its commit).
 */
function killAt(at: { point: string; nth: number }): (point: string) => void {
  let seen = 0;
  return (point) => {
    if (point !== at.point || ++seen !== at.nth) return;
    process.stderr.write(`AEGIS_TEST_KILL_AT: killed at ${point}#${seen}\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}

/** Audit archive retention (Object Lock): seven years, the usual audit-record horizon. */
export const AUDIT_RETENTION_DAYS = 2557;

/**
 * How one kind of process gets its adapters. The composition roots (`composition-local.ts`
 * for the local server, CLI tools and tests; `composition-lambda.ts` for Lambda) each
 * provide one; {@link buildContainer} wires the services the same way for both. A Lambda
 * bundle only contains what its factories import, which is why the local drivers (PGlite,
 * pg, the in-process state-machine runner, Prometheus) live in the local factories alone.
 */
export interface AdapterFactories {
  database(config: Config): Promise<Database>;
  objectStore(config: Config, publicUrl: string | undefined): Promise<ObjectStore>;
  archiveStore(config: Config): Promise<ObjectStore>;
  keyProvider(config: Config): Promise<KeyProvider>;
  metricsSource(config: Config): Promise<MetricsSource>;
  workflows(config: Config, opts: BuildOptions, rollout: RolloutService): Promise<Workflows>;
  /**
   * SentinelNet, loaded on the first decision (Cedar's wasm costs start time). Absent in
   * functions that never decide a promotion: their bundles carry no policy engine.
   */
  policy?: (config: Config, clock: Clock) => Promise<PromotionGate>;
  /**
   * Where this container's service measurements go (Prometheus locally, EMF in Lambda), new
   * for each container, and what the process serves to a scraper (the local `/metrics`).
   */
  metrics(): { sinks: MetricsSink[]; exposition?: MetricsExposition };
  /** Runs the scheduled jobs: timers in the process locally, EventBridge rules on AWS. */
  scheduler(config: Config, opts: BuildOptions): Scheduler;
}

export interface BuildOptions {
  /** who calls: bearer tokens (local) or IAM identities from API Gateway (lambda) */
  mode: 'local' | 'lambda';
  /** base URL of the local server, for local upload URLs */
  publicUrl?: string;
  clock?: Clock;
  /** run migrations and make sure signing keys exist (local start and the AWS migrate step) */
  bootstrap?: boolean;
  /**
   * This process migrates the database itself (the migrate function, or `bootstrap`): the
   * production startup checks do not require the schema to be at the latest migration.
   */
  migrating?: boolean;
  logger?: Container['logger'];
  /** tests: judge canaries with this instead of the metrics */
  judge?: RolloutJudge;
  /** tests: shorten every Wait of the local state machines to this many ms */
  waitMs?: number;
  /** tests: the in-process scheduler's timers (a fake one advances time without sleeping) */
  timers?: Timers;
}

const noPolicyEngine = (): Promise<PromotionGate> =>
  Promise.reject(new Error('this process was built without a policy engine (only the promotion routes decide policy)'));

/**
 * Wires the services from the adapters {@link AdapterFactories} gives: the one place that
 * knows how services depend on each other. Only the composition roots call it.
 */
export async function buildContainer(config: Config, adapters: AdapterFactories, opts: BuildOptions): Promise<Container> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? new Logger({ serviceName: 'aegis' });
  const { sinks, exposition } = adapters.metrics();
  const metrics = serviceMetrics(sinks);
  const database = await adapters.database(config);
  try {
    const store = await adapters.objectStore(config, opts.publicUrl ?? config.publicUrl);
    const keyProvider = await adapters.keyProvider(config);
    const archiveStore = await adapters.archiveStore(config);
    // Production checks what its guarantees rest on before it serves (see startup-checks.ts);
    // a process that migrates checks everything but the schema, which it is about to bring up to date.
    if (config.nodeEnv === 'production') {
      await runStartupChecks(
        config,
        { database, store, archive: archiveStore, keyProvider },
        { migrating: Boolean(opts.bootstrap || opts.migrating) },
      );
    }
    // The audit log signs with the active audit key as its transaction sees it; the key
    // service audits its own changes through the same log.
    const audit = new AuditLog((tx) => keys.activeSigner('audit', tx), clock, EVENT_CATALOGUE);
    const keys: KeyService = new KeyService(database, keyProvider, clock, audit);
    if (opts.bootstrap) await bootstrap(config, database, keys);
    const datasets = new DatasetService(database, clock, audit);
    const registry = new RegistryService(database, store, keys, datasets, audit, clock, {
      ...REGISTRY_DEFAULTS,
      pendingUploadTtlSeconds: config.pendingUploadTtlSeconds,
      // Lambda functions may not delete objects: the artifact bucket's lifecycle rule removes tagged pending uploads.
      pendingUploadBytes: opts.mode === 'lambda' ? 'lifecycle' : 'delete',
      metrics,
    });
    const tokens = new TokenService(database, clock, audit);
    const auditTrail = new AuditTrail(database, archiveStore, keys, clock, AUDIT_RETENTION_DAYS);
    const verification = new VerificationService(registry, keys, store);
    const judge = opts.judge ?? new MetricsRolloutJudge(await adapters.metricsSource(config));
    const rollout = new RolloutService({
      database,
      audit,
      judge,
      clock,
      promotions: new PromotionLedgerService({ database, keys, audit }),
      metrics,
      options: {
        leaseSeconds: config.rolloutLeaseSeconds,
        ...(config.testKillAt ? { faultPoint: killAt(config.testKillAt) } : {}),
      },
    });
    const workflows = await adapters.workflows(config, opts, rollout);
    let policy: Promise<PromotionGate> | undefined;
    const gate = () => (policy ??= (adapters.policy ?? noPolicyEngine)(config, clock));
    const promotions = new PromotionService({
      database,
      registry,
      verification,
      keys,
      audit,
      policy: { decide: async (request) => (await gate()).decide(request) },
      workflows,
      rollout,
      clock,
      metrics,
      pendingTtlSeconds: config.pendingPromotionTtlSeconds,
    });
    const scheduler = adapters.scheduler(config, { ...opts, logger });
    scheduler.register({ name: 'audit-archive', everyMs: LOCAL_SCHEDULE_MS['audit-archive'], run: () => auditTrail.archive() });
    // Bounds how many of the newest (not yet archived) events can be deleted unnoticed.
    scheduler.register({ name: 'audit-checkpoint', everyMs: config.auditCheckpointSeconds * 1000, run: () => auditTrail.checkpointHead() });
    // Pending multisig promotions past their expiry are also expired whenever they are next touched.
    scheduler.register({
      name: 'pending-promotion-expiry',
      everyMs: LOCAL_SCHEDULE_MS['pending-promotion-expiry'],
      run: () => promotions.expirePending(),
    });
    scheduler.register({
      name: 'pending-upload-expiry',
      everyMs: LOCAL_SCHEDULE_MS['pending-upload-expiry'],
      run: () => registry.expirePendingUploads(),
    });
    // A server resumes the rollouts whose runner died (its lease expired) elsewhere on the same
    // database. Local only: on AWS a Step Functions execution is durable, and named per promotion.
    if (opts.mode === 'local') {
      scheduler.register({
        name: 'rollout-takeover',
        everyMs: rolloutTakeoverMs(config),
        run: async () => {
          const taken = await promotions.resumeUnfinished(config.rolloutLeaseSeconds * 1000);
          if (taken.length) logger.info('resumed rollouts nobody held (their lease expired or was never taken)', { promotions: taken });
          return taken;
        },
      });
    }
    return {
      config,
      mode: opts.mode,
      scheduler,
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
      ...(exposition && { metricsExposition: exposition }),
      auth: opts.mode === 'lambda' ? new IamAuthenticator(config.iamRoleMap) : new BearerTokenAuthenticator(tokens),
      logger,
      clock,
      close: async () => {
        await scheduler.stop();
        await database.close();
      },
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

import { EVENT_CATALOGUE } from '../../modules/catalogue.js';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Config } from '../config.js';
import type { Container } from './container.js';
import { registerJobs } from './jobs.js';
import { bootstrap } from './bootstrap.js';
import { runStartupChecks } from '../startup-checks.js';
import { BearerTokenAuthenticator } from '../adapters/auth/bearer-token.js';
import { IamAuthenticator } from '../adapters/auth/iam.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { KeyProvider } from '../ports/signer.js';
import type { MetricsExposition, MetricsSink, ServiceMetrics } from '../ports/metrics.js';
import type { DownloadSource, ObjectStore, UploadSink } from '../ports/object-store.js';
import type { RolloutJudge, Workflows } from '../ports/workflows.js';
import type { ServingWarmer } from '../ports/serving-warmer.js';
import type { Scheduler, Timers } from '../ports/scheduler.js';
import type { MetricsSource } from '../ports/canary-metrics.js';
import type { PromotionGate } from '../ports/policy.js';
import { AuditLog } from '../audit/log.js';
import { serviceMetrics } from '../metrics.js';
import { MetricsRolloutJudge } from '../../modules/rollout/canary.js';
import { PromotionLedgerService } from '../../modules/promotion/ledger.js';
import { PromotionService } from '../../modules/promotion/service.js';
import { QuarantineReader, QuarantineService } from '../../modules/quarantine/service.js';
import { RolloutService } from '../../modules/rollout/service.js';
import { AuditTrail } from '../audit/trail.js';
import { DatasetService } from '../../modules/datasets/service.js';
import { auditSigning, KeyService } from '../../modules/keys/service.js';
import { TokenService } from '../../modules/tokens/service.js';
import { VerificationService } from '../../modules/registry/verification.js';
import { driftServices, type DriftAdapters } from './drift.js';
import { servingService, type DriftStore, type ServingAdapters } from './serving.js';
import { lineageService } from './lineage.js';
import { killAt } from './fault-point.js';
import { driftRecords } from './drift-records.js';
import { eventServices, Outbox, type EventAdapters } from './events.js';
import { withCommitHook } from './commit-hook.js';
import { registryService, type RegistrationAdapters } from './registration.js';

export { REGISTRY_DEFAULTS } from './registration.js';

/** Audit archive retention (Object Lock): seven years, the usual audit-record horizon. */
export const AUDIT_RETENTION_DAYS = 2557;

/**
 * How one kind of process gets its adapters. The composition roots (`local.ts` for the local
 * server, CLI tools and tests; `lambda.ts` for Lambda) each provide one; {@link buildContainer}
 * wires the services the same way for both. A Lambda bundle only contains what its factories
 * import, which is why the local drivers (PGlite, pg, the in-process state-machine runner,
 * Prometheus) live in the local factories alone.
 */
export interface AdapterFactories extends ServingAdapters, DriftAdapters, EventAdapters, RegistrationAdapters {
  database(config: Config): Promise<Database>;
  /** the artifact store, and the upload sink (download source) the local server writes to (reads from) when the store signs its own URLs */
  objectStore(
    config: Config,
    publicUrl: string | undefined,
  ): Promise<{ store: ObjectStore; uploadSink?: UploadSink; downloadSource?: DownloadSource }>;
  archiveStore(config: Config): Promise<ObjectStore>;
  keyProvider(config: Config): Promise<KeyProvider>;
  /** what the canary judge reads; `serving` is the serving events' SQL source, the default */
  metricsSource(config: Config, serving: MetricsSource): Promise<MetricsSource>;
  /**
   * the drift store: where serving writes input segments, and what the drift pipeline reads and writes (the data
   * folder locally, `DRIFT_S3_BUCKET` in Lambda); absent: none
   */
  driftStore?(config: Config): Promise<DriftStore | undefined>;
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
  /** tests: warm blue-green candidates with this (RolloutDeps.warmer) */
  warmer?: ServingWarmer;
  /** tests: shorten every Wait of the local state machines to this many ms */
  waitMs?: number;
  /** tests: the in-process scheduler's timers (a fake one advances time without sleeping) */
  timers?: Timers;
}

/** The rollout state machines of a Lambda whose configuration names none: starting one is an error. */
export const unconfiguredWorkflows: Workflows = {
  start: () => Promise.reject(new Error('AEGIS_PROMOTION_STATE_MACHINE_ARN and AEGIS_ROLLBACK_STATE_MACHINE_ARN are not set')),
};

const noPolicyEngine = (): Promise<PromotionGate> =>
  Promise.reject(new Error('this process was built without a policy engine (only the promotion routes decide policy)'));

/** The clock, logger and measurements every service of one container shares. */
interface Shared {
  clock: Clock;
  logger: Container['logger'];
  metrics: ServiceMetrics;
}

/** The storage adapters a container stands on, checked before anything serves. */
type Storage = Pick<Container, 'database' | 'store' | 'uploadSink' | 'downloadSource' | 'archiveStore' | 'keyProvider'>;

/**
 * Wires the services from the adapters {@link AdapterFactories} gives: the one place that
 * knows how services depend on each other. Only the composition roots call it.
 */
export async function buildContainer(config: Config, adapters: AdapterFactories, opts: BuildOptions): Promise<Container> {
  const { sinks, exposition } = adapters.metrics();
  const shared: Shared = {
    clock: opts.clock ?? systemClock,
    logger: opts.logger ?? new Logger({ serviceName: 'aegis' }),
    metrics: serviceMetrics(sinks),
  };
  // each commit that enqueued event deliveries wakes the dispatcher
  const outbox = new Outbox();
  const database = withCommitHook(await adapters.database(config), outbox.committed);
  try {
    const storage = await openStorage(config, adapters, opts, database);
    const { events, ...core } = await coreServices(config, opts, shared, storage, { adapters, outbox });
    const driftStore = await adapters.driftStore?.(config);
    const promotions = await promotionServices(config, adapters, opts, shared, { ...storage, ...core, driftStore });
    const drift = await driftServices(config, opts.mode, adapters, {
      ...storage,
      ...core,
      ...shared,
      ...promotions,
      objects: driftStore?.objects,
    });
    const scheduler = adapters.scheduler(config, { ...opts, logger: shared.logger });
    registerJobs(scheduler, config, opts.mode, shared.logger, { ...core, ...promotions, ...drift, ...events, clock: shared.clock });
    return {
      config,
      mode: opts.mode,
      ...storage,
      ...core,
      ...events,
      ...promotions,
      ...drift,
      scheduler,
      auth: opts.mode === 'lambda' ? new IamAuthenticator(config.iamRoleMap) : new BearerTokenAuthenticator(core.tokens),
      ...(exposition && { metricsExposition: exposition }),
      metrics: shared.metrics,
      logger: shared.logger,
      clock: shared.clock,
      close: async () => {
        await scheduler.stop();
        await drift.driftWorkflows.stopAll?.();
        await core.registerWorkflows.stopAll?.();
        await promotions.serving.close();
        await database.close();
      },
    };
  } catch (e) {
    await database.close();
    throw e;
  }
}

/** The stores and keys; production checks what its guarantees rest on before it serves (see startup-checks.ts). */
async function openStorage(config: Config, adapters: AdapterFactories, opts: BuildOptions, database: Database): Promise<Storage> {
  const { store, uploadSink, downloadSource } = await adapters.objectStore(config, opts.publicUrl ?? config.publicUrl);
  const keyProvider = await adapters.keyProvider(config);
  const archiveStore = await adapters.archiveStore(config);
  // A process that migrates checks everything but the schema, which it is about to bring up to date.
  if (config.nodeEnv === 'production') {
    await runStartupChecks(
      config,
      { database, store, archive: archiveStore, keyProvider },
      { migrating: Boolean(opts.bootstrap || opts.migrating) },
    );
  }
  return { database, store, ...(uploadSink && { uploadSink }), ...(downloadSource && { downloadSource }), archiveStore, keyProvider };
}

/** Keys, the audit log and trail, and the registry side: everything but promotions and rollouts. */
async function coreServices(
  config: Config,
  opts: BuildOptions,
  shared: Shared,
  s: Storage,
  o: { adapters: AdapterFactories; outbox: Outbox },
) {
  const { database, store } = s;
  const { clock, metrics, logger } = shared;
  const { outbox } = o;
  // The audit log signs with the active audit key of the ring its transaction's locked head
  // names; the key service audits its own changes through the same log. Events go to the outbox too.
  const signing = auditSigning(() => keys);
  const audit = new AuditLog(signing, clock, EVENT_CATALOGUE, outbox);
  const keys: KeyService = new KeyService(database, s.keyProvider, clock, audit);
  // wired before anything appends (the bootstrap's key events go to the outbox too)
  const events = eventServices(config, o.adapters, opts.mode, { clock, logger, metrics, database, audit, outbox });
  if (opts.bootstrap) await bootstrap(config, database, keys, events.events);
  const datasets = new DatasetService(database, clock, audit);
  const { registry, registerWorkflows } = await registryService(
    config,
    opts,
    { database, store, keys, datasets, audit, clock, metrics, logger },
    o.adapters,
  );
  const quarantineReader = new QuarantineReader(database);
  return {
    events,
    audit,
    keys,
    datasets,
    registry,
    registerWorkflows,
    quarantineReader,
    tokens: new TokenService(database, clock, audit, config.tokens),
    auditTrail: new AuditTrail(database, s.archiveStore, keys, clock, AUDIT_RETENTION_DAYS, metrics),
    verification: new VerificationService(registry, keys, store, quarantineReader),
  };
}

type CoreServices = Omit<Awaited<ReturnType<typeof coreServices>>, 'events'>;

/** The rollout (judged canaries, leases) and the promotions that drive it through the state machines. */
async function promotionServices(
  config: Config,
  adapters: AdapterFactories,
  opts: BuildOptions,
  { clock, metrics, logger }: Shared,
  c: Storage & CoreServices & { driftStore: DriftStore | undefined },
) {
  const { database, audit, keys } = c;
  const deps = { ...c, clock, logger, metrics, drift: c.driftStore, quarantine: c.quarantineReader };
  const { serving, servingTelemetry, warmer } = servingService(config, deps, adapters, () => rollout);
  const records = driftRecords(deps);
  const rollout: RolloutService = new RolloutService({
    database,
    audit,
    judge: opts.judge ?? new MetricsRolloutJudge(await adapters.metricsSource(config, serving.metrics)),
    clock,
    promotions: new PromotionLedgerService({ database, keys, audit, quarantine: c.quarantineReader }),
    metrics,
    ...(opts.warmer ? { warmer: opts.warmer } : warmer ? { warmer } : {}),
    onApplied: (tx, applied) => records.resolveApplied(tx, applied),
    options: {
      leaseSeconds: config.rolloutLeaseSeconds,
      ...(config.testKillAt ? { faultPoint: killAt(config.testKillAt) } : {}),
    },
  });
  const workflows = await adapters.workflows(config, opts, rollout);
  let policy: Promise<PromotionGate> | undefined;
  const gate = () => (policy ??= (adapters.policy ?? noPolicyEngine)(config, clock));
  const promotionGate: PromotionGate = { decide: async (request) => (await gate()).decide(request) };
  const promotions = new PromotionService({
    database,
    registry: c.registry,
    verification: c.verification,
    keys,
    audit,
    policy: promotionGate,
    workflows,
    rollout,
    clock,
    quarantine: c.quarantineReader,
    metrics,
    pendingTtlSeconds: config.pendingPromotionTtlSeconds,
  });
  const quarantines = new QuarantineService({
    ...c,
    policy: promotionGate,
    clock,
    reader: c.quarantineReader,
    promotions,
    rollout,
    workflows,
  });
  const lineage = lineageService(c, clock, promotions, rollout, serving, records);
  return { rollout, workflows, promotions, quarantines, serving, servingTelemetry, lineage, driftRecords: records };
}

import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { ServiceMetrics } from '../ports/metrics.js';
import type { AuditLog } from '../audit/log.js';
import type { RegistryService } from '../../modules/registry/service.js';
import type { QuarantineLookup, VerificationService } from '../../modules/registry/verification.js';
import type { RolloutService } from '../../modules/rollout/service.js';
import { ServingMetrics } from '../../modules/serving/metrics.js';
import { InputSegments } from '../../modules/serving/segments.js';
import type { ServingObserver } from '../../modules/serving/observers.js';
import { ServingService } from '../../modules/serving/service.js';
import { ServingTelemetry, type SegmentExpiry } from '../../modules/serving/telemetry.js';
import type { Container } from './container.js';
import type { ObjectStore, ObjectWriter } from '../ports/object-store.js';
import type { ArtifactCache } from '../ports/artifact-cache.js';
import type { ModelRuntime } from '../ports/model-runtime.js';
import type { ServingEventRecorder } from '../../modules/serving/event-sink.js';
import type { ShadowMode } from '../../modules/serving/shadow.js';
import type { ServingWarmer } from '../ports/serving-warmer.js';
import type { DriftObjects } from '../../modules/drift/segments.js';

export type { ModelRuntime, ServingEventRecorder };

/** The drift store (`AdapterFactories.driftStore`): where input segments go, and what the drift pipeline reads and writes. */
export interface DriftStore {
  segments: ObjectWriter;
  /** the store the retention job purges them from; absent: not this process (an S3 lifecycle rule) */
  purge?: ObjectStore;
  /** segments and stored objects read back, plans, shard counts and reports written (the drift runs); absent: none here */
  objects?: DriftObjects;
}

/** What a composition root gives serving (`AdapterFactories` in services.ts extends it). */
export interface ServingAdapters {
  /** The runtimes serving loads with (`runtimes.ts`); in Lambda, ONNX (native) only in the serving bundle. */
  modelRuntimes(): ModelRuntime[];
  /**
   * Where serving events go, and how far they are complete (the judge's window end); absent: batched inserts in the
   * process (complete up to now). Lambda: log lines serving-ingest inserts (up to its watermark minus the grace).
   */
  servingEvents?(config: Config, database: Database): ServingEventRecorder;
  /** serving's verified, unpacked artifacts between loads: Lambda's `/tmp` (`AEGIS_SERVING_CACHE_MB`); absent: none (local disk is the store) */
  artifactCache?(config: Config, logger: Container['logger']): ArtifactCache | undefined;
  /** Who deletes input segments past the retention horizon: the `serving-retention` job (default) or the drift bucket's lifecycle (Lambda). */
  segmentExpiry?: SegmentExpiry;
  /**
   * Where a shadow prediction runs: after the response is written (the local server); absent: beside the stable
   * prediction, waited for at most `AEGIS_SERVING_SHADOW_BUDGET_MS` (Lambda, where nothing runs after the response).
   */
  shadowMode?(): ShadowMode;
  /**
   * What warms a blue-green candidate for the rollout: serving in this process (local), or the serving function
   * invoked with the warm-up event (Lambda, when `AEGIS_SERVING_FUNCTION_NAME` is set); absent or undefined: none.
   */
  servingWarmer?(config: Config, serving: ServingService): ServingWarmer | undefined;
}

/**
 * Serving over the registry's verification and the rollout's routes, and its telemetry
 * (Prometheus series, input segments in the drift store when there is one, label feedback,
 * status, retention), and what warms a blue-green candidate. The rollout is built after serving (its judge reads serving's metrics),
 * so routes are read through `rollout()`.
 */
export function servingService(
  config: Config,
  d: {
    database: Database;
    store: ObjectStore;
    audit: AuditLog;
    clock: Clock;
    logger: Container['logger'];
    registry: RegistryService;
    verification: VerificationService;
    quarantine: QuarantineLookup;
    metrics: ServiceMetrics;
    drift: DriftStore | undefined;
  },
  adapters: ServingAdapters,
  rollout: () => RolloutService,
): { serving: ServingService; servingTelemetry: ServingTelemetry; warmer: ServingWarmer | undefined } {
  const events = adapters.servingEvents?.(config, d.database);
  const routes = (modelName: string, env: string) => rollout().route(modelName, env);
  // Lambda's event lines are EMF (Requests, Errors, LatencyMs per variant): three more lines per request would only add cost
  const observers: ServingObserver[] = [new ServingMetrics(d.metrics, { perRequest: !events?.carriesMetrics })];
  if (d.drift)
    observers.push(
      new InputSegments(
        d.drift.segments,
        {
          sampleRate: config.serving.sampleRate,
          intervalMs: config.serving.segmentSeconds * 1000,
          onError: (e, lost) => d.logger.error('input segment not written', { lost, error: (e as Error).message }),
        },
        () => d.clock.now(),
      ),
    );
  const serving = new ServingService({
    ...d,
    runtimes: adapters.modelRuntimes(),
    cache: adapters.artifactCache?.(config, d.logger),
    ...(events && { events }),
    routes,
    observers,
    options: {
      routeCacheSeconds: config.serving.routeCacheSeconds,
      timeoutMs: config.serving.timeoutMs,
      shadow: adapters.shadowMode?.() ?? { kind: 'parallel', budgetMs: config.serving.shadowBudgetMs },
    },
  });
  const servingTelemetry = new ServingTelemetry({
    database: d.database,
    clock: d.clock,
    metrics: serving.metrics,
    routes,
    driftStore: d.drift?.purge,
    ...(adapters.segmentExpiry && { segmentExpiry: adapters.segmentExpiry }),
    retentionDays: config.serving.retentionDays,
  });
  return { serving, servingTelemetry, warmer: adapters.servingWarmer?.(config, serving) };
}

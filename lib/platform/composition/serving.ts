import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { ServiceMetrics } from '../ports/metrics.js';
import type { ObjectStore } from '../ports/object-store.js';
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
import type { ModelRuntime } from '../ports/model-runtime.js';
import type { ServingEventRecorder } from '../../modules/serving/event-sink.js';

export type { ModelRuntime, ServingEventRecorder };

/**
 * Serving over the registry's verification and the rollout's routes, and its telemetry
 * (Prometheus series, input segments in the drift store when there is one, label feedback,
 * status, retention). The rollout is built after serving (its judge reads serving's metrics),
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
    driftStore: ObjectStore | undefined;
  },
  /**
   * the composition root's runtimes, its serving event recorder (absent: batched inserts through
   * the store), and who expires input segments (absent: the retention job)
   */
  adapters: { modelRuntimes(): ModelRuntime[]; servingEvents?(): ServingEventRecorder; segmentExpiry?: SegmentExpiry },
  rollout: () => RolloutService,
): { serving: ServingService; servingTelemetry: ServingTelemetry } {
  const events = adapters.servingEvents?.();
  const routes = (modelName: string, env: string) => rollout().route(modelName, env);
  const observers: ServingObserver[] = [new ServingMetrics(d.metrics)];
  if (d.driftStore)
    observers.push(
      new InputSegments(
        d.driftStore,
        {
          sampleRate: config.serving.sampleRate,
          onError: (e, lost) => d.logger.error('input segment not written', { lost, error: (e as Error).message }),
        },
        () => d.clock.now(),
      ),
    );
  const serving = new ServingService({
    ...d,
    runtimes: adapters.modelRuntimes(),
    ...(events && { events }),
    routes,
    observers,
    options: { routeCacheSeconds: config.serving.routeCacheSeconds, timeoutMs: config.serving.timeoutMs },
  });
  const servingTelemetry = new ServingTelemetry({
    database: d.database,
    clock: d.clock,
    metrics: serving.metrics,
    routes,
    driftStore: d.driftStore,
    ...(adapters.segmentExpiry && { segmentExpiry: adapters.segmentExpiry }),
    retentionDays: config.serving.retentionDays,
  });
  return { serving, servingTelemetry };
}

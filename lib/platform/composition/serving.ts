import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { AuditLog } from '../audit/log.js';
import type { RegistryService } from '../../modules/registry/service.js';
import type { QuarantineLookup, VerificationService } from '../../modules/registry/verification.js';
import type { RolloutService } from '../../modules/rollout/service.js';
import { ServingService } from '../../modules/serving/service.js';
import type { Container } from './container.js';
import type { ModelRuntime } from '../ports/model-runtime.js';
import type { ServingEventRecorder } from '../../modules/serving/event-sink.js';

export type { ModelRuntime, ServingEventRecorder };

/**
 * Serving over the registry's verification and the rollout's routes. The rollout is built
 * after serving (its judge reads serving's metrics), so routes are read through `rollout()`.
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
  },
  /** the composition root's runtimes, and its serving event recorder (absent: batched inserts through the store) */
  adapters: { modelRuntimes(): ModelRuntime[]; servingEvents?(): ServingEventRecorder },
  rollout: () => RolloutService,
): ServingService {
  const events = adapters.servingEvents?.();
  return new ServingService({
    ...d,
    runtimes: adapters.modelRuntimes(),
    ...(events && { events }),
    routes: (modelName, env) => rollout().route(modelName, env),
    options: { routeCacheSeconds: config.serving.routeCacheSeconds, timeoutMs: config.serving.timeoutMs },
  });
}

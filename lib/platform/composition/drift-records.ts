/**
 * The drift records (report index, retrain suggestions) as the rollout and lineage use them: the
 * rollout resolves a suggestion when it applies an artifact retrained from it, lineage shows the
 * suggestions. The drift store is `DriftStore.objects` (locally the data folder's `drift/`, in
 * Lambda DRIFT_S3_BUCKET read and written); a process without one refuses to record or read a
 * report (resolving and listing suggestions need only the database).
 */
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { ServiceMetrics } from '../ports/metrics.js';
import type { KeyService } from '../../modules/keys/service.js';
import type { RegistryService } from '../../modules/registry/service.js';
import { DriftRecords } from '../../modules/drift/records-service.js';
import type { DriftObjects } from '../../modules/drift/segments.js';
import type { DriftStore } from './serving.js';

const noStore = (): Promise<never> => Promise.reject(new Error('this process has no readable drift store (DRIFT_S3_BUCKET)'));

/** A drift store that refuses every call: reports are recorded and read where the drift pipeline runs. */
export const NO_DRIFT_OBJECTS: DriftObjects = {
  put: noStore,
  get: noStore,
  list: () => ({ [Symbol.asyncIterator]: () => ({ next: noStore }) }),
};

export function driftRecords(d: {
  database: Database;
  keys: KeyService;
  audit: AuditLog;
  clock: Clock;
  registry: RegistryService;
  metrics: ServiceMetrics;
  drift: DriftStore | undefined;
}): DriftRecords {
  const { database, keys, audit, clock, registry, metrics } = d;
  return new DriftRecords({ database, objects: d.drift?.objects ?? NO_DRIFT_OBJECTS, keys, audit, clock, registry, metrics });
}

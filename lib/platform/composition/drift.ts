/**
 * The drift pipeline's composition (issue 21): the drift store as the pipeline reads and writes
 * it, windows over the serving artifact's baseline and serving's labels, the report index and
 * suggestions (DriftRecords), the runs and their state machine, and the API over them.
 */
import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { ServiceMetrics } from '../ports/metrics.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { Workflows } from '../ports/workflows.js';
import type { AuditLog } from '../audit/log.js';
import type { Container } from './container.js';
import type { KeyService } from '../../modules/keys/service.js';
import type { RegistryService } from '../../modules/registry/service.js';
import type { RolloutService } from '../../modules/rollout/service.js';
import type { ServingService } from '../../modules/serving/service.js';
import { loadDriftConfig, type DriftConfig } from '../../modules/drift/config.js';
import { DriftRecords } from '../../modules/drift/records-service.js';
import { DriftRuns } from '../../modules/drift/runs.js';
import { DriftService } from '../../modules/drift/drift-service.js';
import { DriftWindows } from '../../modules/drift/service.js';
import type { DriftObjects } from '../../modules/drift/segments.js';
import type { DriftStepEvent } from '../../modules/drift/records.js';

/** The drift step every Task state of the drift machine runs (the drift-step function's handler on AWS). */
export type DriftStep = (input: Record<string, unknown>) => Promise<unknown>;

/** How a composition root runs the drift state machine (`AdapterFactories` in services.ts extends it). */
export interface DriftAdapters {
  /** the same ASL in-process (locally), Step Functions at `AEGIS_DRIFT_STATE_MACHINE_ARN` (Lambda) */
  driftWorkflows(config: Config, opts: { mode: Container['mode']; logger: Container['logger'] }, step: DriftStep): Promise<Workflows>;
}

/** The drift state machine of a Lambda whose configuration names none: starting a run is an error. */
export const unconfiguredDriftWorkflows: Workflows = {
  start: () => Promise.reject(new Error('AEGIS_DRIFT_STATE_MACHINE_ARN is not set: this function cannot start drift runs')),
};

/** The drift store of a process that has none (a Lambda without DRIFT_S3_BUCKET): every use is an error naming it. */
const noDriftObjects: DriftObjects = {
  list: () => ({
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('DRIFT_S3_BUCKET is not set: no drift store to read')) }),
  }),
  get: () => Promise.reject(new Error('DRIFT_S3_BUCKET is not set: no drift store to read')),
  put: () => Promise.reject(new Error('DRIFT_S3_BUCKET is not set: no drift store to write')),
};

export interface DriftParts {
  drift: DriftService;
  driftRuns: DriftRuns;
  driftWorkflows: Workflows;
}

export interface DriftDeps {
  database: Database;
  store: ObjectStore;
  objects: DriftObjects | undefined;
  registry: RegistryService;
  keys: KeyService;
  audit: AuditLog;
  clock: Clock;
  metrics: ServiceMetrics;
  logger: Container['logger'];
  serving: ServingService;
  rollout: RolloutService;
}

/**
 * The drift configuration, read once: at build in a local process (a bad file stops the start,
 * CONFIG_INVALID naming file and field), on first use in Lambda (functions that never run drift
 * need not ship the file).
 */
function driftConfig(config: Config, mode: Container['mode']): () => DriftConfig {
  let loaded: DriftConfig | undefined;
  const load = () => (loaded ??= loadDriftConfig(config.drift.policyFile));
  if (mode === 'local') load();
  return load;
}

/** Builds the drift pipeline of a container. */
export async function driftServices(config: Config, mode: Container['mode'], adapters: DriftAdapters, d: DriftDeps): Promise<DriftParts> {
  const objects = d.objects ?? noDriftObjects;
  const windows = new DriftWindows({ segments: objects, registry: d.registry, store: d.store, labels: d.serving });
  const records = new DriftRecords({
    database: d.database,
    objects,
    keys: d.keys,
    audit: d.audit,
    clock: d.clock,
    registry: d.registry,
    metrics: d.metrics,
  });
  const driftWorkflows = await adapters.driftWorkflows(config, { mode, logger: d.logger }, (input) =>
    driftRuns.step(input as unknown as DriftStepEvent),
  );
  const driftRuns: DriftRuns = new DriftRuns({
    database: d.database,
    objects,
    windows,
    records,
    routes: d.rollout,
    workflows: driftWorkflows,
    config: driftConfig(config, mode),
    clock: d.clock,
    settleSeconds: config.drift.settleSeconds,
    metrics: d.metrics,
    logger: d.logger,
  });
  return { drift: new DriftService(driftRuns, records), driftRuns, driftWorkflows };
}

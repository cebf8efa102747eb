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
import type { Container } from './container.js';
import type { RegistryService } from '../../modules/registry/service.js';
import type { RolloutService } from '../../modules/rollout/service.js';
import type { ServingService } from '../../modules/serving/service.js';
import { loadDriftConfig, type DriftConfig } from '../../modules/drift/config.js';
import type { DriftRecords } from '../../modules/drift/records-service.js';
import { NO_DRIFT_OBJECTS } from './drift-records.js';
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
  /** the report index and suggestions (built with the rollout, which resolves suggestions when it applies a retrained artifact) */
  driftRecords: DriftRecords;
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
  const objects = d.objects ?? NO_DRIFT_OBJECTS;
  const windows = new DriftWindows({ segments: objects, registry: d.registry, store: d.store, labels: d.serving });
  const records = d.driftRecords;
  const driftWorkflows = await adapters.driftWorkflows(config, { mode, logger: d.logger }, (input) =>
    driftRuns.step(input as unknown as DriftStepEvent),
  );
  const driftRuns: DriftRuns = new DriftRuns({
    database: d.database,
    objects,
    windows,
    records,
    routes: d.rollout,
    serving: d.serving,
    workflows: driftWorkflows,
    config: driftConfig(config, mode),
    clock: d.clock,
    settleSeconds: config.drift.settleSeconds,
    metrics: d.metrics,
    logger: d.logger,
  });
  return { drift: new DriftService(driftRuns, records), driftRuns, driftWorkflows };
}

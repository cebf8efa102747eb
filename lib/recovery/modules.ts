/**
 * The modules a rebuild restores, in dependency order (a row's foreign keys name rows of the
 * modules before it): the audit event types each one's restore reads, and how it writes its
 * rows. The plan's rows are written in this order.
 */
import { RESTORES as DATASETS, writeDatasets } from '../modules/datasets/restore.js';
import { RESTORES as DRIFT, writeDrift } from '../modules/drift/restore.js';
import { RESTORES as EVENTS, writeEvents } from '../modules/events/restore.js';
import { RESTORES as KEYS, writeKeys } from '../modules/keys/restore.js';
import { RESTORES as PROMOTION, writePromotions } from '../modules/promotion/restore.js';
import { RESTORES as QUARANTINE, writeQuarantine } from '../modules/quarantine/restore.js';
import { RESTORES as REGISTRY, writeRegistry } from '../modules/registry/restore.js';
import { RESTORES as ROLLOUT, writeRollout } from '../modules/rollout/restore.js';
import { RESTORES as SERVING, writeServing } from '../modules/serving/restore.js';

export const MODULE_RESTORES = [
  { module: 'keys', restores: KEYS, write: writeKeys },
  { module: 'datasets', restores: DATASETS, write: writeDatasets },
  { module: 'registry', restores: REGISTRY, write: writeRegistry },
  { module: 'promotion', restores: PROMOTION, write: writePromotions },
  { module: 'rollout', restores: ROLLOUT, write: writeRollout },
  { module: 'quarantine', restores: QUARANTINE, write: writeQuarantine },
  { module: 'serving', restores: SERVING, write: writeServing },
  { module: 'drift', restores: DRIFT, write: writeDrift },
  { module: 'events', restores: EVENTS, write: writeEvents },
] as const;

/** Every event type some module's restore reads. */
export const RESTORED_TYPES: ReadonlySet<string> = new Set(MODULE_RESTORES.flatMap((m) => m.restores));

/**
 * Every audit event type Aegis appends, with its payload schema and how recovery treats it:
 * the modules' catalogues joined. The audit log refuses a type that is not here.
 */
import { joinCatalogues } from '../platform/audit/catalogue.js';
import { DATASET_EVENTS } from './datasets/events.js';
import { DRIFT_EVENTS } from './drift/events.js';
import { EVENTS_EVENTS } from './events/events.js';
import { KEY_EVENTS } from './keys/events.js';
import { PROMOTION_EVENTS } from './promotion/events.js';
import { QUARANTINE_EVENTS } from './quarantine/events.js';
import { REGISTRY_EVENTS } from './registry/events.js';
import { ROLLOUT_EVENTS } from './rollout/events.js';
import { SERVING_EVENTS } from './serving/events.js';
import { TOKEN_EVENTS } from './tokens/events.js';

export const EVENT_CATALOGUE = joinCatalogues(
  KEY_EVENTS,
  TOKEN_EVENTS,
  DATASET_EVENTS,
  REGISTRY_EVENTS,
  PROMOTION_EVENTS,
  ROLLOUT_EVENTS,
  QUARANTINE_EVENTS,
  SERVING_EVENTS,
  DRIFT_EVENTS,
  EVENTS_EVENTS,
);

import type { AuditLog } from '../../platform/audit/log.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import type { DatasetService } from '../datasets/service.js';
import type { KeyService } from '../keys/service.js';

/** What the registry takes from the platform: its ports and the services it calls. */
export interface RegistryDeps {
  readonly database: Database;
  readonly store: ObjectStore;
  readonly keys: KeyService;
  readonly datasets: DatasetService;
  readonly audit: AuditLog;
  readonly clock: Clock;
}

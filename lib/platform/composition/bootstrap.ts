import type { Config } from '../config.js';
import type { Database } from '../ports/database.js';
import { migrateToLatest } from '../sql/migrations.js';
import type { KeyService } from '../../modules/keys/service.js';
import type { EventService } from '../../modules/events/service.js';

/** Who the bootstrap's own audit events name. */
const DEPLOY_ACTOR = 'aegis-deploy';

/**
 * Schema migrations, then an active manifest and audit key (created locally, adopted from KMS),
 * then the stack's event bus as a subscription (`AEGIS_EVENT_BUS_NAME`, AWS), so it exists
 * before any function serves and every later event is delivered to it.
 */
export async function bootstrap(config: Config, database: Database, keys: KeyService, events: EventService): Promise<string[]> {
  const applied = await migrateToLatest(database.db);
  const { manifestKmsKeyId, auditKmsKeyId, manifestSignerKid } = config.signing;
  // The audit key first: every later key creation is an audit event it signs.
  await keys.ensureActive('audit', 'audit-signer-v1', auditKmsKeyId ? { kmsKeyId: auditKmsKeyId } : {});
  await keys.ensureActive('manifest', manifestSignerKid, manifestKmsKeyId ? { kmsKeyId: manifestKmsKeyId } : {});
  if (config.events.busName) await events.ensureBus(DEPLOY_ACTOR, config.events.busName);
  return applied;
}

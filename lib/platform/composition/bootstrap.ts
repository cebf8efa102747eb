import type { Config } from '../config.js';
import type { Database } from '../ports/database.js';
import { migrateToLatest } from '../sql/migrations.js';
import type { KeyService } from '../../modules/keys/service.js';

/** Schema migrations, then an active manifest and audit key (created locally, adopted from KMS). */
export async function bootstrap(config: Config, database: Database, keys: KeyService): Promise<string[]> {
  const applied = await migrateToLatest(database.db);
  const { manifestKmsKeyId, auditKmsKeyId, manifestSignerKid } = config.signing;
  // The audit key first: every later key creation is an audit event it signs.
  await keys.ensureActive('audit', 'audit-signer-v1', auditKmsKeyId ? { kmsKeyId: auditKmsKeyId } : {});
  await keys.ensureActive('manifest', manifestSignerKid, manifestKmsKeyId ? { kmsKeyId: manifestKmsKeyId } : {});
  return applied;
}

/**
 * The admin tools that run next to the storage (rebuild-index, parity, the DR drill): the
 * local composition root's adapters (any the configuration names), opened without bootstrap.
 */
import { buildLocalContainer, openDatabase } from './local.js';
import type { Config } from '../config.js';
import type { Container } from './container.js';
import { migrateToLatest } from '../sql/migrations.js';
import type { RecoveryDeps } from '../../recovery/types.js';

// Admin tools print their own progress; the service logger would interleave JSON lines.
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

export { openDatabase };

export interface RecoveryTarget {
  container: Container;
  deps: RecoveryDeps;
  close(): Promise<void>;
}

/**
 * The configured registry, migrated but never bootstrapped: bootstrap would create keys
 * and `key.created` events, and a rebuild must write the archived ones into an empty chain.
 */
export async function openRecoveryTarget(config: Config, opts: { logger?: Container['logger'] } = {}): Promise<RecoveryTarget> {
  const container = await buildLocalContainer(config, { mode: 'local', bootstrap: false, logger: opts.logger ?? quiet });
  try {
    await migrateToLatest(container.database.db);
    const { database, store, keyProvider, auditTrail, archiveStore } = container;
    return { container, deps: { database, store, keyProvider, auditTrail, archiveStore }, close: () => container.close() };
  } catch (e) {
    await container.close();
    throw e;
  }
}

/** The configured registry without migrating or bootstrapping anything (read-only use). */
export async function openRegistry(config: Config): Promise<Container> {
  return buildLocalContainer(config, { mode: 'local', bootstrap: false, logger: quiet });
}

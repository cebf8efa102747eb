/**
 * The composition root of the admin tools that run next to the storage (rebuild-index,
 * parity, the DR drill). Like composition.ts it is the only place here that picks adapters,
 * and imports them lazily so a run against AWS never loads PGlite and a local run never
 * needs AWS credentials.
 */
import { buildContainer } from './composition.js';
import type { Config, DatabaseConfig } from './config.js';
import type { Container } from './container.js';
import { migrateToLatest } from './db/migrations.js';
import type { Database, ObjectStore } from './ports.js';
import type { RecoveryDeps } from './services/recovery-types.js';

/** Opens a registry database by its configuration (no migrations, no bootstrap). */
export async function openDatabase(cfg: DatabaseConfig): Promise<Database> {
  switch (cfg.kind) {
    case 'pglite': {
      const { PgliteDatabase } = await import('./adapters/local/pglite-database.js');
      return PgliteDatabase.open(cfg.dataDir);
    }
    case 'pg': {
      const { PgDatabase } = await import('./adapters/local/pg-database.js');
      return new PgDatabase(cfg.url);
    }
    case 'data-api': {
      const { DataApiDatabase } = await import('./adapters/aws/data-api-database.js');
      return new DataApiDatabase(cfg);
    }
  }
}

/** The audit archive store; the same choice composition.ts makes, which keeps it private. */
export async function openArchiveStore(config: Config): Promise<ObjectStore> {
  if (config.auditArchive.kind === 's3') {
    const { S3ObjectStore } = await import('./adapters/aws/s3-object-store.js');
    return new S3ObjectStore({ bucket: config.auditArchive.bucket });
  }
  const { FsObjectStore } = await import('./adapters/local/fs-object-store.js');
  return new FsObjectStore({ root: config.auditArchive.root });
}

// Admin tools print their own progress; the service logger would interleave JSON lines.
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

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
  const container = await buildContainer(config, { mode: 'local', bootstrap: false, logger: opts.logger ?? quiet });
  try {
    await migrateToLatest(container.database.db);
    const archiveStore = await openArchiveStore(config);
    const { database, store, keyProvider, auditTrail } = container;
    return { container, deps: { database, store, keyProvider, auditTrail, archiveStore }, close: () => container.close() };
  } catch (e) {
    await container.close();
    throw e;
  }
}

/** The configured registry without migrating or bootstrapping anything (read-only use). */
export async function openRegistry(config: Config): Promise<Container> {
  return buildContainer(config, { mode: 'local', bootstrap: false, logger: quiet });
}

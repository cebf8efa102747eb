import { RDSData } from '@aws-sdk/client-rds-data';
import {
  CompiledQuery,
  Kysely,
  PostgresAdapter,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { DataApiDialect } from 'kysely-data-api';
import type { DB } from '../../sql/schema.js';
import { STATEMENT_COUNTER } from '../../sql/statements.js';
import type { Database } from '../../ports/database.js';

export interface DataApiOptions {
  /** Aurora cluster ARN */
  resourceArn: string;
  /** Secrets Manager ARN of the database credentials */
  secretArn: string;
  database: string;
  client?: RDSData;
}

/** Aurora PostgreSQL Serverless v2 through the RDS Data API (no VPC, no connection pool). */
export class DataApiDatabase implements Database {
  readonly kind = 'data-api' as const;
  readonly db: Kysely<DB>;

  constructor(opts: DataApiOptions) {
    const base = new DataApiDialect({
      mode: 'postgres',
      driver: { client: opts.client ?? new RDSData({}), database: opts.database, secretArn: opts.secretArn, resourceArn: opts.resourceArn },
    });
    const dialect: Dialect = {
      createAdapter: () => new DataApiPostgresAdapter(),
      createDriver: () => new DataApiTransactionDriver(base.createDriver()),
      createQueryCompiler: () => base.createQueryCompiler(),
      createIntrospector: (db) => base.createIntrospector(db),
    };
    this.db = new Kysely<DB>({ dialect, plugins: [STATEMENT_COUNTER] });
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/**
 * The Data API ends a transaction itself when one of its statements fails ("Transaction has
 * been aborted due to an error from a previous call"), after three idle minutes, and on commit
 * or rollback; the id is then unknown (TransactionNotFoundException; BadRequestException
 * "Transaction … is not found" on Serverless v1).
 */
function transactionGone(e: unknown): boolean {
  const err = e as { name?: unknown; message?: unknown } | undefined;
  if (err?.name === 'TransactionNotFoundException') return true;
  return err?.name === 'BadRequestException' && typeof err.message === 'string' && /^Transaction \S+ is not found/.test(err.message);
}

/** A connection whose transaction, once ended, never leaks into the statements that follow it. */
class DataApiConnection implements DatabaseConnection {
  /** take the migration lock as the transaction's first statement */
  migrationLock = false;

  constructor(public inner: DatabaseConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // kysely-data-api also sets the pre-0.23 `numUpdatedOrDeletedRows`, which makes Kysely log
    // an "outdated driver" warning; `numAffectedRows` carries the same count
    const { numUpdatedOrDeletedRows: _old, ...result } = (await this.inner.executeQuery<R>(query)) as QueryResult<R> & {
      numUpdatedOrDeletedRows?: bigint;
    };
    return result;
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

/** Shared with Kysely's PostgreSQL migration lock, so a `pg` migrator and a Data API one exclude each other. */
const MIGRATION_LOCK_ID = '3853314791062309107';

/**
 * kysely-data-api's transaction handling, corrected for what the Data API does:
 * - its connection keeps the transaction id after commit or rollback, so statements run later
 *   on the same Kysely connection (the migrator's lock release, `db.connection()` callers) are
 *   sent with a finished transaction's id and fail; here each transaction's end gives the
 *   connection a fresh one;
 * - Kysely rolls back after a failed statement, but the Data API has already ended that
 *   transaction, and the rollback's TransactionNotFoundException replaced the statement's own
 *   error (a unique violation stopped being recognisable); here that rollback is a no-op.
 */
class DataApiTransactionDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new DataApiConnection(await this.inner.acquireConnection());
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = connection as DataApiConnection;
    await this.inner.beginTransaction(c.inner, settings);
    if (c.migrationLock) await c.inner.executeQuery(CompiledQuery.raw(`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as DataApiConnection;
    try {
      await this.inner.commitTransaction(c.inner);
    } finally {
      await this.#detach(c);
    }
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const c = connection as DataApiConnection;
    try {
      await this.inner.rollbackTransaction(c.inner);
    } catch (e) {
      if (!transactionGone(e)) throw e;
    } finally {
      await this.#detach(c);
    }
  }

  async #detach(c: DataApiConnection): Promise<void> {
    const ended = c.inner;
    c.inner = await this.inner.acquireConnection();
    c.migrationLock = false;
    await this.inner.releaseConnection(ended);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await this.inner.releaseConnection((connection as DataApiConnection).inner);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/**
 * Kysely's PostgreSQL migration lock is a session advisory lock taken and released in two
 * separate statements. The Data API gives statements outside a transaction no session affinity,
 * so the release runs on another session and the lock stays held by a pooled connection: the
 * next migration waits on it until the call times out. Here the lock is transaction-scoped,
 * taken first thing in the migration's transaction and released by its commit or rollback.
 */
class DataApiPostgresAdapter extends PostgresAdapter {
  override async acquireMigrationLock(db: Kysely<unknown>): Promise<void> {
    await db.getExecutor().provideConnection(async (connection) => {
      (connection as DataApiConnection).migrationLock = true;
    });
  }

  override async releaseMigrationLock(): Promise<void> {
    // released with the migration's transaction
  }
}

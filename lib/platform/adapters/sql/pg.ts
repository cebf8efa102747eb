import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DB } from '../../sql/schema.js';
import { STATEMENT_COUNTER } from '../../sql/statements.js';
import type { Database } from '../../ports/database.js';
import { withNamedStatements } from './named-statements.js';

/** A PostgreSQL server through `pg` (`MODEL_REGISTRY_DATABASE_URL=postgres://…`). */
export class PgDatabase implements Database {
  readonly kind = 'pg' as const;
  readonly db: Kysely<DB>;

  constructor(connectionString: string, opts: { max?: number } = {}) {
    const pool = new pg.Pool({ connectionString, max: opts.max ?? 10 });
    // An idle client whose connection the server ends (restart, failover, DROP … FORCE)
    // emits 'error' on the pool; unhandled it would crash the process. The pool discards
    // that client and the next query opens a fresh connection.
    pool.on('error', () => undefined);
    this.db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }), plugins: [STATEMENT_COUNTER] });
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

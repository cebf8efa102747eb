import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DB } from '../../sql/schema.js';
import { STATEMENT_COUNTER } from '../../sql/statements.js';
import type { Database } from '../../ports/database.js';
import { withNamedStatements } from './named-statements.js';
import { prepareDataFolder, type Template } from './pglite-folder.js';
import { PgliteThread } from './pglite-thread.js';

/**
 * Embedded PostgreSQL (PGlite) through the same `pg` dialect as a server. `dataDir`
 * persists the database; without it the database lives in memory (tests).
 *
 * PGlite runs in a worker thread ({@link PgliteThread}): `pg` speaks the wire protocol to it
 * as to a server, and the SQL runs beside the main thread's HTTP, JSON and file work. A new
 * data folder is initialised in a short-lived process first ({@link prepareDataFolder}).
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly db: Kysely<DB>;
  readonly #thread: PgliteThread;

  private constructor(thread: PgliteThread) {
    this.#thread = thread;
    const pool = new pg.Pool({
      // PGlite serves one connection; a pool of one keeps transactions on it, and keeps it open
      max: 1,
      idleTimeoutMillis: 0,
      stream: () => thread.connect(),
      // PGlite's own role and database; named, so that PGUSER / PGSSLMODE in the environment do not apply
      user: 'postgres',
      database: 'postgres',
      ssl: false,
    });
    this.db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: withNamedStatements(pool) }), plugins: [STATEMENT_COUNTER] });
  }

  /** `template`: a data folder a new `dataDir` starts as a copy of ({@link prepareDataFolder}). */
  static async open(dataDir?: string, opts: { template?: Template | undefined } = {}): Promise<PgliteDatabase> {
    if (dataDir) await prepareDataFolder(dataDir, opts.template ? { template: opts.template } : {});
    return new PgliteDatabase(await PgliteThread.start(dataDir));
  }

  async close(): Promise<void> {
    try {
      await this.db.destroy();
    } finally {
      await this.#thread.close();
    }
  }
}

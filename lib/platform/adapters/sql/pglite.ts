import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DB } from '../../sql/schema.js';
import { STATEMENT_COUNTER } from '../../sql/statements.js';
import type { Database } from '../../ports/database.js';

/**
 * Embedded PostgreSQL (PGlite) through the same `pg` dialect as a server. `dataDir`
 * persists the database; without it the database lives in memory (tests).
 */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  readonly db: Kysely<DB>;
  readonly #pglite: PGlite;

  private constructor(pglite: PGlite) {
    this.#pglite = pglite;
    // PGlite serves one connection; a pool of one keeps transactions on it.
    const pool = new pg.Pool({ ...(createPgConfig(pglite) as pg.PoolConfig), max: 1 });
    this.db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins: [STATEMENT_COUNTER] });
  }

  static async open(dataDir?: string): Promise<PgliteDatabase> {
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const pglite = dataDir ? new PGlite(dataDir) : new PGlite();
    await pglite.waitReady;
    return new PgliteDatabase(pglite);
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.#pglite.close();
  }
}

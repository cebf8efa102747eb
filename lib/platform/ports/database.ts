/** The registry database port. Adapters: `adapters/sql/{pglite,pg,data-api}.ts`; contract suite: `test/contracts/database.contract.ts`. */
import type { Kysely, Transaction } from 'kysely';
import type { DB } from '../sql/schema.js';

/**
 * The registry database: one Kysely SQL layer over PGlite, a PostgreSQL server (`pg`) or
 * Aurora (RDS Data API).
 *
 * @example
 * await database.db.transaction().execute(async (tx) => { await tx.insertInto('models')… });
 */
export interface Database {
  readonly db: Kysely<DB>;
  readonly kind: 'pglite' | 'pg' | 'data-api';
  close(): Promise<void>;
}

/** Where a query runs: the database itself or an open transaction on it. */
export type Executor = Kysely<DB> | Transaction<DB>;

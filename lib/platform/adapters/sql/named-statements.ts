import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';

/** Statements worth preparing: data statements. DDL (migrations) is never named: it runs once. */
const DATA_STATEMENT = /^\s*(select|insert|update|delete|with)\b/i;
/**
 * An upsert naming a partial unique index by its predicate with a parameter (`on conflict (…)
 * where "trigger" = $4`): PostgreSQL infers the index from the parameter's value, which a generic
 * plan of a named statement does not have ("there is no unique or exclusion constraint matching
 * the ON CONFLICT specification" once the plan cache tries one). Such a text is never named.
 */
const PARTIAL_ARBITER = /\bon conflict\s*\([^)]*\)\s*where\b[^;]*\$\d/i;

/**
 * Names for the statements a process repeats, so that each connection parses and plans a
 * statement once and afterwards only binds and executes it (`pg` prepares a named statement on
 * a connection's first use of the name). On PGlite, where planning runs in WebAssembly, a
 * registration's three statements took 3.6 ms of the database thread instead of 8.1 (measured
 * there, 60 registrations in a row).
 *
 * A text is named from its second use: a one-off (a dynamic `IN` list, an ad-hoc query) costs
 * nothing. At most `max` texts are named, per process, so a connection holds at most `max`
 * prepared statements; past that, texts are sent unnamed as before.
 */
export class StatementNames {
  readonly #names = new Map<string, string>();
  readonly #seenOnce = new Set<string>();
  readonly #max: number;

  constructor(max = 1000) {
    this.#max = max;
  }

  /** How many texts are named. */
  get size(): number {
    return this.#names.size;
  }

  /** The name `text` is sent under, or undefined: sent unnamed (first use, DDL, past the cap). */
  nameFor(text: string): string | undefined {
    const name = this.#names.get(text);
    if (name !== undefined || this.#names.size >= this.#max || !DATA_STATEMENT.test(text) || PARTIAL_ARBITER.test(text)) return name;
    if (!this.#seenOnce.delete(text)) {
      // one-offs are forgotten in bulk: the set stays bounded whatever the traffic
      if (this.#seenOnce.size >= 10 * this.#max) this.#seenOnce.clear();
      this.#seenOnce.add(text);
      return undefined;
    }
    const named = `aegis_${this.#names.size + 1}`;
    this.#names.set(text, named);
    return named;
  }
}

/** A pool client whose repeated statements are sent named. One per `pg` client, so Kysely sees a stable connection. */
function namedClient(client: pg.PoolClient, names: StatementNames): PostgresPoolClient {
  function query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  function query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never);
    const name = names.nameFor(sqlOrCursor);
    const values = [...(parameters ?? [])];
    const result = name === undefined ? client.query(sqlOrCursor, values) : client.query({ name, text: sqlOrCursor, values });
    return result as unknown as Promise<PostgresQueryResult<R>>;
  }
  return { query, release: () => client.release() };
}

/**
 * The pool Kysely's `PostgresDialect` is given: `pool`'s connections, their repeated statements
 * sent named ({@link StatementNames}).
 *
 * @example
 * const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: withNamedStatements(new pg.Pool({ connectionString })) }) });
 */
export function withNamedStatements(pool: pg.Pool, names = new StatementNames()): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let named = wrapped.get(client);
      if (!named) wrapped.set(client, (named = namedClient(client, names)));
      return named;
    },
    end: () => pool.end(),
  };
}

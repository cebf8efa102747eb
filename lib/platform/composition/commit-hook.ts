import type { Kysely, Transaction, TransactionBuilder } from 'kysely';
import type { Database } from '../ports/database.js';
import type { DB } from '../sql/schema.js';
import { bound } from '../tracing/traced-port.js';

/**
 * The database, calling `committed(tx)` after each transaction of `db.transaction()` commits
 * (not after a rollback): what a transaction enqueued (the events outbox) is handed on only once
 * it is durable. The hook's own failure is its to handle: the commit stands.
 */
export function withCommitHook(database: Database, committed: (tx: Transaction<DB>) => Promise<void>): Database {
  const wrap = (builder: TransactionBuilder<DB>): TransactionBuilder<DB> =>
    new Proxy(builder, {
      get(target, prop) {
        if (prop === 'setIsolationLevel' || prop === 'setAccessMode')
          return (...args: unknown[]) => wrap((target[prop] as (...a: unknown[]) => TransactionBuilder<DB>).apply(target, args));
        if (prop !== 'execute') return bound(target, prop);
        return async <T>(fn: (tx: Transaction<DB>) => Promise<T>): Promise<T> => {
          let seen: Transaction<DB> | undefined;
          const result = await target.execute((tx) => {
            seen = tx;
            return fn(tx);
          });
          if (seen) await committed(seen);
          return result;
        };
      },
    });
  const db = new Proxy(database.db, {
    get: (target, prop) => (prop === 'transaction' ? () => wrap(target.transaction()) : bound(target, prop)),
  }) as Kysely<DB>;
  return new Proxy(database, { get: (target, prop) => (prop === 'db' ? db : bound(target, prop)) });
}

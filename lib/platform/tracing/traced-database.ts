import type { Kysely } from 'kysely';
import type { Database } from '../ports/database.js';
import type { DB } from '../sql/schema.js';
import { ATTR } from './spans.js';
import { bound, tracePort } from './traced-port.js';

/**
 * The database with a span per transaction (`db.transaction`), the unit a use case commits:
 * a span per statement would bury a registration's few port calls under dozens of reads.
 * Statements outside a transaction are not spanned.
 */
export function traceDatabase(database: Database): Database {
  const system = { [ATTR.port]: 'database', 'db.system.name': database.kind === 'pglite' ? 'pglite' : 'postgresql' };
  const db = new Proxy(database.db, {
    get(target, prop) {
      if (prop !== 'transaction') return bound(target, prop);
      const fn = bound(target, prop) as () => object;
      return () =>
        tracePort(fn() as object, { name: 'database', methods: ['execute'], attributes: () => system, spanName: () => 'db.transaction' });
    },
  }) as Kysely<DB>;
  return new Proxy(database, { get: (target, prop) => (prop === 'db' ? db : bound(target, prop)) });
}

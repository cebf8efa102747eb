/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import type { Kysely } from 'kysely';

// The key ring's version (issue 25). `audit_head.key_ring_seq` is the seq of the last event that
// changed the key ring (key.created / enrolled / rotated / revoked): the append sets it with the
// head it moves, under the head's row lock. A process keeps the ring it read with the version it
// read it at and reads it again only when the locked head names another: a change committed by
// any process is seen by the next append everywhere, and an unchanged ring costs no statement.
// 0 until the first change after this migration (a process caches nothing across it).
export const keyRingSeq0017 = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('audit_head')
      .addColumn('key_ring_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run on the untyped schema of their time */
import { sql, type Kysely } from 'kysely';

// Rollout strategies (issue 19): a route's shadow (the candidate mirrored a share of requests,
// its answers recorded, never returned), the phase and shadow agreement of a judged window, and
// serving events keyed by request id and whether they are a shadow copy, so a request's stable
// answer and its shadow answer are two rows joined on the request id. The strategy itself is
// part of the promotion's rollout config (the `canary` JSON column, signed and chained).
export const rolloutStrategies0014 = {
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('routes')
      .addColumn('shadow_artifact_id', 'text')
      .addColumn('shadow_percent', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('canary_verdicts')
      .addColumn('phase', 'text')
      .addColumn('agreement_compared', 'integer')
      .addColumn('agreement_agreed', 'integer')
      .execute();
    await sql`ALTER TABLE serving_events ADD COLUMN is_shadow boolean GENERATED ALWAYS AS (variant = 'shadow') STORED`.execute(db);
    await sql`ALTER TABLE serving_events DROP CONSTRAINT serving_events_pkey`.execute(db);
    await sql`ALTER TABLE serving_events ADD PRIMARY KEY (request_id, is_shadow)`.execute(db);
  },
};

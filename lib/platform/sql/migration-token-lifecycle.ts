import { sql, type Kysely, type Migration } from 'kysely';

/**
 * `0008_token_lifecycle`: local bearer tokens get a public id (to list, revoke and rotate them
 * without their secret), an expiry, a last-used time, and who created and revoked them.
 *
 * Tokens created before it: their id is `tok_` and the first 16 hex digits of the sha256
 * already stored (the same form as a new token's random id, and not the hash in full); they
 * expire 90 days after this migration runs (the default lifetime of a new token), so an
 * upgrade locks nobody out and no token lives forever; who created them was never recorded
 * (`created_by` null).
 */
export const tokenLifecycle: Migration = {
  async up(db: Kysely<unknown>) {
    for (const [name, type] of [
      ['token_id', 'text'],
      ['expires_at', 'timestamptz'],
      ['last_used_at', 'timestamptz'],
      ['revoked_by', 'text'],
      ['created_by', 'text'],
    ] as const) {
      await db.schema.alterTable('api_tokens').addColumn(name, type).execute();
    }
    await sql`update api_tokens set token_id = 'tok_' || substr(token_sha256, 1, 16), expires_at = now() + interval '90 days'`.execute(db);
    await db.schema
      .alterTable('api_tokens')
      .alterColumn('token_id', (c) => c.setNotNull())
      .execute();
    await db.schema
      .alterTable('api_tokens')
      .alterColumn('expires_at', (c) => c.setNotNull())
      .execute();
    await db.schema.createIndex('api_tokens_token_id_uq').on('api_tokens').column('token_id').unique().execute();
    // the list's order: newest first, the id breaking ties
    await db.schema.createIndex('api_tokens_by_created').on('api_tokens').columns(['created_at', 'token_id']).execute();
  },
};

import type { Kysely, Migration } from 'kysely';

/**
 * `0009_model_scopes` (scoped grants): a model's team label (set at first registration,
 * changed by an admin); a token's scope as canonical JSON of its prefixes and teams (null: global).
 */
export const modelScopes: Migration = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run on the schema of their time, not today's
  async up(db: Kysely<any>) {
    await db.schema.alterTable('models').addColumn('team', 'text').execute();
    await db.schema.alterTable('api_tokens').addColumn('scope', 'text').execute();
  },
};

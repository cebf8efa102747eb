import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.js';

/** The database user every function but the migrate step connects as (from its Secrets Manager secret). */
export interface AppUser {
  username: string;
  password: string;
}

/**
 * Tables the application only ever appends to and reads: `lib/platform/audit/log.ts` inserts
 * audit events and nothing in a Lambda updates or deletes one (the archive reads them; only
 * the recovery tools, run by an operator as the master user, write the audit tables wholesale).
 * At the database level the chain is then append-only for the application.
 */
export const APPEND_ONLY_TABLES = ['audit_events'] as const;
/** The chain's head: one row, locked (`for update`) and moved forward by every append; never inserted or deleted. */
export const SELECT_UPDATE_TABLES = ['audit_head'] as const;
/** The migrations' bookkeeping: the startup checks read it; only the migrate step writes it. */
export const READ_ONLY_TABLES = ['aegis_migrations', 'aegis_migrations_lock'] as const;

const USERNAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Makes `user` a login role with exactly what the application needs, and nothing left over from
 * earlier grants: CONNECT and schema USAGE; SELECT, INSERT, UPDATE, DELETE on every table of the
 * schema except {@link APPEND_ONLY_TABLES} (SELECT, INSERT), {@link SELECT_UPDATE_TABLES}
 * (SELECT, UPDATE) and {@link READ_ONLY_TABLES} (SELECT); USAGE and SELECT on its sequences. No
 * TRUNCATE, REFERENCES, TRIGGER or DDL anywhere. Run by the migrate step as the master user after
 * migrating, in one transaction, so a table a migration adds is granted in the same deploy. The
 * password travels as a bound parameter, never in the statement's text.
 *
 * @example
 * await grantAppUser(db, { username: 'aegis_app', password });
 */
export async function grantAppUser(db: Kysely<DB>, user: AppUser): Promise<void> {
  if (!USERNAME.test(user.username)) throw new Error('the application database user must be 1-63 of a-z 0-9 _ starting with a letter or _');
  if (user.password.length < 16) throw new Error('the application database password must be at least 16 characters');
  await db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ me: string; schema: string; database: string }>`
      select current_user as me, current_schema() as schema, current_database() as database`.execute(tx);
    const { me, schema, database } = rows[0]!;
    if (me === user.username) throw new Error(`the application database user must not be the migrating user ${me}`);
    await sql`select set_config('aegis.app_user', ${user.username}, true), set_config('aegis.app_password', ${user.password}, true)`.execute(
      tx,
    );
    await sql`do $$ begin
      if exists (select from pg_catalog.pg_roles where rolname = current_setting('aegis.app_user')) then
        execute format('alter role %I with login password %L', current_setting('aegis.app_user'), current_setting('aegis.app_password'));
      else
        execute format('create role %I with login password %L', current_setting('aegis.app_user'), current_setting('aegis.app_password'));
      end if;
    end $$`.execute(tx);
    await sql`select set_config('aegis.app_password', '', true)`.execute(tx);
    const role = sql.id(user.username);
    const s = sql.id(schema);
    const tables = (names: readonly string[]) =>
      sql.join(
        names.map((n) => sql`${s}.${sql.id(n)}`),
        sql`, `,
      );
    await sql`grant connect on database ${sql.id(database)} to ${role}`.execute(tx);
    await sql`grant usage on schema ${s} to ${role}`.execute(tx);
    await sql`revoke all on all tables in schema ${s} from ${role}`.execute(tx);
    await sql`revoke all on all sequences in schema ${s} from ${role}`.execute(tx);
    await sql`grant select, insert, update, delete on all tables in schema ${s} to ${role}`.execute(tx);
    await sql`revoke update, delete on ${tables(APPEND_ONLY_TABLES)} from ${role}`.execute(tx);
    await sql`revoke insert, delete on ${tables(SELECT_UPDATE_TABLES)} from ${role}`.execute(tx);
    await sql`revoke insert, update, delete on ${tables(READ_ONLY_TABLES)} from ${role}`.execute(tx);
    await sql`grant usage, select on all sequences in schema ${s} to ${role}`.execute(tx);
  });
}

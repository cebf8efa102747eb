import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { APPEND_ONLY_TABLES, grantAppUser, READ_ONLY_TABLES, SELECT_UPDATE_TABLES } from '../../lib/platform/sql/app-user.js';
import { createTestDatabase } from '../support/postgres.js';
import { describeUnless, NO_POSTGRES } from '../support/unavailable.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';

/** The application database user the migrate step makes: what it may and may not do, on a real PostgreSQL server. */
const testDb = await createTestDatabase();
// roles are per server, not per database: one of its own per run
const user = { username: `aegis_app_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
const appUrl = () => {
  const u = new URL(testDb!.url);
  u.username = user.username;
  u.password = user.password;
  return u.toString();
};
let master: Stack | undefined;
let app: Stack | undefined;

async function asUser<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: appUrl() });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}
const sqlState = (p: Promise<unknown>) =>
  p.then(
    () => 'allowed',
    (e: { code?: string }) => e.code,
  );

describeUnless(testDb ? undefined : NO_POSTGRES, 'the application database user (PostgreSQL server)', () => {
  beforeAll(async () => {
    master = await startStack({ MODEL_REGISTRY_DATABASE_URL: testDb!.url });
    expect((await uploadAndRegister(master, 'before-grant', randomBytes(400))).status).toBe(201);
    await grantAppUser(master.container.database.db, user);
  });
  afterAll(async () => {
    await app?.stop();
    await master?.stop();
    await testDb?.drop();
    const c = new pg.Client({ connectionString: testDb!.url.replace(/\/[^/]*$/, '/postgres') });
    await c.connect();
    await c.query(`drop role if exists ${user.username}`);
    await c.end();
  });

  it('runs the registry end to end as the application user', async () => {
    app = await startStack({ MODEL_REGISTRY_DATABASE_URL: appUrl() }, { dataDir: master!.dataDir });
    expect((await asUser((c) => c.query('select current_user as me'))).rows[0].me).toBe(user.username);
    const reg = await uploadAndRegister(app, 'as-app-user', randomBytes(500));
    expect(reg.status).toBe(201);
    const verify = await app.api('GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ ok: true, firstBreak: null });
  });

  it('cannot update, delete or truncate an audit event, nor rewrite the head or the migrations', async () => {
    await asUser(async (c) => {
      expect(await sqlState(c.query(`update audit_events set actor = 'mallory' where seq = 1`))).toBe('42501');
      expect(await sqlState(c.query('delete from audit_events where seq = 1'))).toBe('42501');
      expect(await sqlState(c.query('truncate audit_events'))).toBe('42501');
      expect(await sqlState(c.query('delete from audit_head'))).toBe('42501');
      expect(await sqlState(c.query(`insert into aegis_migrations (name, timestamp) values ('x', 'y')`))).toBe('42501');
      expect(await sqlState(c.query('create table sneaky (x int)'))).toBe('42501');
      expect(await sqlState(c.query('drop table datasets'))).toBe('42501');
      // what the application does: read and append events, lock and move the head
      expect(await sqlState(c.query('select count(*) from audit_events'))).toBe('allowed');
      expect(await sqlState(c.query('begin; select seq from audit_head where id = 1 for update; rollback'))).toBe('allowed');
    });
  });

  it('holds exactly the documented privileges on every table, and a re-run takes back anything granted since', async () => {
    const privileges = () =>
      asUser(async (c) => {
        const { rows } = await c.query<{ table: string; privileges: string }>(
          `select c.relname as table, concat_ws(',',
             case when has_table_privilege(c.oid, 'SELECT') then 'select' end,
             case when has_table_privilege(c.oid, 'INSERT') then 'insert' end,
             case when has_table_privilege(c.oid, 'UPDATE') then 'update' end,
             case when has_table_privilege(c.oid, 'DELETE') then 'delete' end,
             case when has_table_privilege(c.oid, 'TRUNCATE') then 'truncate' end,
             case when has_table_privilege(c.oid, 'TRIGGER') then 'trigger' end) as privileges
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'public' and c.relkind = 'r' order by 1`,
        );
        return Object.fromEntries(rows.map((r) => [r.table, r.privileges]));
      });
    const expected = (table: string) =>
      (APPEND_ONLY_TABLES as readonly string[]).includes(table)
        ? 'select,insert'
        : (SELECT_UPDATE_TABLES as readonly string[]).includes(table)
          ? 'select,update'
          : (READ_ONLY_TABLES as readonly string[]).includes(table)
            ? 'select'
            : 'select,insert,update,delete';
    const before = await privileges();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['audit_events', 'audit_head', 'artifacts', 'aegis_migrations']));
    for (const [table, held] of Object.entries(before)) expect(`${table}: ${held}`).toBe(`${table}: ${expected(table)}`);

    await sql.raw(`grant update, delete, truncate on audit_events to ${user.username}`).execute(master!.container.database.db);
    expect((await privileges()).audit_events).toBe('select,insert,update,delete,truncate');
    await grantAppUser(master!.container.database.db, user);
    expect(await privileges()).toEqual(before);
  });

  it('refuses a user name that is not a plain identifier, and the migrating user itself', async () => {
    await expect(
      grantAppUser(master!.container.database.db, { username: 'x"; drop table audit_events; --', password: user.password }),
    ).rejects.toThrow(/1-63 of a-z 0-9 _/);
    await expect(grantAppUser(master!.container.database.db, { username: 'postgres', password: user.password })).rejects.toThrow(
      /must not be the migrating user postgres/,
    );
  });
});

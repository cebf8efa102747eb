import { sql } from 'kysely';
import { StatementNames } from '../../lib/platform/adapters/sql/named-statements.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';

describe('StatementNames', () => {
  it('names a data statement from its second use, always with the same name, and no other text with it', () => {
    const names = new StatementNames();
    const a = 'select * from artifacts where artifact_id = $1';
    expect(names.nameFor(a)).toBeUndefined();
    const name = names.nameFor(a);
    expect(name).toMatch(/^aegis_\d+$/);
    expect(names.nameFor(a)).toBe(name);
    const b = 'with x as (select 1) select * from x';
    names.nameFor(b);
    expect(names.nameFor(b)).not.toBe(name);
  });

  it('never names DDL or session commands, however often they run', () => {
    const names = new StatementNames();
    for (const text of ['create table t (a int)', 'begin', 'commit', 'set search_path = x', 'alter table t add b int']) {
      for (let i = 0; i < 3; i++) expect(names.nameFor(text)).toBeUndefined();
    }
    expect(names.size).toBe(0);
  });

  it('names at most `max` texts; past the cap texts go unnamed, the named ones keep their names', () => {
    const names = new StatementNames(2);
    const texts = ['select 1', 'select 2', 'select 3'];
    for (const t of texts) names.nameFor(t);
    const named = texts.map((t) => names.nameFor(t));
    expect(named[0]).toBeDefined();
    expect(named[1]).toBeDefined();
    expect(named[2]).toBeUndefined();
    expect(names.size).toBe(2);
    expect(names.nameFor('select 1')).toBe(named[0]);
  });

  it('never names an upsert inferring a partial unique index from a parameter (a generic plan cannot infer it)', () => {
    const names = new StatementNames();
    const upsert = 'insert into "runs" ("a", "b") values ($1, $2) on conflict ("a") where "b" = $3 do nothing';
    for (let i = 0; i < 3; i++) expect(names.nameFor(upsert)).toBeUndefined();
    const literal = 'insert into "runs" ("a", "b") values ($1, $2) on conflict ("a") where "b" = \'schedule\' do nothing';
    names.nameFor(literal);
    expect(names.nameFor(literal)).toBeDefined();
  });

  it('forgets one-offs in bulk: ten times the cap of texts seen once, then a repeat counts as a first use again', () => {
    const names = new StatementNames(1);
    names.nameFor('select 0');
    for (let i = 1; i < 10; i++) names.nameFor(`select ${i}`); // 10 seen once: the set is full
    names.nameFor('select 10'); // clears the set, then remembers this one
    expect(names.nameFor('select 0')).toBeUndefined(); // forgotten: a first use again
    expect(names.nameFor('select 10')).toBeDefined(); // its second use
  });
});

describe('a database with named statements (PGlite)', () => {
  let database: PgliteDatabase;
  beforeAll(async () => {
    database = await PgliteDatabase.open();
    await sql`create table named_things (id int primary key, label text not null)`.execute(database.db);
  });
  afterAll(() => database.close());

  const prepared = async () =>
    (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements`.execute(database.db)).rows;

  it('prepares a repeated statement once on the connection, and answers with the same rows as unnamed', async () => {
    const q = (id: number) =>
      database.db
        .selectFrom('named_things' as never)
        .selectAll()
        .where('id' as never, '=', id as never);
    await database.db
      .insertInto('named_things' as never)
      .values({ id: 1, label: 'one' } as never)
      .execute();
    await database.db
      .insertInto('named_things' as never)
      .values({ id: 2, label: 'two' } as never)
      .execute();
    const first = await q(1).execute(); // unnamed
    const second = await q(2).execute(); // named and prepared
    const third = await q(1).execute(); // bound and executed only
    expect(first).toEqual([{ id: 1, label: 'one' }]);
    expect(second).toEqual([{ id: 2, label: 'two' }]);
    expect(third).toEqual(first);
    const statements = (await prepared()).filter((p) => p.statement.includes('"named_things"'));
    expect(statements.map((s) => s.name).sort()).toEqual([expect.stringMatching(/^aegis_\d+$/), expect.stringMatching(/^aegis_\d+$/)]);
    expect(statements.some((s) => s.statement.startsWith('insert'))).toBe(true);
    expect(statements.some((s) => s.statement.startsWith('select'))).toBe(true);
  });

  it('runs an upsert on a partial unique index, its predicate a parameter, past the sixth execution (a generic plan would fail)', async () => {
    await sql`create table named_runs (k int not null, kind text not null)`.execute(database.db);
    await sql`create unique index named_runs_scheduled on named_runs (k) where kind = 'schedule'`.execute(database.db);
    const upsert = (k: number) =>
      database.db
        .insertInto('named_runs' as never)
        .values({ k, kind: 'schedule' } as never)
        .onConflict((oc) =>
          oc
            .columns(['k' as never])
            .where('kind' as never, '=', 'schedule' as never)
            .doNothing(),
        )
        .execute();
    for (let i = 0; i < 8; i++) await upsert(i % 2);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from named_runs`.execute(database.db);
    expect(rows[0]!.n).toBe(2);
  });

  it('keeps errors as they were: a named statement that fails reports its SQLSTATE, the transaction rolls back', async () => {
    const insert = (id: number) =>
      database.db
        .insertInto('named_things' as never)
        .values({ id, label: `n${id}` } as never)
        .execute();
    await insert(10);
    await insert(11); // the insert's text is named by now
    await expect(
      database.db.transaction().execute(async (tx) => {
        await tx
          .insertInto('named_things' as never)
          .values({ id: 12, label: 'n12' } as never)
          .execute();
        await tx
          .insertInto('named_things' as never)
          .values({ id: 10, label: 'again' } as never)
          .execute();
      }),
    ).rejects.toMatchObject({ code: '23505' });
    const ids = await database.db
      .selectFrom('named_things' as never)
      .select('id' as never)
      .where('id' as never, '>=', 10 as never)
      .execute();
    expect(ids).toEqual([{ id: 10 }, { id: 11 }]);
  });
});

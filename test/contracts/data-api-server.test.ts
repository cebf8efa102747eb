import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { RDSData, type Field, type SqlParameter } from '@aws-sdk/client-rds-data';
import pg from 'pg';
import { isUniqueViolation, sqlState } from '../../lib/platform/sql/errors.js';
import { compileNamedParameters, parsePgArray, startDataApiServer, type DataApiServer } from '../support/data-api-server.js';
import { createTestDatabase } from '../support/postgres.js';

/**
 * The test Data API server, through the real `@aws-sdk/client-rds-data` client: value formats
 * both ways, type hints, named parameters, batches, transactions, errors and limits.
 */
const testDb = await createTestDatabase();
const skip = testDb ? undefined : 'no PostgreSQL server to put the Data API server on';
if (skip) console.warn(`Data API server tests skipped: ${skip}`);
const maybe = skip ? describe.skip : describe;

const ARNS = {
  resourceArn: 'arn:aws:rds:us-east-1:123456789012:cluster:aegis',
  secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db',
};
const databaseName = testDb ? decodeURIComponent(new URL(testDb.url).pathname.slice(1)) : '';

const client = (endpoint: string) =>
  new RDSData({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<Error & { $response?: { headers: Record<string, string> }; dbConnectionId?: number }> {
  const outcome = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.v)}`);
  return outcome.e as Error;
}

const str = (name: string, stringValue: string, typeHint?: SqlParameter['typeHint']): SqlParameter => ({
  name,
  value: { stringValue },
  ...(typeHint ? { typeHint } : {}),
});
const long = (name: string, longValue: number): SqlParameter => ({ name, value: { longValue } });

async function waitFor(check: () => Promise<boolean>, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('named parameters and array text (no server needed)', () => {
  it('numbers each distinct :name once and leaves literals, identifiers, bodies, comments and casts alone', () => {
    const sql = `select :a, :b::text, :a, ':a', E'\\':a', "x:a", $$ :a $$, $t$ :a $t$, x::int -- :a\n /* :a /* :a */ */ from t where y = :c_1`;
    const c = compileNamedParameters(sql);
    expect(c.names).toEqual(['a', 'b', 'c_1']);
    expect(c.text).toBe(
      `select $1, $2::text, $1, ':a', E'\\':a', "x:a", $$ :a $$, $t$ :a $t$, x::int -- :a\n /* :a /* :a */ */ from t where y = $3`,
    );
    expect(c.statements).toBe(1);
  });

  it('counts statements separated by semicolons outside quotes and comments', () => {
    expect(compileNamedParameters('select 1;').statements).toBe(1);
    expect(compileNamedParameters("select ';'; -- ;\n").statements).toBe(1);
    expect(compileNamedParameters('select 1; select 2').statements).toBe(2);
    expect(compileNamedParameters('do $$ begin perform 1; perform 2; end $$').statements).toBe(1);
  });

  it('parses PostgreSQL array output', () => {
    expect(parsePgArray('{1,NULL,3}')).toEqual(['1', null, '3']);
    expect(parsePgArray('{"a b","q\\"uote",NULL,"NULL"}')).toEqual(['a b', 'q"uote', null, 'NULL']);
    expect(parsePgArray('{}')).toEqual([]);
    expect(parsePgArray('[0:1]={{1,2},{3,4}}')).toEqual([
      ['1', '2'],
      ['3', '4'],
    ]);
  });
});

maybe('Data API server (via @aws-sdk/client-rds-data)', () => {
  let server: DataApiServer;
  let api: RDSData;
  let admin: pg.Client;
  const exec = (sql: string, parameters?: SqlParameter[], extra: Record<string, unknown> = {}) =>
    api.executeStatement({ ...ARNS, database: databaseName, sql, parameters, ...extra });

  beforeAll(async () => {
    server = await startDataApiServer({ pgUrl: testDb!.url, statementTimeoutMs: 20_000 });
    api = client(server.endpoint);
    admin = new pg.Client({ connectionString: testDb!.url });
    await admin.connect();
    await exec(`create table vals (
      id serial primary key, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, num numeric(12, 4), b boolean,
      t text not null default '', vc varchar(20), ch char(3), u uuid, j json, jb jsonb, d date, tm time, ts timestamp, tstz timestamptz,
      ttz timetz, by bytea, ai int[], at text[], ab boolean[], af float8[])`);
  });
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
    await testDb?.drop();
  });

  describe('values', () => {
    let id: number;
    beforeAll(async () => {
      const r = await exec(
        `insert into vals (i2, i4, i8, f4, f8, num, b, t, vc, ch, u, j, jb, d, tm, ts, tstz, ttz, by, ai, at, ab, af)
         values (:i2, :i4, :i8, :f4, :f8, :num, :b, :t, :vc, :ch, :u, :j, :jb, :d, :tm, :ts, :tstz, '10:00:00+02', :by,
                 array[1, 2, null]::int[], array['a', 'b c', null], array[true, false], array[0.5, -1.25]::float8[])
         returning id`,
        [
          long('i2', 7),
          long('i4', -2_000_000_000),
          long('i8', 6_000_000_000),
          { name: 'f4', value: { doubleValue: 0.5 } },
          { name: 'f8', value: { doubleValue: 1.25 } },
          str('num', '12.34', 'DECIMAL'),
          { name: 'b', value: { booleanValue: true } },
          str('t', `it's :t "quoted"`),
          str('vc', 'varchar'),
          str('ch', 'ab'),
          str('u', '6f1c2a8e-1d3b-4c5a-9e7f-0a1b2c3d4e5f', 'UUID'),
          str('j', '{"a":1}', 'JSON'),
          str('jb', '{"a":1}', 'JSON'),
          str('d', '2026-11-22', 'DATE'),
          str('tm', '10:11:12.5', 'TIME'),
          str('ts', '2026-11-22 10:11:12.345', 'TIMESTAMP'),
          str('tstz', '2026-11-22 10:11:12.345', 'TIMESTAMP'),
          { name: 'by', value: { blobValue: Uint8Array.from([0, 1, 254, 255]) } },
        ],
      );
      id = r.records![0]![0]!.longValue!;
    });

    it('returns each type as Aurora PostgreSQL does', async () => {
      const r = await exec(
        'select i2, i4, i8, f4, f8, num, b, t, vc, ch, u, j, jb, d, tm, ts, tstz, ttz, by, ai, at, ab, af from vals where id = :id',
        [long('id', id)],
      );
      expect(r.records).toHaveLength(1);
      const [i2, i4, i8, f4, f8, num, b, t, vc, ch, u, j, jb, d, tm, ts, tstz, ttz, by, ai, at, ab, af] = r.records![0]! as Field[];
      expect({ i2, i4, i8, f4, f8, num, b, t, vc, ch, u, j, jb, d, tm, ts, tstz, ttz }).toEqual({
        i2: { longValue: 7 },
        i4: { longValue: -2_000_000_000 },
        i8: { longValue: 6_000_000_000 },
        f4: { doubleValue: 0.5 },
        f8: { doubleValue: 1.25 },
        num: { stringValue: '12.3400' },
        b: { booleanValue: true },
        t: { stringValue: `it's :t "quoted"` },
        vc: { stringValue: 'varchar' },
        ch: { stringValue: 'ab ' },
        u: { stringValue: '6f1c2a8e-1d3b-4c5a-9e7f-0a1b2c3d4e5f' },
        j: { stringValue: '{"a":1}' },
        jb: { stringValue: '{"a": 1}' },
        d: { stringValue: '2026-11-22' },
        tm: { stringValue: '10:11:12.5' },
        ts: { stringValue: '2026-11-22 10:11:12.345' },
        tstz: { stringValue: '2026-11-22 10:11:12.345' },
        ttz: { stringValue: '08:00:00' },
      });
      expect(Array.from(by!.blobValue!)).toEqual([0, 1, 254, 255]);
      expect({ ai, at, ab, af }).toEqual({
        ai: { arrayValue: { longValues: [1, 2, null] } },
        at: { arrayValue: { stringValues: ['a', 'b c', null] } },
        ab: { arrayValue: { booleanValues: [true, false] } },
        af: { arrayValue: { doubleValues: [0.5, -1.25] } },
      });
      expect(r.columnMetadata).toBeUndefined();
      expect(r.numberOfRecordsUpdated).toBe(0);
    });

    it('returns NULL of every type as isNull, and takes isNull parameters', async () => {
      const cols = 'i2, i4, i8, f4, f8, num, b, vc, ch, u, j, jb, d, tm, ts, tstz, ttz, by, ai, at, ab, af';
      const names = cols.split(', ');
      const r = await exec(
        `insert into vals (${cols}) values (${names.map((n) => `:${n}`).join(', ')}) returning ${cols}`,
        names.map((name) => ({ name, value: { isNull: true } })),
      );
      expect(r.records![0]).toEqual(names.map(() => ({ isNull: true })));
    });

    it('renders timestamptz in UTC without a zone, and fractions without trailing zeros', async () => {
      const r = await exec(
        `select '2026-11-22 12:11:12.345+02'::timestamptz a, '2026-11-22 10:11:12'::timestamptz b, '2026-11-22 10:11:12.120'::timestamp c,
                '2026-11-22 10:11:12.123456'::timestamp d, :p::timestamptz e`,
        [str('p', '2026-11-22 23:59:59.999', 'TIMESTAMP')],
      );
      expect(r.records![0]!.map((f) => f.stringValue)).toEqual([
        '2026-11-22 10:11:12.345',
        '2026-11-22 10:11:12',
        '2026-11-22 10:11:12.12',
        '2026-11-22 10:11:12.123456',
        '2026-11-22 23:59:59.999',
      ]);
    });

    it('keeps int8 values beyond 2^31 and up to 2^53 exact, and numeric as a string', async () => {
      const r = await exec('select :a::int8 a, 9007199254740991::int8 b, -9007199254740991::int8 c, 123456789012.3456::numeric d', [
        long('a', 2 ** 31 + 5),
      ]);
      expect(r.records![0]).toEqual([
        { longValue: 2 ** 31 + 5 },
        { longValue: 9007199254740991 },
        { longValue: -9007199254740991 },
        { stringValue: '123456789012.3456' },
      ]);
    });

    it('describes columns as Aurora does (JDBC types, nullability, table, precision and scale)', async () => {
      const r = await exec('select id, t, i8, num, b, tstz, u, by, ai, 1 + 1 as two from vals where id = :id', [long('id', id)], {
        includeResultMetadata: true,
      });
      const meta = Object.fromEntries(r.columnMetadata!.map((m) => [m.label, m]));
      expect(meta.id).toMatchObject({
        name: 'id',
        label: 'id',
        typeName: 'int4',
        type: 4,
        tableName: 'vals',
        schemaName: '',
        nullable: 0,
        isAutoIncrement: true,
        isSigned: true,
        precision: 10,
        scale: 0,
        arrayBaseColumnType: 0,
      });
      expect(meta.t).toMatchObject({
        typeName: 'text',
        type: 12,
        nullable: 0,
        isAutoIncrement: false,
        isCaseSensitive: true,
        isSigned: false,
        precision: 2147483647,
      });
      expect(meta.i8).toMatchObject({ typeName: 'int8', type: -5, nullable: 1, precision: 19 });
      expect(meta.num).toMatchObject({ typeName: 'numeric', type: 2, precision: 12, scale: 4 });
      expect(meta.b).toMatchObject({ typeName: 'bool', type: -7, isCaseSensitive: false });
      expect(meta.tstz).toMatchObject({ typeName: 'timestamptz', type: 93, precision: 35, scale: 6 });
      expect(meta.u).toMatchObject({ typeName: 'uuid', type: 1111 });
      expect(meta.by).toMatchObject({ typeName: 'bytea', type: -2 });
      expect(meta.ai).toMatchObject({ typeName: '_int4', type: 2003, arrayBaseColumnType: 4 });
      expect(meta.two).toMatchObject({ typeName: 'int4', tableName: '', nullable: 1, isAutoIncrement: false });
    });

    it('follows resultSetOptions for LONG and DECIMAL values', async () => {
      const sql = 'select i8, num, 42::numeric as whole, ai from vals where id = :id';
      const asStrings = await exec(sql, [long('id', id)], { resultSetOptions: { longReturnType: 'STRING' } });
      expect(asStrings.records![0]).toEqual([
        { stringValue: '6000000000' },
        { stringValue: '12.3400' },
        { stringValue: '42' },
        { arrayValue: { stringValues: ['1', '2', null] } },
      ]);
      const asNumbers = await exec(sql, [long('id', id)], { resultSetOptions: { decimalReturnType: 'DOUBLE_OR_LONG' } });
      expect(asNumbers.records![0]!.slice(0, 3)).toEqual([{ longValue: 6_000_000_000 }, { doubleValue: 12.34 }, { longValue: 42 }]);
    });

    it('formats records as one JSON string when asked', async () => {
      const r = await exec(
        'select id, i8, num, b, t, tstz, by, ai, vc is null as missing, null::text as nothing from vals where id = :id',
        [long('id', id)],
        { formatRecordsAs: 'JSON', includeResultMetadata: true },
      );
      expect(r.records).toBeUndefined();
      expect(r.columnMetadata).toBeUndefined();
      expect(JSON.parse(r.formattedRecords!)).toEqual([
        {
          id,
          i8: 6_000_000_000,
          num: '12.3400',
          b: true,
          t: `it's :t "quoted"`,
          tstz: '2026-11-22 10:11:12.345',
          by: Buffer.from([0, 1, 254, 255]).toString('base64'),
          ai: [1, 2, null],
          missing: false,
          nothing: null,
        },
      ]);
    });
  });

  describe('statements', () => {
    it('reports numberOfRecordsUpdated and empty generatedFields for DML, and no records', async () => {
      await exec("insert into vals (t) values ('upd'), ('upd')");
      const r = await exec("update vals set t = 'upd2' where t = :t", [str('t', 'upd')]);
      expect(r.numberOfRecordsUpdated).toBe(2);
      expect(r.generatedFields).toEqual([]);
      expect(r.records).toBeUndefined();
      const d = await exec("delete from vals where t = 'upd2'");
      expect(d.numberOfRecordsUpdated).toBe(2);
    });

    it('binds a repeated name once and ignores :names in literals, identifiers and casts', async () => {
      const r = await exec(`select :a || ':a' as "x:a", :a::text as again, $$:a$$ as body -- :a`, [str('a', 'v')]);
      expect(r.records![0]!.map((f) => f.stringValue)).toEqual(['v:a', 'v', ':a']);
    });

    it('refuses a statement naming a parameter it was not given', async () => {
      const e = await failure(exec('select :missing'));
      expect(e.name).toBe('BadRequestException');
      expect(e.message).toMatch(/missing/);
    });

    it('types stringValue as VARCHAR unless a typeHint says otherwise', async () => {
      const uuid = '0e4f1c2a-8d3b-4c5a-9e7f-0a1b2c3d4e5f';
      const bare = await failure(exec('insert into vals (u) values (:u)', [str('u', uuid)]));
      expect(bare.name).toBe('DatabaseErrorException');
      expect(bare.message).toMatch(/column "u" is of type uuid but expression is of type character varying/);
      expect(bare.message).toMatch(/; SQLState: 42804$/);
      const hinted = await exec('insert into vals (u, tstz, d, num) values (:u, :ts, :d, :n) returning u', [
        str('u', uuid, 'UUID'),
        str('ts', '2026-01-02 03:04:05', 'TIMESTAMP'),
        str('d', '2026-01-02', 'DATE'),
        str('n', '1.5', 'DECIMAL'),
      ]);
      expect(hinted.records![0]).toEqual([{ stringValue: uuid }]);
    });

    it('refuses a TIMESTAMP hint in ISO-8601 form, as the Data API does', async () => {
      const e = await failure(exec('select :ts::timestamptz', [str('ts', '2026-07-22T02:17:21.804Z', 'TIMESTAMP')]));
      expect(e.name).toBe('BadRequestException');
      expect(e.message).toMatch(/Parse Error for TimeStamp/);
    });

    it('refuses array parameters', async () => {
      const e = await failure(exec('select :a', [{ name: 'a', value: { arrayValue: { longValues: [1, 2] } } }]));
      expect(e.name).toBe('BadRequestException');
      expect(e.message).toMatch(/Array parameters are not supported/);
    });

    it('refuses more than one statement per call, and allows a trailing semicolon', async () => {
      const e = await failure(exec('select 1; select 2'));
      expect(e.name).toBe('ValidationException');
      expect(e.message).toBe("Multistatements aren't supported");
      const ok = await exec("select ';' as s;");
      expect(ok.records).toEqual([[{ stringValue: ';' }]]);
    });

    it('refuses multidimensional arrays in results', async () => {
      const e = await failure(exec('select array[[1, 2], [3, 4]] as m'));
      expect(e.name).toBe('UnsupportedResultException');
    });

    it('gives calls outside a transaction no session affinity', async () => {
      const a = await exec('select pg_backend_pid()');
      const b = await exec('select pg_backend_pid()');
      expect(a.records![0]![0]!.longValue).not.toBe(b.records![0]![0]!.longValue);
    });

    it('runs a batch once per parameter set, atomically', async () => {
      const r = await api.batchExecuteStatement({
        ...ARNS,
        database: databaseName,
        sql: 'insert into vals (t, i4) values (:t, :i)',
        parameterSets: [1, 2, 3].map((i) => [str('t', 'batch'), long('i', i)]),
      });
      expect(r.updateResults).toEqual([{ generatedFields: [] }, { generatedFields: [] }, { generatedFields: [] }]);
      const returning = await api.batchExecuteStatement({
        ...ARNS,
        database: databaseName,
        sql: "insert into vals (t, i4) values ('batch-r', :i) returning i4",
        parameterSets: [[long('i', 10)], [long('i', 11)]],
      });
      expect(returning.updateResults).toEqual([{ generatedFields: [{ longValue: 10 }] }, { generatedFields: [{ longValue: 11 }] }]);
      const e = await failure(
        api.batchExecuteStatement({
          ...ARNS,
          database: databaseName,
          sql: 'insert into vals (id, t) values (:id, :t)',
          parameterSets: [
            [long('id', 900001), str('t', 'batch-x')],
            [long('id', 900001), str('t', 'batch-x')],
          ],
        }),
      );
      expect(isUniqueViolation(e)).toBe(true);
      const left = await exec("select count(*) from vals where t = 'batch-x'");
      expect(left.records![0]![0]).toEqual({ longValue: 0 });
      const done = await exec("select count(*) from vals where t = 'batch'");
      expect(done.records![0]![0]).toEqual({ longValue: 3 });
    });
  });

  describe('transactions', () => {
    const count = async (t: string) => (await exec('select count(*) from vals where t = :t', [str('t', t)])).records![0]![0]!.longValue;

    it('makes a transaction visible on commit, with the status AWS returns', async () => {
      const { transactionId } = await api.beginTransaction({ ...ARNS, database: databaseName });
      expect(transactionId).toMatch(/^\S{20,}$/);
      await exec("insert into vals (t) values ('tx-commit')", undefined, { transactionId });
      expect(await count('tx-commit')).toBe(0);
      const inside = await exec("select count(*) from vals where t = 'tx-commit'", undefined, { transactionId });
      expect(inside.records![0]![0]).toEqual({ longValue: 1 });
      const c = await api.commitTransaction({ ...ARNS, transactionId });
      expect(c.transactionStatus).toBe('Transaction Committed');
      expect(await count('tx-commit')).toBe(1);
      const again = await failure(api.commitTransaction({ ...ARNS, transactionId }));
      expect(again.name).toBe('TransactionNotFoundException');
      expect(again.message).toMatch(/already ended by a CommitTransaction call/);
    });

    it('discards a rolled-back transaction', async () => {
      const { transactionId } = await api.beginTransaction({ ...ARNS, database: databaseName });
      await exec("insert into vals (t) values ('tx-rollback')", undefined, { transactionId });
      const r = await api.rollbackTransaction({ ...ARNS, transactionId });
      expect(r.transactionStatus).toBe('Rollback Complete');
      expect(await count('tx-rollback')).toBe(0);
      const after = await failure(exec('select 1', undefined, { transactionId }));
      expect(after.name).toBe('TransactionNotFoundException');
    });

    it('refuses an unknown transaction id', async () => {
      const e = await failure(exec('select 1', undefined, { transactionId: 'no-such-transaction' }));
      expect(e.name).toBe('TransactionNotFoundException');
      expect(e.message).toMatch(/^Transaction no-such-transaction is not found/);
    });

    it('ends a transaction when one of its statements fails, keeping none of its writes', async () => {
      const { transactionId } = await api.beginTransaction({ ...ARNS, database: databaseName });
      await exec("insert into vals (id, t) values (900100, 'tx-abort')", undefined, { transactionId });
      const dup = await failure(exec("insert into vals (id, t) values (900100, 'tx-abort')", undefined, { transactionId }));
      expect(isUniqueViolation(dup)).toBe(true);
      const commit = await failure(api.commitTransaction({ ...ARNS, transactionId }));
      expect(commit.name).toBe('TransactionNotFoundException');
      expect(commit.message).toMatch(/aborted due to an error from a previous call/);
      expect(await count('tx-abort')).toBe(0);
    });

    it('refuses a second call while the transaction is still running one', async () => {
      const { transactionId } = await api.beginTransaction({ ...ARNS, database: databaseName });
      const slow = exec('select pg_sleep(0.5)', undefined, { transactionId });
      await new Promise((r) => setTimeout(r, 100));
      const busy = await failure(exec('select 1', undefined, { transactionId }));
      expect(busy.name).toBe('DatabaseErrorException');
      expect(busy.message).toBe('Transaction is still running a query');
      await slow;
      await api.rollbackTransaction({ ...ARNS, transactionId });
    });
  });

  describe('errors', () => {
    it('reports a SQL error as DatabaseErrorException in Aurora PostgreSQL wording, with its SQLState', async () => {
      await exec("insert into vals (id, t) values (900200, 'dup')");
      const e = await failure(exec("insert into vals (id, t) values (900200, 'dup')"));
      expect(e.name).toBe('DatabaseErrorException');
      expect(e.$response?.headers['x-amzn-errortype']).toBe('DatabaseErrorException');
      expect(e.message).toBe(
        'ERROR: duplicate key value violates unique constraint "vals_pkey"\n  Detail: Key (id)=(900200) already exists.; SQLState: 23505',
      );
      expect(isUniqueViolation(e)).toBe(true);
      const syntax = await failure(exec('selec 1'));
      expect(sqlState(syntax)).toBe('42601');
      expect(isUniqueViolation(syntax)).toBe(false);
    });

    it('refuses unsigned requests like AWS (403)', async () => {
      const res = await fetch(`${server.endpoint}/Execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...ARNS, sql: 'select 1' }),
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
      const forged = await fetch(`${server.endpoint}/Execute`, {
        method: 'POST',
        headers: { authorization: 'Bearer x', 'x-amz-date': '20261129T000000Z' },
        body: '{}',
      });
      expect(forged.status).toBe(403);
      expect(forged.headers.get('x-amzn-errortype')).toBe('IncompleteSignatureException');
    });
  });

  describe('limits and timeouts', () => {
    let small: DataApiServer;
    let smallApi: RDSData;
    const run = (sql: string, extra: Record<string, unknown> = {}) =>
      smallApi.executeStatement({ ...ARNS, database: databaseName, sql, ...extra });
    const activeSleeps = async () =>
      (
        await admin.query(
          "select count(*)::int n from pg_stat_activity where datname = current_database() and query like 'select pg_sleep(3)%' and state = 'active'",
        )
      ).rows[0].n as number;

    beforeAll(async () => {
      small = await startDataApiServer({ pgUrl: testDb!.url, statementTimeoutMs: 400, maxResponseBytes: 10_000, idleTransactionMs: 300 });
      smallApi = client(small.endpoint);
    });
    afterAll(() => small?.stop());

    it('times a statement out with StatementTimeoutException and cancels it', async () => {
      const e = await failure(run('select pg_sleep(3)'));
      expect(e.name).toBe('StatementTimeoutException');
      expect(e.dbConnectionId).toEqual(expect.any(Number));
      expect(await waitFor(async () => (await activeSleeps()) === 0, 2_000)).toBe(true);
    });

    it('lets a timed-out statement finish with continueAfterTimeout', async () => {
      const e = await failure(run("insert into vals (t) select 'continued' from pg_sleep(1)", { continueAfterTimeout: true }));
      expect(e.name).toBe('StatementTimeoutException');
      expect(await waitFor(async () => (await admin.query("select 1 from vals where t = 'continued'")).rowCount === 1)).toBe(true);
    });

    it('ends a transaction whose statement timed out', async () => {
      const { transactionId } = await smallApi.beginTransaction({ ...ARNS, database: databaseName });
      await run("insert into vals (t) values ('tx-timeout')", { transactionId });
      expect((await failure(run('select pg_sleep(3)', { transactionId }))).name).toBe('StatementTimeoutException');
      expect((await failure(smallApi.commitTransaction({ ...ARNS, transactionId }))).name).toBe('TransactionNotFoundException');
      expect((await admin.query("select 1 from vals where t = 'tx-timeout'")).rowCount).toBe(0);
    });

    it('refuses results over the response size limit', async () => {
      const ok = await run("select repeat('x', 6000)");
      expect(ok.records![0]![0]!.stringValue).toHaveLength(6000);
      const e = await failure(run("select repeat('x', 6000) from generate_series(1, 2)"));
      expect(e.name).toBe('BadRequestException');
      expect(e.message).toBe('Database returned more than the allowed response size limit');
    });

    it('rolls back a transaction left idle, and its id is then unknown', async () => {
      const { transactionId } = await smallApi.beginTransaction({ ...ARNS, database: databaseName });
      await run("insert into vals (t) values ('tx-idle')", { transactionId });
      await new Promise((r) => setTimeout(r, 900));
      const e = await failure(run('select 1', { transactionId }));
      expect(e.name).toBe('TransactionNotFoundException');
      expect(e.message).toMatch(/expired/);
      expect((await admin.query("select 1 from vals where t = 'tx-idle'")).rowCount).toBe(0);
    });

    it('rolls back open transactions when it stops', async () => {
      const other = await startDataApiServer({ pgUrl: testDb!.url });
      const otherApi = client(other.endpoint);
      const { transactionId } = await otherApi.beginTransaction({ ...ARNS, database: databaseName });
      await otherApi.executeStatement({ ...ARNS, sql: "insert into vals (t) values ('tx-stop')", transactionId });
      await other.stop();
      const idleInTx = async () =>
        (
          await admin.query(
            "select count(*)::int n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'",
          )
        ).rows[0].n as number;
      expect(await waitFor(async () => (await idleInTx()) === 0, 2_000)).toBe(true);
      expect((await admin.query("select 1 from vals where t = 'tx-stop'")).rowCount).toBe(0);
    });
  });

  it('connects as the database user of the secret a call names, in and out of transactions, and refuses a secret it cannot use', async () => {
    const role = `data_api_user_${Date.now()}`;
    await admin.query(`create role ${role} login password 'pw-of-the-role'`);
    const secrets: Record<string, unknown> = {
      [ARNS.secretArn]: { username: role, password: 'pw-of-the-role' },
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:partial': { username: role },
    };
    const withSecrets = await startDataApiServer({
      pgUrl: testDb!.url,
      secrets: async (arn) => {
        if (!(arn in secrets)) throw new Error('ResourceNotFoundException');
        return secrets[arn];
      },
    });
    try {
      const api2 = client(withSecrets.endpoint);
      const me = await api2.executeStatement({ ...ARNS, database: databaseName, sql: 'select current_user as me' });
      expect(me.records).toEqual([[{ stringValue: role }]]);
      const { transactionId } = await api2.beginTransaction({ ...ARNS, database: databaseName });
      const inTx = await api2.executeStatement({ ...ARNS, sql: 'select current_user as me', transactionId });
      expect(inTx.records).toEqual([[{ stringValue: role }]]);
      await api2.rollbackTransaction({ ...ARNS, transactionId });
      // the role's privileges apply: it was granted nothing on vals
      const denied = await failure(api2.executeStatement({ ...ARNS, database: databaseName, sql: 'select * from vals' }));
      expect(denied.name).toBe('DatabaseErrorException');
      expect(denied.message).toMatch(/permission denied for table vals; SQLState: 42501/);
      const partial = await failure(
        api2.executeStatement({ ...ARNS, secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:partial', sql: 'select 1' }),
      );
      expect(partial.name).toBe('BadRequestException');
      expect(partial.message).toMatch(/must contain a username and a password/);
      const missing = await failure(
        api2.executeStatement({ ...ARNS, secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:absent', sql: 'select 1' }),
      );
      expect(missing.name).toBe('BadRequestException');
      expect(missing.message).toMatch(/Error fetching secret .*absent/);
    } finally {
      await withSecrets.stop();
      await admin.query(`drop role ${role}`);
    }
  });

  it('runs standalone and prints its endpoint', async () => {
    const { NODE_OPTIONS: _omit, ...env } = process.env;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(process.cwd(), 'test/support/data-api-server.ts'), '--pg', testDb!.url, '--port', '0'],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
      });
      expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await client(endpoint).executeStatement({ ...ARNS, sql: "select 'standalone' as s" });
      expect(r.records).toEqual([[{ stringValue: 'standalone' }]]);
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    }
  });
});

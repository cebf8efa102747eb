/**
 * The embedded database's own behaviour, beyond the Database contract: a data folder is made
 * by a separate initdb process and appears whole; PGlite runs in a worker thread that `pg`
 * reaches over the wire protocol, with sessions ending as on a server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { PgliteThread } from '../../lib/platform/adapters/sql/pglite-thread.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-pglite-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const model = (name: string) => ({ name, latest_version: 0, created_by: 't', created_at: new Date() });

/** A pid that no process has any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('PGlite data folder', () => {
  it('initialises a fresh folder, migrates it, and keeps its rows across a reopen', async () => {
    const dir = join(work, 'fresh', 'pg');
    const first = await PgliteDatabase.open(dir);
    try {
      expect(await migrateToLatest(first.db)).toContain('0001_registry');
      await first.db.insertInto('models').values(model('kept')).execute();
    } finally {
      await first.close();
    }
    expect(readdirSync(join(work, 'fresh'))).toEqual(['pg']); // no scratch folder left beside it
    const again = await PgliteDatabase.open(dir);
    try {
      expect(await migrateToLatest(again.db)).toEqual([]);
      expect(await again.db.selectFrom('models').select('name').execute()).toEqual([{ name: 'kept' }]);
    } finally {
      await again.close();
    }
  });

  it('redoes an interrupted first start: the dead start’s scratch folder goes, a live one’s stays, an empty data folder is filled', async () => {
    const parent = join(work, 'interrupted');
    const dir = join(parent, 'pg');
    mkdirSync(dir, { recursive: true }); // made, then the first start died before initdb finished
    const dead = join(parent, `pg.initdb-${deadPid()}-AbC123`);
    mkdirSync(join(dead, 'base'), { recursive: true });
    writeFileSync(join(dead, 'PG_VERSION'), '18\n'); // half made: it was never renamed into place
    const live = join(parent, `pg.initdb-${process.pid}-XyZ789`);
    mkdirSync(live);
    const database = await PgliteDatabase.open(dir);
    try {
      expect(await migrateToLatest(database.db)).toContain('0001_registry');
    } finally {
      await database.close();
    }
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
  });

  it('refuses a folder that holds files but no database, naming it and leaving its files', async () => {
    const dir = join(work, 'not-a-database');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await expect(PgliteDatabase.open(dir)).rejects.toThrow(`${dir} holds files but no database (no PG_VERSION)`);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });
});

describe('PGlite thread', () => {
  let thread: PgliteThread;
  const client = () => new pg.Client({ stream: () => thread.connect(), user: 'postgres', database: 'postgres', ssl: false });

  beforeAll(async () => {
    thread = await PgliteThread.start(join(work, 'fresh', 'pg'));
  });
  afterAll(async () => {
    await thread.close();
  });

  it('rolls back the open transaction of a session that ends, as a server does', async () => {
    const first = client();
    await first.connect();
    await first.query('begin');
    await first.query(`insert into models (name, latest_version, created_by, created_at) values ('uncommitted', 0, 't', now())`);
    await first.end();
    const second = client();
    await second.connect();
    try {
      const rows = await second.query<{ name: string }>('select name from models order by name');
      expect(rows.rows.map((r) => r.name)).toEqual(['kept']);
    } finally {
      await second.end();
    }
  });

  it('reports a unique violation as pg reports a server’s: code, constraint and detail', async () => {
    const c = client();
    await c.connect();
    try {
      const err = (await c
        .query(`insert into models (name, latest_version, created_by, created_at) values ('kept', 0, 't', now())`)
        .catch((e: unknown) => e)) as pg.DatabaseError;
      expect(err).toBeInstanceOf(pg.DatabaseError);
      expect(err).toMatchObject({ code: '23505', constraint: 'models_pkey', detail: 'Key (name)=(kept) already exists.' });
      // the session goes on
      expect((await c.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });

  it('fails a session opened after close instead of leaving it waiting', async () => {
    const closing = await PgliteThread.start(join(work, 'interrupted', 'pg'));
    await closing.close();
    await closing.close(); // twice is fine
    const c = new pg.Client({ stream: () => closing.connect(), user: 'postgres', database: 'postgres', ssl: false });
    await expect(c.connect()).rejects.toThrow('the PGlite database is closed');
  });
});

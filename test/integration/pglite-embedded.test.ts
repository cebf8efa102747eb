/**
 * The embedded database's own behaviour, beyond the Database contract: a data folder is made
 * by a separate initdb process, or copied from the build's migrated template when it fits the
 * code, and appears whole; PGlite runs in a worker thread that `pg`
 * reaches over the wire protocol, with sessions ending as on a server.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { loadConfig } from '../../lib/platform/config.js';
import { openDatabase } from '../../lib/platform/composition/local.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { PgliteThread } from '../../lib/platform/adapters/sql/pglite-thread.js';
import { makeTemplate, pgliteVersion, usableTemplate, type TemplateMeta } from '../../lib/platform/adapters/sql/pglite-template.js';
import { prepareDataFolder } from '../../lib/platform/adapters/sql/pglite-folder.js';
import { MIGRATION_NAMES, migrateToLatest, pendingMigrations } from '../../lib/platform/sql/migrations.js';

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

describe('PGlite template', () => {
  let template: string;
  let meta: TemplateMeta;
  beforeAll(async () => {
    template = join(work, 'template');
    meta = await makeTemplate(template, migrateToLatest);
  }, 60_000);

  /** A copy of the template with its metadata changed by `edit`. */
  const edited = (name: string, edit: (m: TemplateMeta) => unknown): string => {
    const dir = join(work, name);
    cpSync(template, dir, { recursive: true });
    writeFileSync(join(dir, 'template.json'), JSON.stringify(edit(structuredClone(meta))));
    return dir;
  };

  it('is made migrated by this PGlite, and a first start copies it: no migration left, bootstrapped as an empty folder', async () => {
    expect(meta).toEqual({ pglite: pgliteVersion(), migrations: [...MIGRATION_NAMES] });
    expect(readdirSync(work).filter((n) => n.startsWith('template.new-'))).toEqual([]); // its scratch folder renamed into place
    const use = usableTemplate(template, MIGRATION_NAMES);
    expect(use).toEqual({ data: join(template, 'pg') });
    const dir = join(work, 'from-template', 'pg');
    const found: string[] = []; // a template found by a function: asked for when the folder is made, never after
    const find = async () => {
      found.push(dir);
      return (use as { data: string }).data;
    };
    expect(await prepareDataFolder(dir, { template: find })).toBe('copied');
    expect(found).toEqual([dir]);
    expect(readdirSync(join(work, 'from-template'))).toEqual(['pg']);
    const database = await PgliteDatabase.open(dir);
    try {
      expect(await pendingMigrations(database.db)).toEqual([]);
      expect(await database.db.selectFrom('models').select('name').execute()).toEqual([]);
      await database.db.insertInto('models').values(model('in-the-copy')).execute();
    } finally {
      await database.close();
    }
    // the copy is the new folder's own: the template is untouched, an existing folder is never copied over
    expect(await prepareDataFolder(dir, { template: join(template, 'pg') })).toBe('existing');
    expect(await prepareDataFolder(dir, { template: find })).toBe('existing');
    expect(found).toEqual([dir]);
    const again = await PgliteDatabase.open(join(template, 'pg'));
    try {
      expect(await again.db.selectFrom('models').select('name').execute()).toEqual([]);
    } finally {
      await again.close();
    }
  });

  it('is used when it lacks migrations this code has: they are applied at start as on any database', async () => {
    const bare = join(work, 'bare-template');
    expect(await makeTemplate(bare, async () => [])).toEqual({ pglite: pgliteVersion(), migrations: [] });
    const use = usableTemplate(bare, MIGRATION_NAMES);
    expect(use).toEqual({ data: join(bare, 'pg') });
    const dir = join(work, 'from-bare', 'pg');
    expect(await prepareDataFolder(dir, { template: join(bare, 'pg') })).toBe('copied');
    const database = await PgliteDatabase.open(dir);
    try {
      expect(await migrateToLatest(database.db)).toEqual([...MIGRATION_NAMES]);
    } finally {
      await database.close();
    }
  }, 60_000);

  it('is not used when another PGlite made it, when it has a migration this code does not know, or without its metadata', () => {
    const other = edited('other-pglite', (m) => ({ ...m, pglite: '0.0.1' }));
    expect(usableTemplate(other, MIGRATION_NAMES)).toEqual({
      unusable: `the template at ${other} was made by PGlite 0.0.1, this is ${pgliteVersion()}`,
    });
    const newer = edited('newer', (m) => ({ ...m, migrations: [...m.migrations, '9999_future'] }));
    expect(usableTemplate(newer, MIGRATION_NAMES)).toEqual({
      unusable: `the template at ${newer} has migration 9999_future, which this code does not know`,
    });
    const broken = edited('broken', () => ({ pglite: pgliteVersion() }));
    expect(usableTemplate(broken, MIGRATION_NAMES)).toEqual({ unusable: `the template at ${broken} has no valid template.json` });
    expect(usableTemplate(join(work, 'nowhere'), MIGRATION_NAMES)).toEqual({ unusable: `no template at ${join(work, 'nowhere')}` });
  });

  it('a local data folder starts as a copy of the build’s template unless AEGIS_PGLITE_TEMPLATE=off', async () => {
    /** pg_control's system identifier: initdb draws a new one, a copy keeps the template's */
    const systemId = async (name: string, env: Record<string, string> = {}) => {
      const database = await openDatabase(loadConfig({ AEGIS_DATA_DIR: join(work, name), ...env }).database);
      try {
        return (await sql<{ id: string }>`select system_identifier::text as id from pg_control_system()`.execute(database.db)).rows[0]!.id;
      } finally {
        await database.close();
      }
    };
    const [a, b, own] = [
      await systemId('local-a'),
      await systemId('local-b'),
      await systemId('local-off', { AEGIS_PGLITE_TEMPLATE: 'off' }),
    ];
    expect(a).toBe(b);
    expect(own).not.toBe(a);
  }, 60_000);

  it('the build made one that this code starts from', () => {
    const built = join(process.cwd(), 'dist/pglite-template');
    expect(JSON.parse(readFileSync(join(built, 'template.json'), 'utf8'))).toEqual({
      pglite: pgliteVersion(),
      migrations: [...MIGRATION_NAMES],
    });
    expect(usableTemplate(built, MIGRATION_NAMES)).toEqual({ data: join(built, 'pg') });
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

  const insert = (name: string) => `insert into models (name, latest_version, created_by, created_at) values ('${name}', 0, 't', now())`;
  const names = async (c: pg.Client) => (await c.query<{ name: string }>('select name from models order by name')).rows.map((r) => r.name);
  /** `fn` on a new session, ended afterwards whatever happened. */
  const session = async (fn: (c: pg.Client) => Promise<void>) => {
    const c = client();
    await c.connect();
    try {
      await fn(c);
    } finally {
      await c.end();
    }
  };

  it('rolls back the open transaction of a session that ends, as a server does', async () => {
    await session(async (first) => {
      await first.query('begin');
      await first.query(insert('uncommitted'));
    });
    await session(async (second) => expect(await names(second)).toEqual(['kept']));
  });

  it('reports a unique violation as pg reports a server’s: code, constraint and detail', async () => {
    await session(async (c) => {
      const err = (await c.query(insert('kept')).catch((e: unknown) => e)) as pg.DatabaseError;
      expect(err).toBeInstanceOf(pg.DatabaseError);
      expect(err).toMatchObject({ code: '23505', constraint: 'models_pkey', detail: 'Key (name)=(kept) already exists.' });
      // the session goes on
      expect((await c.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    });
  });

  it('sends a begin from the idle state with the next statement: a transaction costs one hand-off fewer, and commits as before', async () => {
    await session(async (c) => {
      const before = thread.sent;
      await c.query('begin'); // answered at once
      expect(thread.sent).toBe(before);
      await c.query(insert('pipelined'));
      await c.query('commit');
      expect(thread.sent - before).toBe(2); // begin + insert, then commit
      expect(await names(c)).toEqual(['kept', 'pipelined']);
      // inside a transaction a begin goes as it is, and PostgreSQL's warning with it
      const notices: string[] = [];
      c.on('notice', (n) => notices.push(n.message ?? ''));
      await c.query('begin');
      const inside = thread.sent;
      await c.query('begin');
      expect(thread.sent - inside).toBe(1);
      expect(notices).toEqual(['there is already a transaction in progress']);
      await c.query('delete from models where name = $1', ['pipelined']);
      await c.query('commit');
      expect(await names(c)).toEqual(['kept']);
    });
  });

  it('rolls back a pipelined transaction whose first statement fails, and a session that ends after its begin leaves none open', async () => {
    await session(async (c) => {
      await c.query('begin');
      await expect(c.query(insert('kept'))).rejects.toMatchObject({ code: '23505' }); // sent with the begin, failed inside it
      await expect(c.query(insert('after-failure'))).rejects.toMatchObject({ code: '25P02' }); // the transaction is aborted
      await c.query('rollback');
      await c.query('begin');
      await c.query(insert('rolled-back'));
      await c.query('rollback');
      expect(await names(c)).toEqual(['kept']);
      await c.query('begin'); // the session ends right after it: nothing was sent for it
    });
    await session(async (next) => {
      await next.query(insert('autocommitted'));
      expect(await names(next)).toEqual(['autocommitted', 'kept']);
      await next.query('delete from models where name = $1', ['autocommitted']);
    });
  });

  it('fails a session opened after close instead of leaving it waiting', async () => {
    const closing = await PgliteThread.start(join(work, 'interrupted', 'pg'));
    await closing.close();
    await closing.close(); // twice is fine
    const c = new pg.Client({ stream: () => closing.connect(), user: 'postgres', database: 'postgres', ssl: false });
    await expect(c.connect()).rejects.toThrow('the PGlite database is closed');
  });
});

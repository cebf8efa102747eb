/**
 * The reference of the hot-paths bench (issue 25): a minimal node:http server, in the bench's
 * process as the local stack is, doing a registration's durable work and nothing else — the
 * request's bytes hashed as they arrive and written to a new file with fsync, one Ed25519
 * signature (node:crypto) over the digest, one INSERT in a transaction — and, for reads, one
 * SELECT of a row. Its database is of the same kind as the stack's it is compared with: an
 * embedded PGlite in a data folder, or the same PostgreSQL server through a `pg.Pool` of the
 * stack's size.
 */
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/** The one row a reference registration writes. */
interface RefRow {
  id: string;
  model: string;
  sha256: string;
  size: number;
  signature: string;
  manifest: unknown;
}

/** What the reference needs from its database: one INSERT transaction, one SELECT. */
interface RefDatabase {
  insert(row: RefRow): Promise<{ version: number }>;
  select(id: string): Promise<Record<string, unknown> | undefined>;
  close(): Promise<void>;
}

const CREATE = `create table ref_registrations (
  id uuid primary key,
  model text not null,
  version bigserial not null,
  sha256 text not null,
  size bigint not null,
  signature text not null,
  manifest jsonb not null,
  created_at timestamptz not null default now()
)`;
const INSERT = `insert into ref_registrations (id, model, sha256, size, signature, manifest)
  values ($1, $2, $3, $4, $5, $6) returning version`;
const SELECT = 'select * from ref_registrations where id = $1';
const params = (r: RefRow) => [r.id, r.model, r.sha256, r.size, r.signature, JSON.stringify(r.manifest)];

/** PGlite in a data folder, called directly (no pool, no query builder): the least a query costs on it. */
async function pgliteDatabase(dataDir: string): Promise<RefDatabase> {
  const db = new PGlite(dataDir);
  await db.waitReady;
  await db.exec(CREATE);
  return {
    insert: (row) => db.transaction(async (tx) => (await tx.query<{ version: number }>(INSERT, params(row))).rows[0]!),
    select: async (id) => (await db.query<Record<string, unknown>>(SELECT, [id])).rows[0],
    close: () => db.close(),
  };
}

/** The PostgreSQL server through a pool of `max` connections, one BEGIN … COMMIT per insert. */
async function pgDatabase(url: string, max: number): Promise<RefDatabase> {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  await pool.query(CREATE);
  return {
    async insert(row) {
      const c = await pool.connect();
      try {
        await c.query('begin');
        const r = await c.query<{ version: number }>(INSERT, params(row));
        await c.query('commit');
        return r.rows[0]!;
      } catch (e) {
        await c.query('rollback').catch(() => undefined);
        throw e;
      } finally {
        c.release();
      }
    },
    select: async (id) => (await pool.query<Record<string, unknown>>(SELECT, [id])).rows[0],
    close: () => pool.end(),
  };
}

export interface ReferenceServer {
  url: string;
  /** `POST {url}/register` with the artifact's bytes as the body and the manifest (base64url JSON) in `x-manifest` */
  registerUrl: string;
  /** `GET {url}/records/{id}`: one row */
  recordUrl(id: string): string;
  close(): Promise<void>;
}

export type ReferenceDatabase = { kind: 'pglite'; dataDir: string } | { kind: 'pg'; url: string; poolSize: number };

/** Starts the reference server on an ephemeral port; `filesDir` receives one file per registration. */
export async function startReferenceServer(database: ReferenceDatabase, filesDir: string): Promise<ReferenceServer> {
  const db = database.kind === 'pglite' ? await pgliteDatabase(database.dataDir) : await pgDatabase(database.url, database.poolSize);
  const { privateKey } = generateKeyPairSync('ed25519');

  const register = async (req: IncomingMessage): Promise<unknown> => {
    const manifest: unknown = JSON.parse(Buffer.from(String(req.headers['x-manifest']), 'base64url').toString('utf8'));
    const model = (manifest as { modelName: string }).modelName;
    const id = randomUUID();
    const hash = createHash('sha256');
    const fh = await open(join(filesDir, id), 'wx');
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    const sha256 = hash.digest('hex');
    const signature = sign(null, Buffer.from(sha256), privateKey).toString('base64');
    const { version } = await db.insert({ id, model, sha256, size, signature, manifest });
    return { id, version: Number(version), sha256 };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let status = 404;
    let body: unknown = { error: 'not found' };
    if (req.method === 'POST' && req.url === '/register') [status, body] = [201, await register(req)];
    else if (req.method === 'GET' && req.url?.startsWith('/records/')) {
      const row = await db.select(req.url.slice('/records/'.length));
      if (row) [status, body] = [200, row];
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    registerUrl: `${url}/register`,
    recordUrl: (id) => `${url}/records/${id}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await db.close();
    },
  };
}

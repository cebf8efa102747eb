/**
 * Audit chain benches:
 * 1. verify throughput: `verifyChain` over N signed events (default 100k), and `verifyChainPaged`
 *    over them in the server's pages, against raw Ed25519
 *    verification of the same N signatures with node:crypto, in this process.
 * 2. `aegis audit-verify` through the API (`audit-api.ts`): GET /v1/audit/verify over archived
 *    events, against raw Ed25519 verification of the same signatures.
 * 3. append throughput with W concurrent writers (default 20) through `AuditLog.append` in a
 *    transaction each, against plain single-row insert transactions with the same writers,
 *    on the PostgreSQL server when reachable (else PGlite, which serialises everything).
 */
import { createPrivateKey, randomUUID, sign, verify } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import * as z from 'zod';
import { eventStatement, verifyChain } from '../lib/kernel/audit-chain.js';
import { verifyChainPaged } from '../lib/kernel/chain-check.js';
import { VERIFY_PAGE_SIZE } from '../lib/platform/audit/paged-verify.js';
import { migrateToLatest } from '../lib/platform/sql/migrations.js';
import type { DB } from '../lib/platform/sql/schema.js';
import { PgDatabase } from '../lib/platform/adapters/sql/pg.js';
import { PgliteDatabase } from '../lib/platform/adapters/sql/pglite.js';
import type { Database } from '../lib/platform/ports/database.js';
import type { Signer } from '../lib/platform/ports/signer.js';
import { systemClock } from '../lib/platform/ports/clock.js';
import { AuditLog } from '../lib/platform/audit/log.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { auditKeyPair, signedChain } from '../test/support/audit-chain.js';
import { envInt, ratio, table } from './stats.js';
import { auditApiBench, auditApiOptionsFromEnv } from './audit-api.js';

/** The bench's one event type: a small payload checked against its schema, as every append is. */
const BENCH_EVENTS = { 'bench.appended': { schema: z.object({ model: z.string() }), restore: { notRestored: 'bench' } } };

export const auditOptionsFromEnv = () => ({
  events: envInt('BENCH_AUDIT_EVENTS', 100_000),
  writers: envInt('BENCH_AUDIT_WRITERS', 20),
  appends: envInt('BENCH_AUDIT_APPENDS', 2000),
  api: auditApiOptionsFromEnv(),
});
type Options = ReturnType<typeof auditOptionsFromEnv>;

async function verifyBench(n: number, print: (l: string) => void) {
  const { privateKey, publicKey, record } = auditKeyPair('audit-bench');
  const events = signedChain(n, {
    signerId: record.kid,
    privateKey,
    event: (seq) => ({
      eventId: randomUUID(),
      type: 'artifact.registered',
      actor: 'bench',
      subject: `artifact:${seq}`,
      payload: { n: seq, model: 'm' },
      ts: '2026-11-22T00:00:00.000Z',
    }),
  });
  const messages = events.map((e) => eventStatement(e.seq, e.hash));
  const sigs = events.map((e) => Buffer.from(e.signature, 'base64'));
  let t = performance.now();
  for (let i = 0; i < n; i++) if (!verify(null, messages[i]!, publicKey, sigs[i]!)) throw new Error('raw verify failed');
  const rawMs = performance.now() - t;
  t = performance.now();
  const report = verifyChain(events, () => record);
  const chainMs = performance.now() - t;
  if (!report.ok) throw new Error(`chain did not verify: ${JSON.stringify(report.firstBreak)}`);
  // what the server's verification runs: pages, each page's signatures on the thread pool while this thread hashes
  t = performance.now();
  const pagedReport = await verifyChainPaged(events, () => record, VERIFY_PAGE_SIZE);
  if (!pagedReport.ok) throw new Error(`pages did not verify: ${JSON.stringify(pagedReport.firstBreak)}`);
  const pagedMs = performance.now() - t;
  const rate = (ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en-US')}/s`;
  print(
    table(
      ['measurement', 'events', 'time', 'rate', 'vs raw'],
      [
        ['raw Ed25519 verify (reference)', String(n), `${(rawMs / 1000).toFixed(2)} s`, rate(rawMs), '1.00×'],
        [
          'verifyChain (hash + link + signer + signature)',
          String(n),
          `${(chainMs / 1000).toFixed(2)} s`,
          rate(chainMs),
          ratio(rawMs / chainMs),
        ],
        [
          `verifyChainPaged (ChainCheck), pages of ${VERIFY_PAGE_SIZE.toLocaleString('en-US')} (signatures on every core)`,
          String(n),
          `${(pagedMs / 1000).toFixed(2)} s`,
          rate(pagedMs),
          ratio(rawMs / pagedMs),
        ],
      ],
    ),
  );
}

async function appendBench(o: Options, print: (l: string) => void) {
  const pgDb = await createTestDatabase().catch(() => undefined);
  const database: Database = pgDb ? new PgDatabase(pgDb.url, { max: o.writers }) : await PgliteDatabase.open();
  const where = pgDb ? 'PostgreSQL server' : 'PGlite (no server reachable)';
  try {
    await migrateToLatest(database.db);
    const { privateKey } = auditKeyPair('audit-bench');
    const key = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const signer: Signer = { kid: 'audit-bench', alg: 'ed25519', sign: async (m) => sign(null, m, key) };
    const audit = new AuditLog({ signerFor: async () => signer, ringTypes: new Set() }, systemClock, BENCH_EVENTS);
    await sql`create table bench_plain (id bigserial primary key, body text not null)`.execute(database.db);
    const db = database.db as Kysely<DB>;
    const perWriter = Math.ceil(o.appends / o.writers);
    const run = async (op: () => Promise<unknown>) => {
      const t = performance.now();
      await Promise.all(
        Array.from({ length: o.writers }, async () => {
          for (let i = 0; i < perWriter; i++) await op();
        }),
      );
      return performance.now() - t;
    };
    const plainMs = await run(() =>
      db.transaction().execute((tx) => sql`insert into bench_plain (body) values (${'x'.repeat(200)})`.execute(tx)),
    );
    const appendMs = await run(() =>
      db
        .transaction()
        .execute((tx) => audit.append(tx, { type: 'bench.appended', actor: 'bench', subject: 'artifact:x', payload: { model: 'm' } })),
    );
    const total = perWriter * o.writers;
    const rate = (ms: number) => `${Math.round(total / (ms / 1000)).toLocaleString('en-US')}/s`;
    print(`   ${where}, ${o.writers} concurrent writers, ${total} transactions each way`);
    print(
      table(
        ['measurement', 'rate', 'vs plain insert'],
        [
          ['plain single-row insert transactions (reference)', rate(plainMs), '1.00×'],
          ['AuditLog.append (head lock + hash + Ed25519 sign)', rate(appendMs), ratio(plainMs / appendMs)],
        ],
      ),
    );
  } finally {
    await database.close();
    await pgDb?.drop();
  }
}

export async function auditBench(o: Options, print: (l: string) => void): Promise<void> {
  print(`\n== 4. Audit chain: verify ${o.events.toLocaleString('en-US')} events; append with ${o.writers} concurrent writers ==`);
  await verifyBench(o.events, print);
  print('');
  await auditApiBench(o.api, print);
  print('');
  await appendBench(o, print);
}

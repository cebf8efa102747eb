/**
 * `aegis audit-verify` through the API: GET /v1/audit/verify on a local server whose chain
 * holds N events (default 20k), all archived, so the endpoint verifies the database's chain,
 * reads and checks the archive and compares the two. Reference: raw Ed25519 verification of
 * the same N signatures with node:crypto, in this process.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { AegisClient } from '../lib/clients/http/client.js';
import { eventStatement, GENESIS_HASH } from '../lib/kernel/audit-chain.js';
import { loadCheckedConfig } from '../lib/platform/config.js';
import { startLocal } from '../lib/platform/composition/local-start.js';
import { eventToRow } from '../lib/platform/audit/log.js';
import { envInt, ratio, table } from './stats.js';
import { removeTree, tempDir } from './stack.js';
import { signedChain } from '../test/support/audit-chain.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
export const auditApiOptionsFromEnv = () => ({ events: envInt('BENCH_AUDIT_API_EVENTS', 20_000), runs: envInt('BENCH_AUDIT_API_RUNS', 3) });

export async function auditApiBench(o: ReturnType<typeof auditApiOptionsFromEnv>, print: (l: string) => void): Promise<void> {
  const dataDir = await tempDir('audit-api');
  const config = loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: dataDir, PORT: '0', NODE_ENV: 'test' });
  const running = await startLocal(config, { logger: quiet });
  try {
    const c = running.container;
    const db = c.database.db;
    const signer = await c.keys.activeSigner('audit');
    const record = (await c.keys.list()).find((k) => k.kid === signer.kid)!;
    const head = await db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const events = signedChain(o.events, {
      signerId: signer.kid,
      after: { seq: head ? Number(head.seq) : 0, hash: head?.hash.trim() ?? GENESIS_HASH },
      event: (seq) => ({
        eventId: randomUUID(),
        type: 'artifact.registered',
        actor: 'bench',
        subject: `artifact:${seq}`,
        payload: { n: seq, model: 'm', version: 1, sha256: 'ab'.repeat(32) },
        ts: new Date().toISOString(),
      }),
    });
    // the server's own audit key signs them (it only signs asynchronously)
    for (const e of events) e.signature = (await signer.sign(eventStatement(e.seq, e.hash))).toString('base64');
    const last = events[events.length - 1]!;
    for (let i = 0; i < events.length; i += 1000)
      await db
        .insertInto('audit_events')
        .values(events.slice(i, i + 1000).map(eventToRow))
        .execute();
    await db.updateTable('audit_head').set({ seq: last.seq, hash: last.hash }).where('id', '=', 1).execute();
    await c.auditTrail.archive();
    const publicKey = createPublicKey({ key: Buffer.from(record.publicKey, 'base64'), format: 'der', type: 'spki' });
    const messages = events.map((e) => eventStatement(e.seq, e.hash));
    const sigs = events.map((e) => Buffer.from(e.signature, 'base64'));
    const admin = new AegisClient({ baseUrl: running.url, token: running.newAdminToken! });
    const raw: number[] = [];
    const api: number[] = [];
    for (let r = 0; r < o.runs; r++) {
      let t = performance.now();
      for (let i = 0; i < events.length; i++) if (!verify(null, messages[i]!, publicKey, sigs[i]!)) throw new Error('raw verify failed');
      raw.push(performance.now() - t);
      t = performance.now();
      const report = await admin.request<{ ok: boolean; checked: number; parity: string }>('GET', '/v1/audit/verify');
      api.push(performance.now() - t);
      if (!report.ok || report.parity !== 'ok' || report.checked < o.events) throw new Error(`verify failed: ${JSON.stringify(report)}`);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [rawMs, apiMs] = [median(raw), median(api)];
    const rate = (ms: number) => `${Math.round(o.events / (ms / 1000)).toLocaleString('en-US')}/s`;
    print(`   through the API: ${o.events.toLocaleString('en-US')} archived events, median of ${o.runs} runs`);
    print(
      table(
        ['measurement', 'time', 'rate', 'vs raw'],
        [
          ['raw Ed25519 verify (reference)', `${(rawMs / 1000).toFixed(2)} s`, rate(rawMs), '1.00×'],
          ['GET /v1/audit/verify (chain + archive + parity + head)', `${(apiMs / 1000).toFixed(2)} s`, rate(apiMs), ratio(rawMs / apiMs)],
        ],
      ),
    );
  } finally {
    await running.close();
    await removeTree(dataDir);
  }
}

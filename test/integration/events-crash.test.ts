/**
 * Issue 24: kill -9 between a commit and its delivery loses nothing. Servers on one PostgreSQL
 * database, each killed with SIGKILL at a deterministic point of the dispatcher through the
 * test-only AEGIS_TEST_KILL_AT hook: before a send (the event is committed, its delivery
 * pending), and after a send before its outcome is recorded (the receiver got it; it is sent
 * again: at least once, deduplicated by eventId). A survivor delivers everything in order.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AuditEvent } from '../../lib/kernel/audit-chain.js';
import { createTestDatabase } from '../support/postgres.js';
import { serve, type Server } from '../support/server-process.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

const testDb = await createTestDatabase();

(testDb ? describe : describe.skip)('the events outbox across kill -9', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let receiver: Receiver;
  const servers: Server[] = [];
  let db: pg.Client;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aegis-events-crash-'));
    // a lease of 2 × 500 ms + 2 s: a killed dispatcher holds its subscription that long
    env = {
      NODE_ENV: 'test',
      DEV_ALLOW_EPHEMERAL: 'true',
      AEGIS_DATA_DIR: dataDir,
      MODEL_REGISTRY_DATABASE_URL: testDb!.url,
      AEGIS_WEBHOOK_TIMEOUT_MS: '500',
    };
    receiver = await startReceiver();
    db = new pg.Client({ connectionString: testDb!.url });
    await db.connect();
  });
  afterAll(async () => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await receiver?.close();
    await db?.end().catch(() => undefined);
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const start = async (extra: Record<string, string> = {}) => {
    const s = await serve({ ...env, ...extra });
    servers.push(s);
    return s;
  };
  const api = async (url: string, method: string, path: string, body?: unknown) => {
    const token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const dataset = (id: string) => ({ id, version: '1', checksum: `sha256:${'e'.repeat(64)}`, uri: `s3://x/${id}` });
  const delivery = async (seq: number) =>
    (await db.query('select status, attempts from event_deliveries where seq = $1', [seq])).rows[0] as { status: string; attempts: number };

  it('a server killed before a send, then one killed after it: the survivor delivers everything, in order, the duplicate deduplicated', async () => {
    // A dies at its second send: the first delivers the subscription's own creation event
    const a = await start({ AEGIS_TEST_KILL_AT: 'events.before-send#2' });
    // the receiver holds its secret first: the subscription's own creation may be delivered before the reply
    receiver.secret = 'the-receiver-secret-0123456789';
    const sub = await api(a.url, 'POST', '/v1/webhooks', {
      url: receiver.url,
      events: ['subscription.created', 'dataset.registered'],
      secret: receiver.secret,
    });
    expect(sub.status).toBe(201);
    await receiver.until((e) => e.length === 1);
    // the dataset is committed before the dispatcher wakes: its answer may or may not arrive before the kill
    await api(a.url, 'POST', '/v1/datasets', dataset('crash-1')).catch(() => undefined);
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(a.output()).toContain('AEGIS_TEST_KILL_AT: killed at events.before-send#2');
    const seq1 = Number((await db.query(`select seq from audit_events where type = 'dataset.registered'`)).rows[0].seq);
    expect(await delivery(seq1)).toEqual({ status: 'pending', attempts: 0 });
    expect(receiver.deliveries).toHaveLength(1);

    // C takes the subscription once A's lease ran out, sends crash-1, and dies before recording it
    const c = await start({ AEGIS_TEST_KILL_AT: 'events.after-send#1' });
    expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(receiver.events().map((e) => e.seq)).toContain(seq1);
    expect(await delivery(seq1)).toEqual({ status: 'pending', attempts: 0 });

    // B sends crash-1 again (at least once), then everything after it
    const b = await start();
    await api(b.url, 'POST', '/v1/datasets', dataset('crash-2'));
    const chain: AuditEvent[] = (await api(b.url, 'GET', '/v1/audit?limit=1000')).body.items.filter(
      (e: AuditEvent) =>
        e.type === 'dataset.registered' ||
        (e.type === 'subscription.created' && e.payload.subscriptionId === sub.body.webhook.subscriptionId),
    );
    const got = await receiver.until((e) => e.length === chain.length);
    expect(got).toEqual(chain);
    expect(receiver.deliveries.filter((d) => d.body.seq === seq1)).toHaveLength(2);
    // recorded just after the receiver answered
    for (let i = 0; i < 100 && (await delivery(seq1)).status === 'pending'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await delivery(seq1)).toEqual({ status: 'delivered', attempts: 1 });
    expect((await api(b.url, 'GET', '/v1/audit/verify')).body.ok).toBe(true);
  });
});

import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { eventStatement } from '../../lib/kernel/audit-chain.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';

let stack: Stack;
const db = () => stack.container.database.db;

async function row(seq: number) {
  return db().selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}
async function restore(original: Awaited<ReturnType<typeof row>>) {
  await db().deleteFrom('audit_events').where('seq', '=', Number(original.seq)).execute();
  await db()
    .insertInto('audit_events')
    .values({ ...original, seq: Number(original.seq) })
    .execute();
}
const verify = async (q = '') => (await stack.api('GET', `/v1/audit/verify${q}`)).body;

beforeAll(async () => {
  stack = await startStack();
  for (let i = 0; i < 4; i++) expect((await uploadAndRegister(stack, 'audited', randomBytes(700 + i))).status).toBe(201);
  await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest' });
});
afterAll(async () => {
  await stack?.stop();
});

describe('audit chain', () => {
  it('records every state change as a signed event, in order, filterable by subject and type', async () => {
    const all = (await stack.api('GET', '/v1/audit?limit=1000')).body.items;
    const types = all.map((e: { type: string }) => e.type);
    expect(types.slice(0, 2)).toEqual(['key.created', 'key.created']); // audit key (self-signed), then manifest key
    expect(types.filter((t: string) => t === 'artifact.registered')).toHaveLength(4);
    expect(types.filter((t: string) => t === 'manifest.signed')).toHaveLength(4);
    expect(types).toContain('dataset.registered');
    expect(types).toContain('token.created');
    expect(types[types.length - 1]).toBe('key.rotated');
    expect(all.map((e: { seq: number }) => e.seq)).toEqual(all.map((_: unknown, i: number) => i + 1));

    const registered = (await stack.api('GET', '/v1/audit?type=artifact.registered&limit=2')).body;
    expect(registered.items).toHaveLength(2);
    expect(registered.nextCursor).toBe(String(registered.items[1].seq));
    const subject = registered.items[0].subject;
    const bySubject = (await stack.api('GET', `/v1/audit?subject=${encodeURIComponent(subject)}`)).body.items;
    expect(bySubject.map((e: { type: string }) => e.type).sort()).toEqual(['artifact.registered', 'manifest.signed']);
    expect((await stack.api('GET', '/v1/audit?type=DROP TABLE')).body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'query.type',
    });
  });

  it('filters by time (since inclusive, until exclusive) and names a bad time or window', async () => {
    const all = (await stack.api('GET', '/v1/audit?limit=1000')).body.items as { seq: number; ts: string }[];
    const mid = all[Math.floor(all.length / 2)]!;
    const q = (s: string) => stack.api('GET', `/v1/audit?limit=1000&${s}`);
    const since = (await q(`since=${encodeURIComponent(mid.ts)}`)).body.items as { seq: number; ts: string }[];
    expect(since.map((e) => e.seq)).toEqual(all.filter((e) => e.ts >= mid.ts).map((e) => e.seq));
    expect(since.map((e) => e.seq)).toContain(mid.seq);
    const until = (await q(`until=${encodeURIComponent(mid.ts)}`)).body.items as { seq: number; ts: string }[];
    expect(until.map((e) => e.seq)).toEqual(all.filter((e) => e.ts < mid.ts).map((e) => e.seq));
    expect(until.map((e) => e.seq)).not.toContain(mid.seq);
    // another offset names the same instant
    const shifted = new Date(Date.parse(mid.ts) + 3_600_000).toISOString().replace('Z', '+01:00');
    expect((await q(`since=${encodeURIComponent(shifted)}`)).body.items).toEqual(since);
    expect((await q('since=yesterday')).body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'query.since' });
    expect((await q(`since=${encodeURIComponent(mid.ts)}&until=${encodeURIComponent(mid.ts)}`)).body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'query.until',
    });
  });

  it('lets only auditors and admins read the log', async () => {
    const publisher = (await stack.api('POST', '/v1/tokens', { principal: 'p', role: 'publisher' })).body.token;
    expect((await stack.api('GET', '/v1/audit', undefined, { token: publisher })).status).toBe(403);
    const auditor = (await stack.api('POST', '/v1/tokens', { principal: 'a', role: 'auditor' })).body.token;
    expect((await stack.api('GET', '/v1/audit', undefined, { token: auditor })).status).toBe(200);
  });

  it('verifies clean, archives, and then agrees with the archive', async () => {
    const archived = (await stack.api('POST', '/v1/audit/archive')).body;
    expect(archived.events).toBeGreaterThan(10);
    expect((await stack.api('POST', '/v1/audit/archive')).body).toMatchObject({
      segments: 0,
      events: 0,
      archivedThrough: archived.archivedThrough,
    });
    const report = await verify();
    expect(report).toMatchObject({ ok: true, parity: 'ok', archivedThrough: archived.archivedThrough, firstBreak: null });
    expect((await verify('?fromArchive=true')).ok).toBe(true);
    expect((await verify('?since=5')).ok).toBe(true);
  });

  it('detects a payload edited in the database at its seq', async () => {
    const original = await row(6);
    await db()
      .updateTable('audit_events')
      .set({ payload: JSON.stringify({ ...JSON.parse(original.payload), injected: true }) })
      .where('seq', '=', 6)
      .execute();
    const r = await verify();
    await restore(original);
    expect(r.firstBreak).toMatchObject({ seq: 6, problem: 'payload-edited' });
    expect((await verify()).ok).toBe(true);
  });

  it('detects an event deleted from the middle', async () => {
    const original = await row(7);
    await db().deleteFrom('audit_events').where('seq', '=', 7).execute();
    const r = await verify();
    await restore(original);
    expect(r.firstBreak).toMatchObject({ seq: 7, problem: 'event-missing' });
  });

  it('detects two events swapped', async () => {
    const a = await row(8);
    const b = await row(9);
    await db().deleteFrom('audit_events').where('seq', 'in', [8, 9]).execute();
    await db()
      .insertInto('audit_events')
      .values([
        { ...a, seq: 9 },
        { ...b, seq: 8 },
      ])
      .execute();
    const r = await verify();
    await db().deleteFrom('audit_events').where('seq', 'in', [8, 9]).execute();
    await db()
      .insertInto('audit_events')
      .values([
        { ...a, seq: 8 },
        { ...b, seq: 9 },
      ])
      .execute();
    expect(r.firstBreak).toMatchObject({ seq: 8, problem: 'events-reordered' });
    expect((await verify()).ok).toBe(true);
  });

  it('detects an event re-signed with a key that is not in the key ring', async () => {
    const original = await row(10);
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = sign(null, eventStatement(10, original.hash.trim()), privateKey).toString('base64');
    await db().updateTable('audit_events').set({ signature: forged, signer_id: 'rogue-auditor' }).where('seq', '=', 10).execute();
    const unknown = await verify();
    await db().updateTable('audit_events').set({ signature: forged, signer_id: original.signer_id }).where('seq', '=', 10).execute();
    const bad = await verify();
    await restore(original);
    expect(unknown.firstBreak).toMatchObject({ seq: 10, problem: 'unknown-signer' });
    expect(bad.firstBreak).toMatchObject({ seq: 10, problem: 'bad-signature' });
    expect((await verify()).ok).toBe(true);
  });

  it('detects a truncated tail against the archive', async () => {
    const head = Number((await db().selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
    const tail = await db()
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', head - 2)
      .orderBy('seq')
      .execute();
    const headRow = await db().selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    await db()
      .deleteFrom('audit_events')
      .where('seq', '>', head - 2)
      .execute();
    await db()
      .updateTable('audit_head')
      .set({ seq: head - 2, hash: tail[0]!.prev_hash })
      .execute();
    const r = await verify();
    await db()
      .insertInto('audit_events')
      .values(tail.map((t) => ({ ...t, seq: Number(t.seq) })))
      .execute();
    await db()
      .updateTable('audit_head')
      .set({ seq: Number(headRow.seq), hash: headRow.hash })
      .execute();
    expect(r.firstBreak).toMatchObject({ seq: head - 1, problem: 'truncated' });
    expect(r.parity).toBe('mismatch');
  });

  it('detects the database and the archive disagreeing about an event', async () => {
    const original = await row(3);
    // the archived copy is the reference: a database row that differs from it is named
    await db().updateTable('audit_events').set({ actor: 'someone-else' }).where('seq', '=', 3).execute();
    const fromArchive = await verify('?fromArchive=true');
    await restore(original);
    expect(fromArchive.ok).toBe(false);
    expect(fromArchive.firstBreak.seq).toBe(3);
    expect(fromArchive.firstBreak.problem).toBe('archive-mismatch');
  });
});

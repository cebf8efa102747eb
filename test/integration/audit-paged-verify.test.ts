/**
 * Audit verification in pages (issue 25): a chain of ~10 pages, broken at page boundaries and
 * inside later pages, reports what verifying the whole chain at once reported (the reference
 * below is the algorithm it replaced), and holds a few pages and segments at once.
 */
import { randomUUID } from 'node:crypto';
import { AegisError } from '../../lib/kernel/errors.js';
import { compareWithArchive, eventStatement, verifyChain, GENESIS_HASH } from '../../lib/kernel/audit-chain.js';
import { systemClock } from '../../lib/platform/ports/clock.js';
import { eventToRow, rowToEvent } from '../../lib/platform/audit/log.js';
import { readSegments, writeSegment } from '../../lib/platform/audit/segments.js';
import { verifyInPages } from '../../lib/platform/audit/paged-verify.js';
import { AuditTrail, type VerifyReport } from '../../lib/platform/audit/trail.js';
import type { ObjectStore } from '../../lib/platform/ports/object-store.js';
import { signedChain } from '../support/audit-chain.js';
import { FakeTimers } from '../support/fake-timers.js';
import { startStack, type Stack } from '../support/local-stack.js';

const PAGE = 25;
const EVENTS = 240; // appended to the stack's own, archived 60 at a time
let stack: Stack;
let paged: AuditTrail;
let head: number;
const db = () => stack.container.database.db;
const store = () => stack.container.auditTrail['archiveStore'] as ObjectStore;
const keyOf = async () => {
  const ring = new Map((await stack.container.keys.list()).map((k) => [k.kid, k]));
  return (kid: string) => ring.get(kid);
};

/** The verification this one replaced: both copies read whole, then verified, then compared (head checkpoints aside). */
async function reference(opts: { fromArchive?: boolean; since?: number }): Promise<Omit<VerifyReport, 'checkpoint'>> {
  const k = await keyOf();
  const since = Math.max(1, opts.since ?? 1);
  const archive = await readSegments(store(), k);
  const rows = await db()
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', '>=', since > 1 ? since - 1 : 1)
    .orderBy('seq')
    .execute();
  const dbEvents = rows.map(rowToEvent);
  const archivedThrough = archive.checkpoints.length ? archive.checkpoints[archive.checkpoints.length - 1]!.checkpoint.seq : null;
  const source = opts.fromArchive ? archive.events.filter((e) => e.seq >= since - 1) : dbEvents;
  const anchorEvent = since > 1 ? source.find((e) => e.seq === since - 1) : undefined;
  if (since > 1 && !anchorEvent) throw new AegisError('VALIDATION_FAILED', `no event ${since - 1} to start from`, { field: 'since' });
  const run = source.filter((e) => e.seq >= since);
  const report = verifyChain(run, k, anchorEvent ? { seq: anchorEvent.seq, hash: anchorEvent.hash } : { seq: 0, hash: GENESIS_HASH });
  const base = { ...report, source: opts.fromArchive ? ('archive' as const) : ('database' as const), archivedThrough };
  if (archive.problem) return { ...base, ok: false, firstBreak: report.firstBreak ?? archive.problem, parity: 'mismatch' };
  if (!report.ok) return { ...base, parity: 'not-checked' };
  const mismatch = compareWithArchive(
    dbEvents.filter((e) => e.seq >= since),
    archive.events.filter((e) => e.seq >= since),
  );
  if (mismatch) return { ...base, ok: false, firstBreak: mismatch, parity: 'mismatch' };
  return { ...base, parity: 'ok' };
}
type Row = Awaited<ReturnType<typeof row>>;

async function row(seq: number) {
  return db().selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
}
async function put(r: Row) {
  await db().deleteFrom('audit_events').where('seq', '=', Number(r.seq)).execute();
  await db()
    .insertInto('audit_events')
    .values({ ...r, seq: Number(r.seq) })
    .execute();
}

/** Every mode the endpoint offers: the paged report equals the reference's, and `expected` when given. */
async function expectSameReports(expected?: Record<string, unknown>) {
  const reports: VerifyReport[] = [];
  for (const opts of [{}, { fromArchive: true }, { since: PAGE + 1 }, { since: 2 * PAGE }, { fromArchive: true, since: 3 * PAGE + 1 }]) {
    const got = await paged.verify(opts);
    expect([opts, got]).toEqual([opts, { ...(await reference(opts)), checkpoint: null }]);
    reports.push(got);
  }
  if (expected) expect(reports[0]).toMatchObject(expected);
  return reports;
}

beforeAll(async () => {
  stack = await startStack({}, { timers: new FakeTimers() });
  const c = stack.container;
  paged = new AuditTrail(c.database, store(), c.keys, systemClock, 1, undefined, PAGE);
  const signer = await c.keys.activeSigner('audit');
  const last = await db().selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
  const events = signedChain(EVENTS, {
    signerId: signer.kid,
    after: { seq: Number(last.seq), hash: last.hash.trim() },
    event: (seq) => ({
      eventId: randomUUID(),
      type: 'dataset.registered',
      actor: 'paged',
      subject: `dataset:p${seq}@1`,
      payload: { n: seq },
      ts: new Date().toISOString(),
    }),
  });
  for (const e of events) e.signature = (await signer.sign(eventStatement(e.seq, e.hash))).toString('base64');
  for (let i = 0; i < events.length; i += 60) {
    await db()
      .insertInto('audit_events')
      .values(events.slice(i, i + 60).map(eventToRow))
      .execute();
    if (i + 60 < events.length) await c.auditTrail.archive();
  }
  head = events[events.length - 1]!.seq;
  await db()
    .updateTable('audit_head')
    .set({ seq: head, hash: events[events.length - 1]!.hash })
    .where('id', '=', 1)
    .execute();
  // the last segment is written by hand: its copy of one event, well inside a later page, differs
  const from = events[events.length - 60]!.seq;
  const batch = events.slice(-60).map((e) => (e.seq === head - 20 ? { ...e, actor: 'someone-else' } : e));
  await writeSegment(store(), signer, { from, batch, retainUntil: new Date(Date.now() + 86_400_000), now: new Date() });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('audit verification in pages', () => {
  it('is the report of the whole chain: an archived copy differing inside a later page is named', async () => {
    expect(head).toBeGreaterThan(9 * PAGE);
    const [db, fromArchive] = await expectSameReports({
      ok: false,
      checked: head,
      headSeq: head,
      archivedThrough: head,
      parity: 'mismatch',
      firstBreak: {
        seq: head - 20,
        problem: 'archive-mismatch',
        detail: `event ${head - 20} differs between the database and the archive`,
      },
    });
    expect(db!.source).toBe('database');
    // verifying the archive's own chain finds its copy edited
    expect(fromArchive).toMatchObject({ ok: false, checked: head - 21, firstBreak: { seq: head - 20, problem: 'payload-edited' } });
  });

  it('names the first event of a page altered, and the last event of a page removed', async () => {
    const first = await row(4 * PAGE + 1);
    await db()
      .updateTable('audit_events')
      .set({ payload: JSON.stringify({ ...JSON.parse(first.payload), injected: true }) })
      .where('seq', '=', 4 * PAGE + 1)
      .execute();
    try {
      await expectSameReports({
        ok: false,
        checked: 4 * PAGE,
        parity: 'not-checked',
        firstBreak: { seq: 4 * PAGE + 1, problem: 'payload-edited' },
      });
    } finally {
      await put(first);
    }
    const last = await row(6 * PAGE);
    await db()
      .deleteFrom('audit_events')
      .where('seq', '=', 6 * PAGE)
      .execute();
    try {
      await expectSameReports({
        ok: false,
        checked: 6 * PAGE - 1,
        firstBreak: {
          seq: 6 * PAGE,
          problem: 'event-missing',
          detail: `seq ${6 * PAGE} missing: the next event present is ${6 * PAGE + 1}`,
        },
      });
    } finally {
      await put(last);
    }
  });

  it('tells events swapped across a page boundary (reordered) from a link broken there', async () => {
    const [a, b] = [await row(5 * PAGE), await row(5 * PAGE + 1)];
    await db()
      .deleteFrom('audit_events')
      .where('seq', 'in', [5 * PAGE, 5 * PAGE + 1])
      .execute();
    await db()
      .insertInto('audit_events')
      .values([
        { ...a, seq: 5 * PAGE + 1 },
        { ...b, seq: 5 * PAGE },
      ])
      .execute();
    try {
      await expectSameReports({ ok: false, checked: 5 * PAGE - 1, firstBreak: { seq: 5 * PAGE, problem: 'events-reordered' } });
    } finally {
      await db()
        .deleteFrom('audit_events')
        .where('seq', 'in', [5 * PAGE, 5 * PAGE + 1])
        .execute();
      await put(a);
      await put(b);
    }
    const c = await row(7 * PAGE + 1);
    await db()
      .updateTable('audit_events')
      .set({ prev_hash: 'f'.repeat(64) })
      .where('seq', '=', 7 * PAGE + 1)
      .execute();
    try {
      await expectSameReports({ ok: false, checked: 7 * PAGE, firstBreak: { seq: 7 * PAGE + 1, problem: 'chain-broken' } });
    } finally {
      await put(c);
    }
  });

  it('names a tail truncated across pages against the archive', async () => {
    const tail = await db()
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', head - 3 * PAGE)
      .execute();
    await db()
      .deleteFrom('audit_events')
      .where('seq', '>', head - 3 * PAGE)
      .execute();
    try {
      await expectSameReports({
        ok: false,
        checked: head - 3 * PAGE,
        parity: 'mismatch',
        firstBreak: { seq: head - 3 * PAGE + 1, problem: 'truncated' },
      });
    } finally {
      for (const r of tail) await put(r);
    }
    await expect(paged.verify({ since: head + 2 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'since' });
    await expect(paged.verify({ since: head + 2, fromArchive: true })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'since' });
  });

  it('holds at most two pages and two segments of events at once', async () => {
    let held = 0;
    let peak = 0;
    const largest = Math.max(
      ...(await readSegments(store(), await keyOf())).checkpoints.map((c) => c.checkpoint.seq - c.checkpoint.fromSeq + 1),
    );
    for (const fromArchive of [false, true]) {
      held = peak = 0;
      const r = await verifyInPages({
        database: stack.container.database,
        archiveStore: store(),
        keyOf: await keyOf(),
        since: 1,
        fromArchive,
        pageSize: PAGE,
        onHold: (n) => {
          held += n;
          peak = Math.max(peak, held);
        },
      });
      // the archive's copy of head - 20 is the edited one
      expect(r.chain.checked).toBe(fromArchive ? head - 21 : head);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThanOrEqual(2 * PAGE + 2 * largest);
    }
    expect(largest).toBeLessThan(head / 3);
  });
});

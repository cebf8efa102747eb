import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import { loadCheckedConfig } from '../../lib/platform/config.js';
import { HEADS_PREFIX, headKey, readNewestHead } from '../../lib/platform/audit/head.js';
import { HeadCheckpointRefused } from '../../lib/platform/audit/trail.js';
import { FakeTimers } from '../support/fake-timers.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';

/**
 * Signed head checkpoints (issue 9): deleting the newest, not yet archived, events together
 * with the `audit_head` row is caught once a checkpoint signed them. Timers are fired by
 * hand (FakeTimers), never waited for.
 */
const EVERY = 60_000; // AEGIS_AUDIT_CHECKPOINT_SECONDS default

const db = (s: Stack) => s.container.database.db;
const verify = async (s: Stack) => (await s.api('GET', '/v1/audit/verify')).body;
const headSeq = async (s: Stack) =>
  Number((await db(s).selectFrom('audit_events').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq);
let n = 0;
const newEvent = async (s: Stack) =>
  expect(
    (await s.api('POST', '/v1/datasets', { id: `cp-${n++}`, version: '1', checksum: `sha256:${'ab'.repeat(32)}`, uri: 'file:///x' }))
      .status,
  ).toBe(201);
const headKeys = async (s: Stack) => {
  const keys: string[] = [];
  for await (const o of s.container.auditTrail['archiveStore'].list(HEADS_PREFIX)) keys.push(o.key);
  return keys;
};

/** The attack: delete every event after `keep` and point the head row at it, as a database owner can. */
async function truncateTo(s: Stack, keep: number) {
  const rows = await db(s).selectFrom('audit_events').selectAll().where('seq', '>', keep).orderBy('seq').execute();
  const kept = await db(s).selectFrom('audit_events').select('hash').where('seq', '=', keep).executeTakeFirstOrThrow();
  const head = await db(s).selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
  await db(s).deleteFrom('audit_events').where('seq', '>', keep).execute();
  await db(s).updateTable('audit_head').set({ seq: keep, hash: kept.hash }).execute();
  return async () => {
    await db(s)
      .insertInto('audit_events')
      .values(rows.map((r) => ({ ...r, seq: Number(r.seq) })))
      .execute();
    await db(s)
      .updateTable('audit_head')
      .set({ seq: Number(head.seq), hash: head.hash })
      .execute();
  };
}

describe('signed audit head checkpoints', () => {
  let stack: Stack;
  let timers: FakeTimers;
  beforeAll(async () => {
    timers = new FakeTimers();
    stack = await startStack({}, { timers });
    for (let i = 0; i < 3; i++) await newEvent(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Fires the checkpoint job's timer and waits for the run it started. */
  async function fireCheckpoint() {
    expect(timers.fire(EVERY)).toBe(1);
    return stack.container.scheduler.run('audit-checkpoint') as Promise<{ written: boolean; seq: number | null; key: string | null }>;
  }

  it('misses the newest events deleted with the head row while no checkpoint covers them (the window that remains)', async () => {
    expect(await headKeys(stack)).toEqual([]);
    const head = await headSeq(stack);
    const undo = await truncateTo(stack, head - 2);
    const r = await verify(stack);
    await undo();
    expect(r).toMatchObject({ ok: true, headSeq: head - 2, checkpoint: null });
  });

  it('signs the head on its timer, only when the head moved, newest first in key order', async () => {
    const head = await headSeq(stack);
    expect(await fireCheckpoint()).toEqual({ written: true, seq: head, key: headKey(head) });
    expect(await fireCheckpoint()).toEqual({ written: false, seq: head, key: headKey(head) });
    expect(await headKeys(stack)).toEqual([headKey(head)]);
    await newEvent(stack);
    expect(await fireCheckpoint()).toMatchObject({ written: true, seq: head + 1 });
    expect(await headKeys(stack)).toEqual([headKey(head + 1), headKey(head)]);
    const ring = new Map((await stack.container.keys.list()).map((k) => [k.kid, k]));
    const newest = await readNewestHead(stack.container.auditTrail['archiveStore'], (kid) => ring.get(kid));
    const event = await db(stack)
      .selectFrom('audit_events')
      .select(['hash'])
      .where('seq', '=', head + 1)
      .executeTakeFirstOrThrow();
    expect(newest).toMatchObject({
      invalid: [],
      newest: {
        key: headKey(head + 1),
        checkpoint: { type: 'aegis.audit-head/v1', seq: head + 1, hash: event.hash, signerId: 'audit-signer-v1' },
      },
    });
    // under Object-Lock retention, like the archive segments
    const info = await stack.container.auditTrail['archiveStore'].head(headKey(head + 1));
    expect(info!.retainUntil!.getTime()).toBeGreaterThan(Date.now() + 2000 * 86_400_000);
    expect(await verify(stack)).toMatchObject({ ok: true, checkpoint: { seq: head + 1, hash: event.hash, key: headKey(head + 1) } });
  });

  it('fails verification (API and CLI) naming the checkpoint when the newest events and the head row are deleted after it', async () => {
    const head = await headSeq(stack);
    expect((await verify(stack)).checkpoint.seq).toBe(head);
    const undo = await truncateTo(stack, head - 2);
    const r = await verify(stack);
    const cli = await aegisCli(['audit-verify'], { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '' });
    // the job refuses to sign the truncated chain
    const refused = await stack.container.auditTrail.checkpointHead().catch((e: unknown) => e);
    await undo();
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toEqual({
      seq: head,
      problem: 'behind-checkpoint',
      detail: expect.stringMatching(
        new RegExp(`names seq ${head}, but the database ends at ${head - 2}: event\\(s\\) ${head - 1}\\.\\.${head} were removed`),
      ),
    });
    expect(r.firstBreak.detail).toContain(headKey(head));
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(`BROKEN at seq ${head}: behind-checkpoint`);
    expect(cli.stdout).toContain(`head checkpoint seq ${head}`);
    expect(refused).toBeInstanceOf(HeadCheckpointRefused);
    expect(await verify(stack)).toMatchObject({ ok: true, checkpoint: { seq: head } });
  });

  it('fails verification when the events through the checkpoint were replaced by a chain that verifies on its own, and stops checkpointing', async () => {
    const head = await headSeq(stack);
    await truncateTo(stack, head - 1); // never undone: this stack's chain is forked from here on
    await newEvent(stack); // the server appends a new, validly signed event at seq `head`
    await newEvent(stack);
    const r = await verify(stack);
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ seq: head, problem: 'checkpoint-mismatch' });
    expect(r.firstBreak.detail).toMatch(
      new RegExp(`event ${head} in the database has hash [0-9a-f]{12}…, but the head checkpoint signed at .* names [0-9a-f]{12}…`),
    );
    await expect(fireCheckpoint()).rejects.toThrow(
      new RegExp(`refusing to checkpoint the audit head: event ${head} in the database has hash`),
    );
    expect(await headKeys(stack)).toHaveLength(2);
  });
});

describe('head checkpoint objects', () => {
  let stack: Stack;
  let timers: FakeTimers;
  beforeAll(async () => {
    timers = new FakeTimers();
    stack = await startStack({ AEGIS_AUDIT_CHECKPOINT_SECONDS: '5' }, { timers });
    await newEvent(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs on the AEGIS_AUDIT_CHECKPOINT_SECONDS timer (default 60, refused outside 1..3600)', async () => {
    expect(timers.fire(EVERY)).toBe(0);
    expect(timers.fire(5000)).toBe(1);
    const head = await headSeq(stack);
    expect(await stack.container.scheduler.run('audit-checkpoint')).toEqual({ written: true, seq: head, key: headKey(head) });
    expect(await headKeys(stack)).toEqual([headKey(head)]);
    expect(loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true' }).auditCheckpointSeconds).toBe(60);
    expect(() => loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_AUDIT_CHECKPOINT_SECONDS: '0' })).toThrow(
      /AEGIS_AUDIT_CHECKPOINT_SECONDS/,
    );
    expect(() => loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_AUDIT_CHECKPOINT_SECONDS: '3601' })).toThrow(
      /AEGIS_AUDIT_CHECKPOINT_SECONDS/,
    );
  });

  it('reports a checkpoint with a bad signature, and a valid one copied under a newer key, as invalid', async () => {
    const store = stack.container.auditTrail['archiveStore'];
    await newEvent(stack);
    const written = await stack.container.auditTrail.checkpointHead();
    expect(written.written).toBe(true);
    const head = written.seq!;
    expect((await verify(stack)).ok).toBe(true);
    let text = '';
    for await (const c of await store.get(headKey(head))) text += c;
    // a valid checkpoint copied under a newer key must not hide the real newest one
    await store.put(headKey(head + 50), text);
    let r = await verify(stack);
    expect(r.ok).toBe(false);
    expect(r.firstBreak).toMatchObject({ seq: head + 50, problem: 'checkpoint-invalid' });
    expect(r.firstBreak.detail).toContain(`holds the checkpoint of seq ${head}`);
    expect(r.checkpoint.seq).toBe(head);
    // a head further ahead, its signature taken from another
    const signed = JSON.parse(text);
    await store.put(headKey(head + 100), canonicalJson({ ...signed, checkpoint: { ...signed.checkpoint, seq: head + 100 } }));
    r = await verify(stack);
    expect(r.firstBreak).toMatchObject({ seq: head + 100, problem: 'checkpoint-invalid' });
    expect(r.firstBreak.detail).toMatch(/signature does not verify under audit-signer-v1 \(and 1 more invalid head checkpoint\(s\)\)$/);
    // the job still signs the real head past the invalid objects
    await newEvent(stack);
    expect(await stack.container.auditTrail.checkpointHead()).toMatchObject({ written: true, seq: head + 1 });
  });
});

describe('the shutdown checkpoint', () => {
  it('signs the head when the local server stops, after the last archive run', async () => {
    const stack = await startStack({}, { timers: new FakeTimers() });
    try {
      await newEvent(stack);
      const head = await headSeq(stack);
      const ring = new Map((await stack.container.keys.list()).map((k) => [k.kid, k]));
      expect(await headKeys(stack)).toEqual([]);
      await stack.close();
      const archive = new FsObjectStore({ root: join(stack.dataDir, 'audit-archive') });
      const newest = await readNewestHead(archive, (kid) => ring.get(kid));
      expect(newest).toMatchObject({ invalid: [], newest: { key: headKey(head), checkpoint: { seq: head } } });
    } finally {
      await rm(stack.dataDir, { recursive: true, force: true });
    }
  });
});

/**
 * Group commit (lib/platform/audit/group-commit.ts) on PGlite and on a PostgreSQL server:
 * changes that arrive while a batch commits share the next transaction; each writes under its
 * own savepoint and fails alone; a failed check fails its change and the others commit in the
 * next batch; every change is settled only once its transaction has ended; the chain stays
 * one unbroken, verifiable sequence. Changes here insert a `models` row (a unique name) and
 * append a `model.team.set` event, through the real AuditLog and key service.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Transaction } from 'kysely';
import { EVENT_CATALOGUE } from '../../lib/modules/catalogue.js';
import { auditSigning, KeyService } from '../../lib/modules/keys/service.js';
import { verifyChain } from '../../lib/kernel/audit-chain.js';
import { FileKeyProvider } from '../../lib/platform/adapters/signing/file.js';
import { PgDatabase } from '../../lib/platform/adapters/sql/pg.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { GroupCommit, MAX_CONFLICTS, type Change } from '../../lib/platform/audit/group-commit.js';
import { AuditLog, rowToEvent } from '../../lib/platform/audit/log.js';
import { systemClock } from '../../lib/platform/ports/clock.js';
import type { Database } from '../../lib/platform/ports/database.js';
import { bound } from '../../lib/platform/tracing/traced-port.js';
import { isUniqueViolation, sqlState } from '../../lib/platform/sql/errors.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import type { DB } from '../../lib/platform/sql/schema.js';
import { createTestDatabase } from '../support/postgres.js';
import { describeUnless, NO_POSTGRES } from '../support/unavailable.js';

// probed before the suites are defined: absent only outside CI, and then reported skipped
const testDb = await createTestDatabase();

const backends: [string, () => Promise<Database>, string | undefined][] = [
  ['PGlite', () => PgliteDatabase.open(), undefined],
  ['PostgreSQL server', async () => new PgDatabase(testDb!.url), testDb ? undefined : NO_POSTGRES],
];

afterAll(async () => {
  await testDb?.drop();
});

describe.each(backends)('group commit on %s', (_name, open, skip) => {
  describeUnless(skip, 'batches', () => {
    let database: Database;
    let audit: AuditLog;
    let keys: KeyService;
    let dir: string;
    /** transactions begun on the database, and those begun and not yet ended (committed or rolled back) */
    let transactions = 0;
    let unended = 0;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'aegis-group-'));
      const opened = await open();
      await migrateToLatest(opened.db);
      // the database, counting the transactions begun on it and those not yet ended
      const begin = (target: typeof opened.db) => {
        transactions++;
        const builder = target.transaction();
        return {
          execute: async <T>(fn: (tx: Transaction<DB>) => Promise<T>) => {
            unended++;
            try {
              return await builder.execute(fn);
            } finally {
              unended--;
            }
          },
        };
      };
      const db = new Proxy(opened.db, { get: (target, p) => (p === 'transaction' ? () => begin(target) : bound(target, p)) });
      database = { db, kind: opened.kind, close: () => opened.close() };
      audit = new AuditLog(
        auditSigning(() => keys),
        systemClock,
        EVENT_CATALOGUE,
      );
      keys = new KeyService(database, new FileKeyProvider({ dir: join(dir, 'keys') }), systemClock, audit);
      await keys.ensureActive('audit', 'audit-signer-v1');
    });
    afterAll(async () => {
      await database?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const headSeq = async () => Number((await database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);
    const modelsNamed = async (names: string[]) =>
      (await database.db.selectFrom('models').select('name').where('name', 'in', names).orderBy('name').execute()).map((r) => r.name);
    /** The events after `seq`, checked as the chain's verifier checks them. */
    async function eventsAfter(seq: number) {
      const rows = await database.db.selectFrom('audit_events').selectAll().where('seq', '>', seq).orderBy('seq').execute();
      const events = rows.map(rowToEvent);
      const ring = new Map((await keys.list()).map((k) => [k.kid, k]));
      const anchor = await database.db.selectFrom('audit_events').select(['seq', 'hash']).where('seq', '=', seq).executeTakeFirst();
      const report = verifyChain(events, (kid) => ring.get(kid), anchor && { seq, hash: anchor.hash.trim() });
      expect(report).toMatchObject({ ok: true, firstBreak: null });
      return events;
    }

    /** A change inserting model `name` and appending its `model.team.set`; `hold` delays its write until it resolves. */
    function model(name: string, opts: { hold?: Promise<void>; check?: () => Promise<void>; onWrite?: () => void } = {}): Change<string> {
      return {
        lockOrder: name,
        write: async (tx: Transaction<DB>) => {
          opts.onWrite?.();
          await opts.hold;
          await tx.insertInto('models').values({ name, latest_version: 0, created_by: 't', created_at: new Date() }).execute();
          return {
            value: name,
            events: [
              { type: 'model.team.set', actor: 't', subject: `model:${name}`, payload: { model: name, team: null, previous: null } },
            ],
          };
        },
        ...(opts.check && { check: opts.check }),
      };
    }

    /** Runs `first` alone, holding its write until `later` (run meanwhile) have all queued behind it. */
    async function behindOne(
      group: GroupCommit,
      first: string,
      later: Change<string>[],
      observe?: (i: number, settling: Promise<string>) => void,
    ): Promise<PromiseSettledResult<string>[]> {
      let release!: () => void;
      let writing!: () => void;
      const started = new Promise<void>((r) => (writing = r));
      const lead = group.run(model(first, { hold: new Promise<void>((r) => (release = r)), onWrite: () => writing() }));
      await started;
      const rest = later.map((c, i) => {
        const settling = group.run(c);
        observe?.(i, settling);
        return settling;
      });
      release();
      return Promise.allSettled([lead, ...rest]);
    }

    it('commits the changes queued behind a batch in one transaction, in lock order, one unbroken chain', async () => {
      const group = new GroupCommit(database, audit);
      const before = await headSeq();
      const t0 = transactions;
      const names = ['gc-e', 'gc-b', 'gc-d', 'gc-a', 'gc-c'];
      const settled = await behindOne(
        group,
        'gc-0',
        names.map((n) => model(n)),
      );
      expect(settled.map((s) => s.status)).toEqual(Array(6).fill('fulfilled'));
      expect(settled.map((s) => (s as PromiseFulfilledResult<string>).value)).toEqual(['gc-0', ...names]);
      // the first alone, the five queued behind it together
      expect(transactions - t0).toBe(2);
      const events = await eventsAfter(before);
      expect(events.map((e) => e.subject)).toEqual(['gc-0', 'gc-a', 'gc-b', 'gc-c', 'gc-d', 'gc-e'].map((n) => `model:${n}`));
      expect(await modelsNamed(['gc-0', ...names])).toEqual(['gc-0', 'gc-a', 'gc-b', 'gc-c', 'gc-d', 'gc-e']);
    });

    it('fails a change whose write fails alone, the rest of its batch committed; settled once the winner is visible', async () => {
      const group = new GroupCommit(database, audit);
      const before = await headSeq();
      // when the loser learns of its failure: how many transactions are still open, and what it finds outside the batch
      const seen: { unended: number; found: Promise<string[]> }[] = [];
      // gc-dup twice in one batch: the second insert fails on the first's unique name
      const settled = await behindOne(group, 'gc-lead', [model('gc-f'), model('gc-dup'), model('gc-dup'), model('gc-g')], (_i, p) =>
        p.catch(() => seen.push({ unended, found: modelsNamed(['gc-dup']) })),
      );
      const failure = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
      expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
      expect(isUniqueViolation(failure.reason)).toBe(true);
      // told once the batch had committed: the winner is visible to it, on another connection too
      expect(seen.map((s) => s.unended)).toEqual([0]);
      expect(await seen[0]!.found).toEqual(['gc-dup']);
      const events = await eventsAfter(before);
      expect(events.map((e) => e.subject)).toEqual(['gc-lead', 'gc-dup', 'gc-f', 'gc-g'].map((n) => `model:${n}`));
    });

    it('fails a change whose check fails, commits the others in the next batch', async () => {
      const group = new GroupCommit(database, audit);
      const before = await headSeq();
      const t0 = transactions;
      const refused = new Error('signer retired');
      const checks: string[] = [];
      const checked =
        (name: string, fail = false) =>
        async () => {
          checks.push(name);
          if (fail) throw refused;
        };
      const settled = await behindOne(group, 'gc-h', [
        model('gc-i', { check: checked('gc-i') }),
        model('gc-j', { check: checked('gc-j', true) }),
        model('gc-k', { check: checked('gc-k') }),
      ]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect((settled[2] as PromiseRejectedResult).reason).toBe(refused);
      // the batch of three rolled back; the two others made again, together
      expect(transactions - t0).toBe(3);
      expect(checks).toEqual(['gc-i', 'gc-j', 'gc-k', 'gc-i', 'gc-k']);
      expect(await modelsNamed(['gc-h', 'gc-i', 'gc-j', 'gc-k'])).toEqual(['gc-h', 'gc-i', 'gc-k']);
      expect((await eventsAfter(before)).map((e) => e.subject)).toEqual(['gc-h', 'gc-i', 'gc-k'].map((n) => `model:${n}`));
    });

    it('fails a change whose events the catalogue refuses alone, the rest of its batch committed', async () => {
      const group = new GroupCommit(database, audit);
      const before = await headSeq();
      const bad: Change<string> = {
        lockOrder: 'gc-bad',
        write: async (tx) => {
          await tx.insertInto('models').values({ name: 'gc-bad', latest_version: 0, created_by: 't', created_at: new Date() }).execute();
          // not the catalogue's payload for its type
          return {
            value: 'gc-bad',
            events: [{ type: 'model.team.set', actor: 't', subject: 'model:gc-bad', payload: { model: 'gc-bad' } }],
          };
        },
      };
      const settled = await behindOne(group, 'gc-m', [model('gc-n'), bad]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(/model\.team\.set/);
      expect(await modelsNamed(['gc-m', 'gc-n', 'gc-bad'])).toEqual(['gc-m', 'gc-n']);
      expect((await eventsAfter(before)).map((e) => e.subject)).toEqual(['model:gc-m', 'model:gc-n']);
    });

    it('fails every change of a batch whose transaction fails, writing nothing of it', async () => {
      const group = new GroupCommit(database, audit);
      const before = await headSeq();
      // a change that swallows its own statement's error leaves the transaction aborted: what follows it fails
      const poisoning: Change<string> = {
        lockOrder: 'gc-p',
        write: async (tx) => {
          await sql`select 1/0`.execute(tx).catch(() => undefined);
          return { value: 'gc-p', events: [] };
        },
      };
      const settled = await behindOne(group, 'gc-o', [model('gc-q'), poisoning, model('gc-r')]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
      const reasons = settled.slice(1).map((s) => (s as PromiseRejectedResult).reason as Error);
      expect(new Set(reasons).size).toBe(1);
      expect(reasons[0]!.message).toMatch(/aborted/);
      expect(await modelsNamed(['gc-o', 'gc-q', 'gc-r'])).toEqual(['gc-o']);
      expect((await eventsAfter(before)).map((e) => e.subject)).toEqual(['model:gc-o']);
      // the group goes on committing
      await expect(group.run(model('gc-s'))).resolves.toBe('gc-s');
    });

    it('makes a change that met a conflict again, alone and in a batch, until it has met MAX_CONFLICTS of them', async () => {
      const group = new GroupCommit(database, audit);
      const before = await headSeq();
      /** a change whose first `conflicts` writes fail as PostgreSQL's deadlock detector fails one of two transactions */
      const conflicting = (name: string, conflicts: number) => {
        const writes = { count: 0 };
        const inner = model(name);
        const change: Change<string> = {
          ...inner,
          write: async (tx, lockHead) => {
            if (++writes.count <= conflicts)
              await sql`do $$ begin raise exception 'deadlock detected' using errcode = '40P01'; end $$`.execute(tx);
            return inner.write(tx, lockHead);
          },
        };
        return { change, writes };
      };
      // alone: the transaction fails as a whole, and is made again
      const alone = conflicting('gc-dl-a', MAX_CONFLICTS - 1);
      await expect(group.run(alone.change)).resolves.toBe('gc-dl-a');
      expect(alone.writes.count).toBe(MAX_CONFLICTS);
      // in a batch: the change's savepoint is rolled back, the others commit, and it is made again in the next batch
      const inBatch = conflicting('gc-dl-c', 1);
      const settled = await behindOne(group, 'gc-dl-lead', [model('gc-dl-b'), inBatch.change, model('gc-dl-d')]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect(inBatch.writes.count).toBe(2);
      // one conflict too many: it fails with the database's error, nothing of it written
      const exhausted = conflicting('gc-dl-e', MAX_CONFLICTS);
      const failure = await group.run(exhausted.change).catch((e: unknown) => e);
      expect(sqlState(failure)).toBe('40P01');
      expect(exhausted.writes.count).toBe(MAX_CONFLICTS);
      expect(await modelsNamed(['gc-dl-a', 'gc-dl-b', 'gc-dl-c', 'gc-dl-d', 'gc-dl-e'])).toEqual([
        'gc-dl-a',
        'gc-dl-b',
        'gc-dl-c',
        'gc-dl-d',
      ]);
      expect((await eventsAfter(before)).map((e) => e.subject)).toEqual(
        ['gc-dl-a', 'gc-dl-lead', 'gc-dl-b', 'gc-dl-d', 'gc-dl-c'].map((n) => `model:${n}`),
      );
    });

    it('runs each batch in the async context of its first change, not in that of the change that started committing', async () => {
      const group = new GroupCommit(database, audit);
      const request = new AsyncLocalStorage<string>();
      const seen: [string, string | undefined][] = [];
      const traced = (name: string, hold?: Promise<void>, onWrite?: () => void): Change<string> => {
        const inner = model(name, { ...(hold && { hold }), ...(onWrite && { onWrite }) });
        return { ...inner, write: async (tx, lockHead) => (seen.push([name, request.getStore()]), inner.write(tx, lockHead)) };
      };
      let release!: () => void;
      let writing!: () => void;
      const started = new Promise<void>((r) => (writing = r));
      const hold = new Promise<void>((r) => (release = r));
      const lead = request.run('request gc-ctx-0', () => group.run(traced('gc-ctx-0', hold, () => writing())));
      await started;
      const rest = ['gc-ctx-2', 'gc-ctx-1'].map((n) => request.run(`request ${n}`, () => group.run(traced(n))));
      release();
      await Promise.all([lead, ...rest]);
      expect(seen).toEqual([
        ['gc-ctx-0', 'request gc-ctx-0'],
        ['gc-ctx-1', 'request gc-ctx-1'],
        ['gc-ctx-2', 'request gc-ctx-1'],
      ]);
    });

    it('keeps one gapless chain under 40 concurrent changes, in fewer transactions than changes', async () => {
      const group = new GroupCommit(database, audit, 8);
      const before = await headSeq();
      const t0 = transactions;
      const names = Array.from({ length: 40 }, (_, i) => `gc-many-${String(i).padStart(2, '0')}`);
      expect(await Promise.all(names.map((n) => group.run(model(n))))).toEqual(names);
      const events = await eventsAfter(before);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => before + 1 + i));
      expect(new Set(events.map((e) => e.subject)).size).toBe(40);
      expect(transactions - t0).toBeLessThan(40);
      expect(transactions - t0).toBeGreaterThanOrEqual(5);
    });
  });
});

/**
 * The parity of the database's audit events with the archive's: compared field by field
 * (hash, signature, signer, link, content) without re-serialising either copy, and as strict
 * as comparing their canonical JSON was.
 */
import { randomInt } from 'node:crypto';
import { compareWithArchive, verifyChain, type AuditEvent } from '../../lib/kernel/audit-chain.js';
import { canonicalJson, jsonEqual } from '../../lib/kernel/canonical.js';
import { auditKeyPair, signedChain } from '../support/audit-chain.js';

const { privateKey, record } = auditKeyPair('audit-1');

const chain = (n: number): AuditEvent[] =>
  signedChain(n, {
    signerId: record.kid,
    privateKey,
    event: (seq) => ({
      eventId: `e${seq}`,
      type: 'artifact.registered',
      actor: 'alice',
      subject: `artifact:${seq}`,
      payload: { model: 'm', version: seq, tags: ['a', 'b'], nested: { x: 1, y: null } },
      ts: '2026-11-22T00:00:00.000Z',
    }),
  });

/** A deep copy, as the other store would hold it (keys in another order). */
const copy = (events: AuditEvent[]): AuditEvent[] =>
  events.map((e) => JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(e).reverse()))) as AuditEvent);

describe('jsonEqual', () => {
  it.each([
    [{ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }, true],
    [[1, 2], [2, 1], false],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: 1, b: 2 }, { a: 1 }, false],
    [{ a: 1, b: undefined }, { a: 1 }, true],
    [{ a: 1 }, { a: '1' }, false],
    [{ a: null }, { a: {} }, false],
    [{ 0: 1 }, [1], false],
    [[], {}, false],
    [0, -0, true],
    ['é', 'e\u0301', false],
  ])('jsonEqual(%j, %j) is %s', (a, b, want) => {
    expect(jsonEqual(a, b)).toBe(want);
    expect(jsonEqual(b, a)).toBe(want);
  });

  it('agrees with comparing canonical JSON on random values and random one-point edits', () => {
    const leaf = () => [null, true, false, randomInt(4), 'x', 'y', 0.5, ''][randomInt(8)];
    const value = (depth: number): unknown => {
      if (depth === 0 || randomInt(3) === 0) return leaf();
      if (randomInt(2) === 0) return Array.from({ length: randomInt(4) }, () => value(depth - 1));
      return Object.fromEntries(Array.from({ length: randomInt(4) }, () => [['a', 'b', 'c', 'd'][randomInt(4)]!, value(depth - 1)]));
    };
    const edit = (v: unknown): unknown => {
      if (v === null || typeof v !== 'object' || randomInt(4) === 0) return leaf();
      const c = (Array.isArray(v) ? [...v] : { ...v }) as Record<string, unknown>;
      const keys = Object.keys(c);
      if (keys.length === 0) return leaf();
      const k = keys[randomInt(keys.length)]!;
      c[k] = edit(c[k]);
      return c;
    };
    let differing = 0;
    for (let i = 0; i < 2000; i++) {
      const a = value(4);
      const b = randomInt(2) === 0 ? JSON.parse(JSON.stringify(a)) : edit(a);
      const same = canonicalJson(a) === canonicalJson(b);
      if (!same) differing++;
      expect([i, jsonEqual(a, b)]).toEqual([i, same]);
    }
    expect(differing).toBeGreaterThan(100);
  });
});

describe('compareWithArchive', () => {
  it('finds equal copies equal whatever their key order', () => {
    const db = chain(5);
    expect(compareWithArchive(db, copy(db))).toBeNull();
  });

  it.each<[string, (e: AuditEvent) => AuditEvent]>([
    ['an edited field the hash covers, the stored hash kept', (e) => ({ ...e, actor: 'mallory' })],
    ['an edited payload, the stored hash kept', (e) => ({ ...e, payload: { ...e.payload, version: 99 } })],
    ['another signature (outside the hash)', (e) => ({ ...e, signature: chain(4)[0]!.signature })],
    ['another signer id (outside the hash)', (e) => ({ ...e, signerId: 'audit-2' })],
    ['an extra field', (e) => ({ ...e, note: 'added' }) as AuditEvent],
    ['a missing field', ({ subject: _s, ...e }) => e as AuditEvent],
  ])('names the event whose other copy has %s', (_what, change) => {
    const db = chain(5);
    const archived = copy(db);
    archived[2] = change(archived[2]!);
    expect(compareWithArchive(db, archived)).toEqual({
      seq: 3,
      problem: 'archive-mismatch',
      detail: 'event 3 differs between the database and the archive',
    });
    // the unverified copy differs though its stored hash is the verified one's: only the
    // content comparison sees it
    expect(verifyChain(db, () => record).ok).toBe(true);
  });

  it('names an archived event the database lacks, and a truncated database', () => {
    const archived = chain(5);
    expect(compareWithArchive([...archived.slice(0, 2), ...archived.slice(3)], archived)).toMatchObject({
      seq: 3,
      problem: 'event-missing',
    });
    expect(compareWithArchive(archived.slice(0, 3), archived)).toMatchObject({ seq: 4, problem: 'truncated' });
  });
});

describe('verifyChain link errors', () => {
  it('tells reordered events from a broken link', () => {
    const events = chain(4);
    expect(
      verifyChain(
        [events[0]!, events[2]!, events[1]!, events[3]!].map((e, i) => ({ ...e, seq: i + 1 })),
        () => record,
      ).firstBreak,
    ).toMatchObject({
      seq: 2,
      problem: 'events-reordered',
    });
    expect(
      verifyChain([events[0]!, { ...events[1]!, prevHash: 'f'.repeat(64) }, ...events.slice(2)], () => record).firstBreak,
    ).toMatchObject({
      seq: 2,
      problem: 'chain-broken',
    });
  });
});

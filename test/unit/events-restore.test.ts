import type { AuditEvent } from '../../lib/kernel/audit-chain.js';
import { filterOf, parseFilters } from '../../lib/modules/events/domain.js';
import { EventRestore, RESTORES } from '../../lib/modules/events/restore.js';
import type { RestoreLog } from '../../lib/modules/restore.js';

const ts = (seq: number) => `2026-11-30T00:00:0${seq}.000Z`;
/** the payload dated as the service dates it: the moment of the change, the event's own time here */
const dated = (seq: number, type: string, payload: Record<string, unknown>) =>
  type === 'subscription.created'
    ? { createdAt: ts(seq), ...payload }
    : type === 'subscription.deleted'
      ? { deletedAt: ts(seq), ...payload }
      : payload;
const event = (seq: number, type: string, payload: Record<string, unknown>): AuditEvent => ({
  seq,
  eventId: `e${seq}`,
  type,
  actor: 'alice',
  subject: `subscription:${String(payload.subscriptionId)}`,
  payload: dated(seq, type, payload),
  ts: ts(seq),
  prevHash: '0'.repeat(64),
  hash: '1'.repeat(64),
  signature: 'sig',
  signerId: 'audit-signer-v1',
});
const created = (id: string, events: string[], extra: Record<string, unknown> = {}) => ({
  subscriptionId: id,
  kind: 'webhook',
  target: `https://hooks.example.com/${id}`,
  format: 'aegis',
  events,
  ...extra,
});
const newLog = (): RestoreLog => ({ problems: [], warnings: [], orphans: [] });

describe('the events restore', () => {
  it('restores a subscription with its filters as written, without a secret, dated and authored by its event; a deletion sets deleted_at', () => {
    const r = new EventRestore();
    const log = newLog();
    // a type no catalogue of today appends is restored as the event says
    r.apply(
      event(1, 'subscription.created', created('wh_a', ['promotion.*', '*', 'model.renamed', 'promotion.*'], { description: 'ci' })),
      log,
    );
    r.apply(event(2, 'subscription.created', { ...created('bus', ['*']), kind: 'bus', target: 'aegis-bus' }), log);
    r.apply(event(3, 'subscription.created', created('wh_b', ['dataset.registered'])), log);
    r.apply(event(4, 'subscription.deleted', { subscriptionId: 'wh_b', target: 'https://hooks.example.com/wh_b' }), log);
    r.apply(event(5, 'subscription.secret_set', { subscriptionId: 'wh_a' }), log);
    expect(log.problems).toEqual([]);
    const rows = r.take(log).eventSubscriptions;
    expect(
      rows.map((s) => [s.row.subscription_id, s.row.kind, s.row.secret, s.row.created_by, (s.row.created_at as Date).toISOString()]),
    ).toEqual([
      ['wh_a', 'webhook', null, 'alice', ts(1)],
      ['bus', 'bus', null, 'alice', ts(2)],
      ['wh_b', 'webhook', null, 'alice', ts(3)],
    ]);
    expect(rows[0]!.row.description).toBe('ci');
    expect(rows[0]!.filters).toEqual([
      { pattern: 'promotion.', prefix: true },
      { pattern: '', prefix: true },
      { pattern: 'model.renamed', prefix: false },
    ]);
    expect(rows[0]!.row.deleted_at).toBeUndefined();
    expect((rows[2]!.row.deleted_at as Date).toISOString()).toBe(ts(4));
    // the live webhook is named as waiting for a secret; the bus and the deleted one are not
    expect(log.warnings).toEqual([expect.stringMatching(/^1 webhook\(s\) restored without their secret.*: wh_a$/)]);
    expect(RESTORES).toEqual(['subscription.created', 'subscription.deleted']);
  });

  it('reports a deletion before its creation, a second deletion and a second creation as conflicts, without throwing', () => {
    const r = new EventRestore();
    const log = newLog();
    r.apply(event(1, 'subscription.deleted', { subscriptionId: 'wh_a', target: 'https://hooks.example.com/wh_a' }), log);
    r.apply(event(2, 'subscription.created', created('wh_a', ['*'])), log);
    r.apply(event(3, 'subscription.created', created('wh_a', ['drift.*'])), log);
    r.apply(event(4, 'subscription.deleted', { subscriptionId: 'wh_a', target: 'https://hooks.example.com/wh_a' }), log);
    r.apply(event(5, 'subscription.deleted', { subscriptionId: 'wh_a', target: 'https://hooks.example.com/wh_a' }), log);
    expect(log.problems).toEqual([
      { kind: 'event', id: 'seq 1', problem: 'conflict', detail: 'subscription.deleted: no subscription wh_a created before it' },
      { kind: 'event', id: 'seq 3', problem: 'conflict', detail: 'subscription.created: subscription wh_a created twice' },
      { kind: 'event', id: 'seq 5', problem: 'conflict', detail: 'subscription.deleted: subscription wh_a deleted twice' },
    ]);
    const [only] = r.take(log).eventSubscriptions;
    expect(only!.filters).toEqual([{ pattern: '', prefix: true }]);
    expect((only!.row.deleted_at as Date).toISOString()).toBe(ts(4));
  });

  it('leaves out an unparseable filter entry and reports it; a malformed payload restores nothing', () => {
    const r = new EventRestore();
    const log = newLog();
    r.apply(event(1, 'subscription.created', created('wh_a', ['drift.*', 'pro*motion', 'a b', 'promotion*'])), log);
    r.apply(event(2, 'subscription.created', { subscriptionId: 'wh_b', kind: 'webhook', target: 'x', format: 'aegis' }), log);
    expect(log.problems).toEqual([
      expect.objectContaining({ id: 'seq 1', problem: 'payload-invalid', detail: expect.stringContaining('events[1] "pro*motion"') }),
      expect.objectContaining({ id: 'seq 1', problem: 'payload-invalid', detail: expect.stringContaining('events[2] "a b"') }),
      expect.objectContaining({ id: 'seq 1', problem: 'payload-invalid', detail: expect.stringContaining('events[3] "promotion*"') }),
      expect.objectContaining({ id: 'seq 2', problem: 'payload-invalid' }),
    ]);
    const rows = r.take(log).eventSubscriptions;
    expect(rows.map((s) => s.row.subscription_id)).toEqual(['wh_a']);
    expect(rows[0]!.filters).toEqual([{ pattern: 'drift.', prefix: true }]);
  });
});

describe('filter entries', () => {
  it('reads types, prefixes and * without the catalogue; refuses what is neither', () => {
    expect(filterOf('*')).toEqual({ pattern: '', prefix: true });
    expect(filterOf('drift.*')).toEqual({ pattern: 'drift.', prefix: true });
    expect(filterOf('artifact.registered')).toEqual({ pattern: 'artifact.registered', prefix: false });
    for (const bad of ['', ' ', 'a.*.*', '*.x', 'pro*', 'a b']) expect(filterOf(bad)).toBeUndefined();
  });

  it('the API still checks entries against the types Aegis appends', () => {
    const known = ['promotion.applied', 'artifact.registered'];
    expect(parseFilters(['promotion.*', 'promotion.*', 'artifact.registered'], known)).toEqual([
      { pattern: 'promotion.', prefix: true },
      { pattern: 'artifact.registered', prefix: false },
    ]);
    expect(() => parseFilters(['drift.*'], known)).toThrow('drift.* matches no event type Aegis appends');
    expect(() => parseFilters(['artifact.registered', 'pro*'], known)).toThrow(
      expect.objectContaining({ message: expect.stringContaining('pro* is not an event type') }),
    );
  });
});

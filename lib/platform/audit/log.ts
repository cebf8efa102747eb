import { randomUUID } from 'node:crypto';
import { canonicalJson } from '../../kernel/canonical.js';
import { eventHash, eventStatement, type AuditEvent, type AuditEventType, type UnsignedEvent } from '../../kernel/audit-chain.js';
import type { Selectable, Transaction } from 'kysely';
import type { AuditEventsTable, DB } from '../sql/schema.js';
import type { Clock } from '../ports/clock.js';
import type { Executor } from '../ports/database.js';
import type { Signer } from '../ports/signer.js';
import { checkPayload, type EventCatalogue } from './catalogue.js';

export interface AuditInput {
  type: AuditEventType;
  actor: string;
  subject: string;
  payload: Record<string, unknown>;
}

/** An `audit_events` row as any adapter returns it (`seq` as a number or a bigint string). */
type Row = Selectable<AuditEventsTable>;

export function rowToEvent(r: Row): AuditEvent {
  return {
    seq: Number(r.seq),
    eventId: r.event_id,
    type: r.type,
    actor: r.actor,
    subject: r.subject,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    ts: r.ts,
    prevHash: r.prev_hash.trim(),
    hash: r.hash.trim(),
    signature: r.signature,
    signerId: r.signer_id,
  };
}

export function eventToRow(e: AuditEvent) {
  return {
    seq: e.seq,
    event_id: e.eventId,
    type: e.type,
    actor: e.actor,
    subject: e.subject,
    payload: canonicalJson(e.payload),
    ts: e.ts,
    prev_hash: e.prevHash,
    hash: e.hash,
    signature: e.signature,
    signer_id: e.signerId,
  };
}

/** Where the audit log's signature comes from: the key ring, as the transaction's locked head says it is. */
export interface AuditSigning {
  /**
   * The active audit signer for an append in `tx`, which holds the head's row lock and read the
   * ring's version `keyRingSeq` with it (the key service reads the ring again only when that
   * version is not the one it holds).
   */
  signerFor(tx: Transaction<DB>, keyRingSeq: number): Promise<Signer>;
  /** the event types that change the key ring: appending one moves the ring's version to its seq */
  ringTypes: ReadonlySet<string>;
}

/**
 * The one helper every state change uses: appends signed, hash-chained events inside the
 * caller's transaction, so the change and its events commit together or not at all. The
 * chain head row is locked for the append, which serialises concurrent writers: append last,
 * just before the commit, so the lock is held for as short a time as possible. A payload
 * must match its type's schema in the event catalogue exactly, or nothing is appended.
 */
export class AuditLog {
  constructor(
    private readonly signing: AuditSigning,
    private readonly clock: Clock,
    private readonly catalogue: EventCatalogue,
    /** the outbox: enqueues the appended events' deliveries in the same transaction (events module) */
    private readonly outbox?: (tx: Transaction<DB>, events: readonly AuditEvent[]) => Promise<void>,
  ) {}

  async append(tx: Transaction<DB>, input: AuditInput): Promise<AuditEvent> {
    return (await this.appendAll(tx, [input]))[0]!;
  }

  /**
   * Appends the events of one change, in order: one read of the locked head, one statement
   * writing the events and moving the head, one enqueueing their deliveries, whatever their number.
   */
  async appendAll(tx: Transaction<DB>, inputs: readonly AuditInput[]): Promise<AuditEvent[]> {
    if (inputs.length === 0) return [];
    // round-trip through canonical JSON so the checked, stored, hashed and returned payloads agree
    const checked = inputs.map((input) => {
      const payloadText = canonicalJson(input.payload);
      const payload = JSON.parse(payloadText) as Record<string, unknown>;
      checkPayload(this.catalogue, input.type, payload, payloadText);
      return { ...input, payload };
    });
    const head = await tx
      .selectFrom('audit_head')
      .select(['seq', 'hash', 'key_ring_seq'])
      .where('id', '=', 1)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const signer = await this.signing.signerFor(tx, Number(head.key_ring_seq));
    const ts = this.clock.now().toISOString();
    const events: AuditEvent[] = [];
    let prevHash = head.hash.trim();
    let keyRingSeq = Number(head.key_ring_seq);
    for (const [i, input] of checked.entries()) {
      const unsigned: UnsignedEvent = {
        seq: Number(head.seq) + 1 + i,
        eventId: randomUUID(),
        type: input.type,
        actor: input.actor,
        subject: input.subject,
        payload: input.payload,
        ts,
        prevHash,
        signerId: signer.kid,
      };
      const hash = eventHash(unsigned);
      events.push({ ...unsigned, hash, signature: (await signer.sign(eventStatement(unsigned.seq, hash))).toString('base64') });
      prevHash = hash;
      if (this.signing.ringTypes.has(input.type)) keyRingSeq = unsigned.seq;
    }
    const last = events[events.length - 1]!;
    await tx
      .with('appended', (db) => db.insertInto('audit_events').values(events.map(eventToRow)).returning('seq'))
      .updateTable('audit_head')
      .set({ seq: last.seq, hash: last.hash, key_ring_seq: keyRingSeq })
      .where('id', '=', 1)
      .execute();
    await this.outbox?.(tx, events);
    return events;
  }

  /** The key ring's version as `x` sees it (see {@link AuditSigning}): read before the ring itself, so a ring read after it is never older. */
  async keyRingSeq(x: Executor): Promise<number> {
    const row = await x.selectFrom('audit_head').select('key_ring_seq').where('id', '=', 1).executeTakeFirstOrThrow();
    return Number(row.key_ring_seq);
  }

  /**
   * The events about these subjects of these types, in chain order, as `x` sees them (the
   * caller's transaction or the database). Unverified: the reader checks hashes and signatures.
   *
   * @example
   * await audit.events(tx, { subjects: [`promotion:${id}`], types: ['promotion.approval_accepted'] });
   */
  async events(x: Executor, q: EventQuery): Promise<AuditEvent[]> {
    return this.eventsOfAny(x, [q]);
  }

  /**
   * The events matching any of the queries (each: these subjects, these types), in chain
   * order, in one statement: a reader needing several sets of facts reads them together.
   * Unverified, as {@link events}.
   *
   * @example
   * await audit.eventsOfAny(db, [
   *   { subjects: [`promotion:${a}`], types: ['promotion.step', 'promotion.applied'] },
   *   { subjects: ['route:fraud/prod'], types: ['route.drained'] },
   * ]);
   */
  async eventsOfAny(x: Executor, queries: readonly EventQuery[]): Promise<AuditEvent[]> {
    const live = queries.filter((q) => q.subjects.length > 0 && q.types.length > 0);
    if (live.length === 0) return [];
    const rows = await x
      .selectFrom('audit_events')
      .selectAll()
      .where((eb) => eb.or(live.map((q) => eb.and([eb('subject', 'in', [...q.subjects]), eb('type', 'in', [...q.types])]))))
      .orderBy('seq')
      .execute();
    return rows.map(rowToEvent);
  }
}

/** Which events a reader asks for: about one of these subjects, of one of these types. */
export interface EventQuery {
  subjects: readonly string[];
  types: readonly string[];
}

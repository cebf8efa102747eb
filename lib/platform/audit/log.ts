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

/**
 * The one helper every state change uses: appends a signed, hash-chained event inside the
 * caller's transaction, so the change and its event commit together or not at all. The
 * chain head row is locked for the append, which serialises concurrent writers. A payload
 * must match its type's schema in the event catalogue exactly, or nothing is appended.
 */
export class AuditLog {
  constructor(
    /** the active audit signer as seen inside the transaction (the first key signs its own creation) */
    private readonly signerIn: (tx: Executor) => Promise<Signer>,
    private readonly clock: Clock,
    private readonly catalogue: EventCatalogue,
    /** the outbox: enqueues the appended event's deliveries in the same transaction (events module) */
    private readonly outbox?: (tx: Transaction<DB>, event: AuditEvent) => Promise<void>,
  ) {}

  async append(tx: Transaction<DB>, input: AuditInput): Promise<AuditEvent> {
    // round-trip through canonical JSON so the checked, stored, hashed and returned payloads agree
    const payloadText = canonicalJson(input.payload);
    const payload = JSON.parse(payloadText) as Record<string, unknown>;
    checkPayload(this.catalogue, input.type, payload, payloadText);
    const head = await tx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
    const signer = await this.signerIn(tx);
    const unsigned: UnsignedEvent = {
      seq: Number(head.seq) + 1,
      eventId: randomUUID(),
      type: input.type,
      actor: input.actor,
      subject: input.subject,
      payload,
      ts: this.clock.now().toISOString(),
      prevHash: head.hash.trim(),
      signerId: signer.kid,
    };
    const hash = eventHash(unsigned);
    const event: AuditEvent = { ...unsigned, hash, signature: (await signer.sign(eventStatement(unsigned.seq, hash))).toString('base64') };
    await tx.insertInto('audit_events').values(eventToRow(event)).execute();
    await tx.updateTable('audit_head').set({ seq: event.seq, hash }).where('id', '=', 1).execute();
    await this.outbox?.(tx, event);
    return event;
  }

  /**
   * The events about these subjects of these types, in chain order, as `x` sees them (the
   * caller's transaction or the database). Unverified: the reader checks hashes and signatures.
   *
   * @example
   * await audit.events(tx, { subjects: [`promotion:${id}`], types: ['promotion.approval_accepted'] });
   */
  async events(x: Executor, q: { subjects: readonly string[]; types: readonly string[] }): Promise<AuditEvent[]> {
    if (q.subjects.length === 0 || q.types.length === 0) return [];
    const rows = await x
      .selectFrom('audit_events')
      .selectAll()
      .where('subject', 'in', [...q.subjects])
      .where('type', 'in', [...q.types])
      .orderBy('seq')
      .execute();
    return rows.map(rowToEvent);
  }
}

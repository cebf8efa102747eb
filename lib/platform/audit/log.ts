import { randomUUID } from 'node:crypto';
import { canonicalJson } from '../../kernel/canonical.js';
import { eventHash, eventStatement, type AuditEvent, type AuditEventType, type UnsignedEvent } from '../../kernel/audit-chain.js';
import { sql, type InsertQueryBuilder, type QueryCreator, type Selectable, type Transaction } from 'kysely';
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

/** The chain head row as a statement that locked it read it (see {@link AuditLog.lockHead}). */
export type LockedHead = Pick<Selectable<DB['audit_head']>, 'seq' | 'hash' | 'key_ring_seq'>;

/**
 * The events outbox (events module): the deliveries of appended events are enqueued by the
 * append's own statement, so an append is one statement whatever subscribes.
 */
export interface AuditOutbox {
  /** the INSERT … SELECT of `events`' deliveries, run as a part of the append's statement; one row returned per delivery */
  enqueue(db: QueryCreator<DB>, events: readonly AuditEvent[]): InsertQueryBuilder<DB, 'event_deliveries', { one: number }>;
  /** after the append in `tx`: how many deliveries its statement enqueued */
  enqueued(tx: Transaction<DB>, count: number): void;
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
  /** inputs {@link checked} made: {@link appendAll} does not check them again (a group commit checks each change's alone) */
  readonly #checked = new WeakSet<AuditInput>();

  constructor(
    private readonly signing: AuditSigning,
    private readonly clock: Clock,
    private readonly catalogue: EventCatalogue,
    /** the outbox: enqueues the appended events' deliveries in the append's statement (events module) */
    private readonly outbox?: AuditOutbox,
  ) {}

  /**
   * The chain head's row lock as a part of the caller's own statement (a CTE): a change whose
   * last write before its append takes it saves the append's read of the head. Only in the
   * transaction's last statement before {@link appendAll}, which is then given the row. `after`
   * names the statement's CTEs whose writes (and row locks) come first: the condition reading
   * them runs as sub-plans before the head row is locked, so the head's lock is the last one
   * taken, as every other writer takes it, and two writers never wait on each other in a cycle.
   */
  readonly lockHead = (db: QueryCreator<DB>, after: readonly string[] = []) => {
    const head = db.selectFrom('audit_head').select(['seq', 'hash', 'key_ring_seq']).where('id', '=', 1);
    if (after.length === 0) return head.forUpdate();
    const first = sql.join(
      after.map((cte) => sql`(select count(*) from ${sql.table(cte)}) >= 0`),
      sql` and `,
    );
    return head.where(sql<boolean>`${first}`).forUpdate();
  };

  async append(tx: Transaction<DB>, input: AuditInput): Promise<AuditEvent> {
    return (await this.appendAll(tx, [input]))[0]!;
  }

  /**
   * Appends the events of one change, in order: one read of the locked head (none when the
   * caller's statement locked it: `locked`, see {@link lockHead}), then one statement writing the
   * events, moving the head and enqueueing their deliveries, whatever their number.
   */
  async appendAll(tx: Transaction<DB>, inputs: readonly AuditInput[], locked?: LockedHead): Promise<AuditEvent[]> {
    if (inputs.length === 0) return [];
    const checked = inputs.every((i) => this.#checked.has(i)) ? inputs : this.checked(inputs);
    const head = locked ?? (await this.lockHead(tx).executeTakeFirstOrThrow());
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
    const rows = events.map(eventToRow);
    const moved = { seq: last.seq, hash: last.hash, key_ring_seq: keyRingSeq };
    const outbox = this.outbox;
    if (!outbox) {
      await tx
        .with('appended', (db) => db.insertInto('audit_events').values(rows))
        .updateTable('audit_head')
        .set(moved)
        .where('id', '=', 1)
        .execute();
      return events;
    }
    const row = await tx
      .with('enqueued', (db) => outbox.enqueue(db, events))
      .with('appended', (db) => db.insertInto('audit_events').values(rows))
      .updateTable('audit_head')
      .set(moved)
      .where('id', '=', 1)
      .returning(sql<string>`(select count(*) from enqueued)`.as('enqueued'))
      .executeTakeFirstOrThrow();
    outbox.enqueued(tx, Number(row.enqueued));
    return events;
  }

  /**
   * The events as {@link appendAll} would append them, each payload round-tripped through
   * canonical JSON (so the checked, stored, hashed and returned payloads agree) and checked
   * against its type's schema in the catalogue; throws on the first that does not match. The
   * objects returned (frozen) are not checked again when appended.
   */
  checked(inputs: readonly AuditInput[]): AuditInput[] {
    return inputs.map((input) => {
      const payloadText = canonicalJson(input.payload);
      const payload = JSON.parse(payloadText) as Record<string, unknown>;
      checkPayload(this.catalogue, input.type, payload, payloadText);
      const out = Object.freeze({ ...input, payload });
      this.#checked.add(out);
      return out;
    });
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

/**
 * Reading the chain forward, for what publishes it: events by seq (the dispatcher) and the
 * events after a seq of some types (the long-polling `GET /v1/events`). Unverified, like
 * {@link AuditTrail.list}: a consumer checks hashes and signatures.
 */
import { sql } from 'kysely';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { Database } from '../ports/database.js';
import { rowToEvent } from './log.js';

/** One event type, or every type starting with `pattern` (`''`: all). */
export interface TypeFilter {
  pattern: string;
  prefix: boolean;
}

export class AuditStream {
  constructor(private readonly database: Database) {}

  /** The events of these seqs, in chain order (absent seqs are left out). */
  async bySeq(seqs: readonly number[]): Promise<AuditEvent[]> {
    if (seqs.length === 0) return [];
    const rows = await this.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', 'in', [...seqs])
      .orderBy('seq')
      .execute();
    return rows.map(rowToEvent);
  }

  /** The newest seq (0: an empty chain). */
  async head(): Promise<number> {
    const row = await this.database.db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirst();
    return Number(row?.seq ?? 0);
  }

  /**
   * Up to `limit` events after `after` whose type a filter wants (none: every type), and how far
   * the read covered: the last returned seq, or the head when fewer than `limit` matched.
   */
  async after(q: { after: number; filters: readonly TypeFilter[]; limit: number }): Promise<{ items: AuditEvent[]; through: number }> {
    const head = await this.head();
    if (head <= q.after) return { items: [], through: q.after };
    let query = this.database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', q.after)
      .where('seq', '<=', head)
      .orderBy('seq')
      .limit(q.limit);
    if (q.filters.length)
      query = query.where((eb) =>
        eb.or(
          q.filters.map((f) =>
            f.prefix ? eb(sql<boolean>`starts_with(type, ${f.pattern}::text)`, '=', true) : eb('type', '=', f.pattern),
          ),
        ),
      );
    const items = (await query.execute()).map(rowToEvent);
    return { items, through: items.length === q.limit ? items[items.length - 1]!.seq : head };
  }
}

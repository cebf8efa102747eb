import { AegisError } from '../../kernel/errors.js';
import {
  type AuditEvent,
  type ChainBreak,
  type ChainReport,
  type HeadCheckpoint,
  type SignedHeadCheckpoint,
  headCheckpointStatement,
} from '../../kernel/audit-chain.js';
import { canonicalJson } from '../../kernel/canonical.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import type { Clock } from '../ports/clock.js';
import type { Database } from '../ports/database.js';
import type { ServiceMetrics } from '../ports/metrics.js';
import type { ObjectStore } from '../ports/object-store.js';
import { rowToEvent } from './log.js';
import { compareWithHead, headKey, invalidHeadBreak, readNewestHead, type StoredHead } from './head.js';
import { SEGMENT_MAX, nextUnarchived, readSegments, readText, writeSegment, type ArchiveContents } from './segments.js';
import { verifyInPages } from './paged-verify.js';
import type { KeyService } from '../../modules/keys/service.js';

export interface VerifyReport extends ChainReport {
  source: 'database' | 'archive';
  archivedThrough: number | null;
  /** the database and the archive agree over the range both hold */
  parity: 'ok' | 'mismatch' | 'not-checked';
  /** the newest signed head checkpoint the database was checked against (null: none written yet) */
  checkpoint: { seq: number; hash: string; ts: string; key: string } | null;
}

/** The result of one `audit-checkpoint` run. */
export interface HeadCheckpointResult {
  written: boolean;
  /** the head the newest checkpoint now names (null: the chain is empty) */
  seq: number | null;
  key: string | null;
}

/** The head checkpoint job refuses to sign a database that is behind, or differs from, its newest checkpoint. */
export class HeadCheckpointRefused extends Error {
  override name = 'HeadCheckpointRefused';
}

/**
 * Listing, archiving and verifying the audit chain. The archive is append-only: segments of
 * at most 1000 events, keyed by their first seq, each closed by a checkpoint (head seq and
 * hash, segment sha256) signed with the audit key, all under Object-Lock retention.
 */
export class AuditTrail {
  constructor(
    private readonly database: Database,
    private readonly archiveStore: ObjectStore,
    private readonly keys: KeyService,
    private readonly clock: Clock,
    private readonly retentionDays: number,
    /** the archive's lag and each chain check (`ai_infra_audit_*`); none in tools that only read */
    private readonly metrics?: Pick<ServiceMetrics, 'auditArchiveLag' | 'auditVerification'>,
    /** events per database page when verifying (default VERIFY_PAGE_SIZE) */
    private readonly verifyPageSize?: number,
  ) {}

  async list(opts: {
    subject?: string | undefined;
    type?: string | undefined;
    /** events at or after this time */
    since?: Date | undefined;
    /** events before this time */
    until?: Date | undefined;
    limit: number;
    after?: number | undefined;
  }): Promise<{ items: AuditEvent[]; nextCursor: string | null }> {
    let q = this.database.db
      .selectFrom('audit_events')
      .selectAll()
      .orderBy('seq')
      .limit(opts.limit + 1);
    if (opts.subject) q = q.where('subject', '=', opts.subject);
    if (opts.type) q = q.where('type', '=', opts.type);
    // `ts` holds the clock's toISOString() (fixed width, UTC): text order is time order
    if (opts.since) q = q.where('ts', '>=', opts.since.toISOString());
    if (opts.until) q = q.where('ts', '<', opts.until.toISOString());
    if (opts.after !== undefined) q = q.where('seq', '>', opts.after);
    const rows = (await q.execute()).map(rowToEvent);
    const items = rows.slice(0, opts.limit);
    return { items, nextCursor: rows.length > opts.limit ? String(items[items.length - 1]!.seq) : null };
  }

  async #keyRing(): Promise<Map<string, KeyRecord>> {
    return new Map((await this.keys.list()).map((k) => [k.kid, k]));
  }

  async #dbHead(): Promise<{ seq: number; hash: string } | undefined> {
    const row = await this.database.db
      .selectFrom('audit_events')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && { seq: Number(row.seq), hash: row.hash };
  }

  /** The database's chain against a head checkpoint: null when it still holds the event the checkpoint signed. */
  async #checkHead(head: StoredHead): Promise<ChainBreak | null> {
    const last = await this.#dbHead();
    const at = await this.database.db.selectFrom('audit_events').select('hash').where('seq', '=', head.checkpoint.seq).executeTakeFirst();
    return compareWithHead(head, last?.seq ?? 0, at?.hash, 'database');
  }

  /**
   * The `audit-checkpoint` job: signs the database's head with the audit key and writes it
   * under Object-Lock retention, when the head moved since the newest checkpoint. Refuses
   * (HeadCheckpointRefused) when the database no longer holds the event the newest
   * checkpoint signed: a new checkpoint would bless the truncated or replaced chain.
   */
  async checkpointHead(): Promise<HeadCheckpointResult> {
    try {
      const result = await this.#checkpointHead();
      this.metrics?.auditVerification('checkpoint', 'ok');
      return result;
    } catch (e) {
      if (e instanceof HeadCheckpointRefused) this.metrics?.auditVerification('checkpoint', 'failed');
      throw e;
    }
  }

  async #checkpointHead(): Promise<HeadCheckpointResult> {
    const head = await this.#dbHead();
    const ring = await this.#keyRing();
    const { newest } = await readNewestHead(this.archiveStore, (kid) => ring.get(kid));
    if (!head) return { written: false, seq: newest?.checkpoint.seq ?? null, key: newest?.key ?? null };
    if (newest) {
      if (newest.checkpoint.seq === head.seq && newest.checkpoint.hash === head.hash)
        return { written: false, seq: head.seq, key: newest.key };
      const br = await this.#checkHead(newest);
      if (br) throw new HeadCheckpointRefused(`refusing to checkpoint the audit head: ${br.detail}`);
    }
    const signer = await this.keys.activeSigner('audit');
    const checkpoint: HeadCheckpoint = {
      type: 'aegis.audit-head/v1',
      seq: head.seq,
      hash: head.hash,
      ts: this.clock.now().toISOString(),
      signerId: signer.kid,
    };
    const signed: SignedHeadCheckpoint = {
      checkpoint,
      alg: signer.alg,
      signature: (await signer.sign(headCheckpointStatement(checkpoint))).toString('base64'),
    };
    const key = headKey(head.seq);
    const retainUntil = new Date(this.clock.now().getTime() + this.retentionDays * 86_400_000);
    try {
      await this.archiveStore.put(key, `${canonicalJson(signed)}\n`, { retainUntil, contentType: 'application/json' });
    } catch (e) {
      if (!(e instanceof AegisError && e.code === 'RETENTION_LOCKED')) throw e;
      // Another process checkpointed the same head first; a different hash there is a fork.
      const other = JSON.parse(await readText(this.archiveStore, key)) as SignedHeadCheckpoint;
      if (other.checkpoint?.hash !== head.hash)
        throw new HeadCheckpointRefused(
          `refusing to checkpoint the audit head: ${key} already signs another event ${head.seq} (${String(other.checkpoint?.hash).slice(0, 12)}…)`,
        );
      return { written: false, seq: head.seq, key };
    }
    return { written: true, seq: head.seq, key };
  }

  /** The first seq not yet archived (1 for an empty archive). */
  async nextUnarchived(): Promise<number> {
    return nextUnarchived(this.archiveStore);
  }

  /** Exports every committed event not yet archived; safe to run concurrently and repeatedly. */
  async archive(): Promise<{ segments: number; events: number; archivedThrough: number }> {
    let from = await this.nextUnarchived();
    let segments = 0;
    let events = 0;
    try {
      for (;;) {
        const batch = (
          await this.database.db.selectFrom('audit_events').selectAll().where('seq', '>=', from).orderBy('seq').limit(SEGMENT_MAX).execute()
        ).map(rowToEvent);
        if (batch.length === 0) break;
        const now = this.clock.now();
        const retainUntil = new Date(now.getTime() + this.retentionDays * 86_400_000);
        const written = await writeSegment(this.archiveStore, await this.keys.activeSigner('audit'), { from, batch, retainUntil, now });
        if (written.closed) {
          segments++;
          events += written.events.length;
        }
        from = written.events[written.events.length - 1]!.seq + 1;
      }
    } finally {
      // a failing run reports how far behind it left the archive, so the lag grows while it fails
      await this.#reportLag(from - 1);
    }
    return { segments, events, archivedThrough: from - 1 };
  }

  /** Committed events past `archivedThrough` (those committed while the run went on included). */
  async #reportLag(archivedThrough: number): Promise<void> {
    if (!this.metrics) return;
    try {
      this.metrics.auditArchiveLag(Math.max(0, ((await this.#dbHead())?.seq ?? 0) - archivedThrough));
    } catch {
      // the database being down is the run's failure to report, not the gauge's
    }
  }

  /** Reads the whole archive in order, checking each checkpoint's signature and segment hash. */
  async readArchive(keyOf: (kid: string) => KeyRecord | undefined): Promise<ArchiveContents> {
    return readSegments(this.archiveStore, keyOf);
  }

  /**
   * Verifies the chain in the database (or, `fromArchive`, in the archive) from `since`
   * (default: genesis), and the parity of the database with the archive, in pages
   * (paged-verify.ts): memory holds a few pages whatever the chain's length.
   */
  async verify(opts: { fromArchive?: boolean; since?: number } = {}): Promise<VerifyReport> {
    const report = await this.#verify(opts);
    this.metrics?.auditVerification(report.source, report.ok ? 'ok' : 'failed');
    return report;
  }

  async #verify(opts: { fromArchive?: boolean; since?: number }): Promise<VerifyReport> {
    const ring = await this.#keyRing();
    const keyOf = (kid: string) => ring.get(kid);
    const since = Math.max(1, opts.since ?? 1);
    const pass = await verifyInPages({
      database: this.database,
      archiveStore: this.archiveStore,
      keyOf,
      since,
      fromArchive: opts.fromArchive === true,
      ...(this.verifyPageSize ? { pageSize: this.verifyPageSize } : {}),
    });
    const report = pass.chain;
    // The database is held to the newest signed head checkpoint whichever copy is verified:
    // it is the copy whose newest events nothing else has seen yet.
    const heads = await readNewestHead(this.archiveStore, keyOf);
    const checkpoint = heads.newest && {
      seq: heads.newest.checkpoint.seq,
      hash: heads.newest.checkpoint.hash,
      ts: heads.newest.checkpoint.ts,
      key: heads.newest.key,
    };
    const headBreak = invalidHeadBreak(heads.invalid) ?? (heads.newest ? await this.#checkHead(heads.newest) : null);
    const base = {
      ...report,
      source: opts.fromArchive ? ('archive' as const) : ('database' as const),
      archivedThrough: pass.archivedThrough,
      checkpoint,
    };
    if (pass.archiveProblem) return { ...base, ok: false, firstBreak: report.firstBreak ?? pass.archiveProblem, parity: 'mismatch' };
    if (!report.ok) return { ...base, parity: 'not-checked' };
    if (pass.mismatch) return { ...base, ok: false, firstBreak: pass.mismatch, parity: 'mismatch' };
    return headBreak
      ? { ...base, ok: false, headSeq: null, headHash: null, firstBreak: headBreak, parity: 'ok' }
      : { ...base, parity: 'ok' };
  }
}

import { AegisError } from '../core/errors.js';
import { appendAll } from '../core/arrays.js';
import { sha256Hex } from '../core/canonical.js';
import {
  checkpointStatement,
  compareWithArchive,
  parseSegment,
  segmentText,
  verifyChain,
  GENESIS_HASH,
  type AuditEvent,
  type ChainBreak,
  type ChainReport,
  type Checkpoint,
  type SignedCheckpoint,
} from '../core/audit.js';
import { canonicalJson } from '../core/canonical.js';
import { checkSignerValidity, verifyRaw, type KeyRecord } from '../core/signatures.js';
import type { Clock, Database, ObjectStore } from '../ports.js';
import { rowToEvent } from './audit.js';
import type { KeyService } from './keys.js';

const SEGMENT_MAX = 1000;
const pad = (n: number) => String(n).padStart(12, '0');
export const segmentKey = (fromSeq: number) => `audit/segments/${pad(fromSeq)}.jsonl`;
export const checkpointKey = (fromSeq: number) => `audit/checkpoints/${pad(fromSeq)}.json`;

async function readText(store: ObjectStore, key: string): Promise<string> {
  let out = '';
  for await (const chunk of await store.get(key)) out += (chunk as Buffer).toString('utf8');
  return out;
}

export interface ArchiveContents {
  events: AuditEvent[];
  checkpoints: SignedCheckpoint[];
  /** the first problem found in the archive itself (bad checkpoint, segment hash), if any */
  problem: ChainBreak | null;
}

export interface VerifyReport extends ChainReport {
  source: 'database' | 'archive';
  archivedThrough: number | null;
  /** the database and the archive agree over the range both hold */
  parity: 'ok' | 'mismatch' | 'not-checked';
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
  ) {}

  async list(opts: { subject?: string | undefined; type?: string | undefined; limit: number; after?: number | undefined }): Promise<{ items: AuditEvent[]; nextCursor: string | null }> {
    let q = this.database.db.selectFrom('audit_events').selectAll().orderBy('seq').limit(opts.limit + 1);
    if (opts.subject) q = q.where('subject', '=', opts.subject);
    if (opts.type) q = q.where('type', '=', opts.type);
    if (opts.after !== undefined) q = q.where('seq', '>', opts.after);
    const rows = (await q.execute()).map(rowToEvent);
    const items = rows.slice(0, opts.limit);
    return { items, nextCursor: rows.length > opts.limit ? String(items[items.length - 1]!.seq) : null };
  }

  async #dbEvents(fromSeq: number): Promise<AuditEvent[]> {
    const rows = await this.database.db.selectFrom('audit_events').selectAll().where('seq', '>=', fromSeq).orderBy('seq').execute();
    return rows.map(rowToEvent);
  }

  async #keyRing(): Promise<Map<string, KeyRecord>> {
    return new Map((await this.keys.list()).map((k) => [k.kid, k]));
  }

  /** The first seq not yet archived (1 for an empty archive). */
  async nextUnarchived(): Promise<number> {
    let last: string | undefined;
    for await (const o of this.archiveStore.list('audit/checkpoints/')) last = o.key;
    if (!last) return 1;
    const cp = JSON.parse(await readText(this.archiveStore, last)) as SignedCheckpoint;
    return cp.checkpoint.seq + 1;
  }

  /** Exports every committed event not yet archived; safe to run concurrently and repeatedly. */
  async archive(): Promise<{ segments: number; events: number; archivedThrough: number }> {
    let from = await this.nextUnarchived();
    let segments = 0;
    let events = 0;
    for (;;) {
      const batch = (await this.database.db.selectFrom('audit_events').selectAll().where('seq', '>=', from).orderBy('seq').limit(SEGMENT_MAX).execute()).map(rowToEvent);
      if (batch.length === 0) break;
      const retainUntil = new Date(this.clock.now().getTime() + this.retentionDays * 86_400_000);
      let text = segmentText(batch);
      try {
        await this.archiveStore.put(segmentKey(from), text, { retainUntil, contentType: 'application/x-ndjson' });
      } catch (e) {
        if (!(e instanceof AegisError && e.code === 'RETENTION_LOCKED')) throw e;
        // Another archiver (or a run that stopped before its checkpoint) wrote this segment.
        text = await readText(this.archiveStore, segmentKey(from));
      }
      const written = parseSegment(text);
      const last = written[written.length - 1]!;
      const signer = await this.keys.activeSigner('audit');
      const checkpoint: Checkpoint = { type: 'aegis.audit-checkpoint/v1', fromSeq: from, seq: last.seq, hash: last.hash, segmentKey: segmentKey(from), segmentSha256: sha256Hex(text), ts: this.clock.now().toISOString(), signerId: signer.kid };
      const signed: SignedCheckpoint = { checkpoint, alg: signer.alg, signature: (await signer.sign(checkpointStatement(checkpoint))).toString('base64') };
      try {
        await this.archiveStore.put(checkpointKey(from), `${canonicalJson(signed)}\n`, { retainUntil, contentType: 'application/json' });
        segments++;
        events += written.length;
      } catch (e) {
        if (!(e instanceof AegisError && e.code === 'RETENTION_LOCKED')) throw e;
      }
      from = last.seq + 1;
    }
    return { segments, events, archivedThrough: from - 1 };
  }

  /** Reads the whole archive in order, checking each checkpoint's signature and segment hash. */
  async readArchive(keyOf: (kid: string) => KeyRecord | undefined): Promise<ArchiveContents> {
    const events: AuditEvent[] = [];
    const checkpoints: SignedCheckpoint[] = [];
    const keys: string[] = [];
    for await (const o of this.archiveStore.list('audit/checkpoints/')) keys.push(o.key);
    for (const k of keys) {
      const signed = JSON.parse(await readText(this.archiveStore, k)) as SignedCheckpoint;
      const cp = signed.checkpoint;
      const key = keyOf(cp.signerId);
      const fail = (detail: string): ArchiveContents => ({ events, checkpoints, problem: { seq: cp.fromSeq, problem: 'archive-mismatch', detail } });
      if (!key) return fail(`checkpoint ${k} is signed by ${cp.signerId}, which is not in the key ring`);
      const validity = checkSignerValidity(key, cp.ts, 'audit');
      if (!validity.ok) return fail(`checkpoint ${k}: ${validity.reason}`);
      if (!verifyRaw(signed.alg, key.publicKey, checkpointStatement(cp), signed.signature)) return fail(`checkpoint ${k} signature does not verify`);
      const text = await readText(this.archiveStore, cp.segmentKey);
      if (sha256Hex(text) !== cp.segmentSha256) return fail(`segment ${cp.segmentKey} does not match its checkpoint`);
      const seg = parseSegment(text);
      if (seg[0]?.seq !== cp.fromSeq || seg[seg.length - 1]?.seq !== cp.seq || seg[seg.length - 1]?.hash !== cp.hash) return fail(`segment ${cp.segmentKey} does not cover ${cp.fromSeq}..${cp.seq} as its checkpoint says`);
      appendAll(events, seg);
      checkpoints.push(signed);
    }
    return { events, checkpoints, problem: null };
  }

  /**
   * Verifies the chain in the database (or, `fromArchive`, in the archive) from `since`
   * (default: genesis), then the parity of the database with the archive.
   */
  async verify(opts: { fromArchive?: boolean; since?: number } = {}): Promise<VerifyReport> {
    const ring = await this.#keyRing();
    const keyOf = (kid: string) => ring.get(kid);
    const since = Math.max(1, opts.since ?? 1);
    const archive = await this.readArchive(keyOf);
    const archivedThrough = archive.checkpoints.length ? archive.checkpoints[archive.checkpoints.length - 1]!.checkpoint.seq : null;
    const db = await this.#dbEvents(since > 1 ? since - 1 : 1);
    const source = opts.fromArchive ? archive.events.filter((e) => e.seq >= since - 1) : db;
    // The event before `since` anchors the check; it is trusted, not verified.
    const anchorEvent = since > 1 ? source.find((e) => e.seq === since - 1) : undefined;
    if (since > 1 && !anchorEvent) throw new AegisError('VALIDATION_FAILED', `no event ${since - 1} to start from`, { field: 'since' });
    const run = source.filter((e) => e.seq >= since);
    const report = verifyChain(run, keyOf, anchorEvent ? { seq: anchorEvent.seq, hash: anchorEvent.hash } : { seq: 0, hash: GENESIS_HASH });
    const base = { ...report, source: opts.fromArchive ? ('archive' as const) : ('database' as const), archivedThrough };
    if (archive.problem) return { ...base, ok: false, firstBreak: report.firstBreak ?? archive.problem, parity: 'mismatch' };
    if (!report.ok) return { ...base, parity: 'not-checked' };
    const mismatch = compareWithArchive(
      db.filter((e) => e.seq >= since),
      archive.events.filter((e) => e.seq >= since),
    );
    return mismatch ? { ...base, ok: false, firstBreak: mismatch, parity: 'mismatch' } : { ...base, parity: 'ok' };
  }
}

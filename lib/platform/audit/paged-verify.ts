/**
 * Verifying the audit chain in pages (issue 25). The database's chain is read `pageSize` events
 * at a time (keyset pagination on seq), each page verified anchored on the last event of the
 * page before while the next page is read, and compared with the archive's events over the same
 * range, the archive read segment by segment as the pages advance (the next segment read while
 * one is compared). Memory holds a page and a segment, and the next of each, whatever the
 * chain's length; the result is the one reading both copies whole gives.
 */
import { AegisError } from '../../kernel/errors.js';
import { CHAIN_PAGE_SIZE, ChainCheck } from '../../kernel/chain-check.js';
import { compareArchivedEvent, GENESIS_HASH, type AuditEvent, type ChainBreak, type ChainReport } from '../../kernel/audit-chain.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import type { Database } from '../ports/database.js';
import type { ObjectStore } from '../ports/object-store.js';
import { rowToEvent } from './log.js';
import { archiveSegments, type ArchiveSegment } from './segments.js';

/** Events per database page: the kernel's page of a verified run (also one query's worth of rows). */
export const VERIFY_PAGE_SIZE = CHAIN_PAGE_SIZE;

export interface PagedVerifyOptions {
  database: Database;
  archiveStore: ObjectStore;
  keyOf: (kid: string) => KeyRecord | undefined;
  /** the first seq verified (≥ 1); the event before it anchors the check, trusted */
  since: number;
  /** verify the archive's chain instead of the database's */
  fromArchive: boolean;
  pageSize?: number;
  /** told the number of events of every page or segment read (> 0) and when it is let go (< 0): what is held at once */
  onHold?: (delta: number) => void;
}

export interface PagedVerifyResult {
  /** the chain verified: the database's from `since`, or the archive's up to its first problem */
  chain: ChainReport;
  /** the last seq the archive's checked segments hold (null: none) */
  archivedThrough: number | null;
  /** the first problem in the archive itself (a checkpoint or segment that does not check) */
  archiveProblem: ChainBreak | null;
  /** the first archived event (from `since`, in archive order) the database's copy does not match; looked for while the chain verifies */
  mismatch: ChainBreak | null;
}

/** Pulls one item ahead of its consumer, so the next read overlaps the work on the current one. */
async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      yield r.value;
    }
  } finally {
    // a consumer that stops early leaves one read in flight: its failure is nobody's to report
    next.catch(() => undefined);
    void it.return?.()?.catch(() => undefined);
  }
}

/** The database's events from `from`, in pages of `size` (keyset on seq). */
async function* dbPages(
  database: Database,
  from: number,
  size: number,
  onHold?: (delta: number) => void,
): AsyncGenerator<AuditEvent[], void, undefined> {
  let after = from - 1;
  for (;;) {
    const rows = await database.db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(size).execute();
    if (rows.length === 0) return;
    onHold?.(rows.length);
    const page = rows.map(rowToEvent);
    yield page;
    if (rows.length < size) return;
    after = page[page.length - 1]!.seq;
  }
}

/** Index of `seq` in a page sorted by seq, or -1. */
function indexOfSeq(page: readonly AuditEvent[], seq: number): number {
  let lo = 0;
  let hi = page.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = page[mid]!.seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * The database's events from `since` as a window moving forward one page at a time: `at(seq)`
 * moves it up to `seq`, handing each page entered to `onPage` (the database's chain check).
 */
class DbWindow {
  readonly #pages: AsyncGenerator<AuditEvent[], void, undefined>;
  #page: AuditEvent[] = [];
  /** the window holds the database's events in (#below, #through] */
  #below: number;
  #through: number;
  #done = false;
  /** the last seq read (0: none) */
  #last = 0;

  constructor(
    private readonly o: PagedVerifyOptions & { pageSize: number },
    private readonly onPage: (page: readonly AuditEvent[]) => Promise<void>,
  ) {
    this.#pages = readAhead(dbPages(o.database, o.since, o.pageSize, o.onHold));
    this.#below = this.#through = o.since - 1;
  }

  /** Moves to the next page; false at the end of the chain. */
  async advance(): Promise<boolean> {
    if (this.#done) return false;
    const r = await this.#pages.next();
    this.o.onHold?.(-this.#page.length);
    this.#page = r.done ? [] : r.value;
    if (r.done) {
      this.#done = true;
      return false;
    }
    this.#below = this.#through;
    this.#through = this.#last = this.#page[this.#page.length - 1]!.seq;
    await this.onPage(this.#page);
    return true;
  }

  /** The archived event against the database's copy of its seq. */
  async compare(a: AuditEvent): Promise<ChainBreak | null> {
    while (a.seq > this.#through && (await this.advance()));
    if (a.seq > this.#through) return compareArchivedEvent(a, undefined, this.#last);
    if (a.seq > this.#below) return compareArchivedEvent(a, this.#page[indexOfSeq(this.#page, a.seq)], this.#last);
    // behind the window: an archive out of seq order, which no archiver writes
    return compareArchivedEvent(a, await this.#read(a.seq), this.#last);
  }

  async #read(seq: number): Promise<AuditEvent | undefined> {
    const row = await this.o.database.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirst();
    return row && rowToEvent(row);
  }

  /** Lets go of the page and of the read in flight. */
  async close(): Promise<void> {
    this.o.onHold?.(-this.#page.length);
    this.#page = [];
    await this.#pages.return();
  }
}

async function* counted(segments: AsyncIterable<ArchiveSegment>, onHold?: (delta: number) => void) {
  for await (const s of segments) {
    if ('events' in s) onHold?.(s.events.length);
    yield s;
  }
}

/** The archive's segments, one read ahead, tracking how far the checked ones reach and the first problem. */
class ArchiveReader {
  readonly #segments: AsyncGenerator<ArchiveSegment, void, undefined>;
  archivedThrough: number | null = null;
  problem: ChainBreak | null = null;
  #held = 0;

  constructor(private readonly o: PagedVerifyOptions) {
    this.#segments = readAhead(counted(archiveSegments(o.archiveStore, o.keyOf), o.onHold));
  }

  /** The next checked segment's events, or null at the end of the archive or at its first problem. */
  async next(): Promise<AuditEvent[] | null> {
    this.o.onHold?.(-this.#held);
    this.#held = 0;
    const r = await this.#segments.next();
    if (r.done) return null;
    if ('problem' in r.value) {
      this.problem = r.value.problem;
      return null;
    }
    this.archivedThrough = r.value.checkpoint.checkpoint.seq;
    this.#held = r.value.events.length;
    return r.value.events;
  }

  async close(): Promise<void> {
    this.o.onHold?.(-this.#held);
    this.#held = 0;
    await this.#segments.return();
  }
}

const fromSince = (events: AuditEvent[], since: number) => events.filter((e) => e.seq >= since);

/**
 * Verifies the chain of the database (or, `fromArchive`, of the archive) from `since` and
 * compares the database with the archive from `since`, in one pass over both.
 */
export async function verifyInPages(options: PagedVerifyOptions): Promise<PagedVerifyResult> {
  const o = { ...options, pageSize: options.pageSize ?? VERIFY_PAGE_SIZE };
  return o.fromArchive ? verifyArchive(o) : verifyDatabase(o);
}

async function verifyDatabase(o: PagedVerifyOptions & { pageSize: number }): Promise<PagedVerifyResult> {
  const anchor = o.since > 1 ? await eventAt(o.database, o.since - 1) : { seq: 0, hash: GENESIS_HASH };
  if (!anchor) throw new AegisError('VALIDATION_FAILED', `no event ${o.since - 1} to start from`, { field: 'since' });
  const chain = new ChainCheck(o.keyOf, { seq: anchor.seq, hash: anchor.hash });
  const db = new DbWindow(o, (page) => chain.add(page));
  const archive = new ArchiveReader(o);
  let mismatch: ChainBreak | null = null;
  try {
    // The archive's events pull the database's pages forward (each verified as it is read);
    // once the result cannot depend on the comparison, the rest of the archive is only checked.
    for (let seg = await archive.next(); seg; seg = await archive.next()) {
      for (const a of fromSince(seg, o.since)) {
        if (mismatch || chain.broken) break;
        mismatch = await db.compare(a);
      }
    }
    while (!chain.broken && (await db.advance()));
  } finally {
    await Promise.all([db.close(), archive.close()]);
  }
  const link = chain.unresolvedLink;
  const linked = link !== null && (await databaseHolds(o, link));
  return { chain: chain.report(linked), archivedThrough: archive.archivedThrough, archiveProblem: archive.problem, mismatch };
}

async function verifyArchive(o: PagedVerifyOptions & { pageSize: number }): Promise<PagedVerifyResult> {
  const archive = new ArchiveReader(o);
  const db = new DbWindow(o, async () => undefined);
  let chain: ChainCheck | null = o.since > 1 ? null : new ChainCheck(o.keyOf);
  let mismatch: ChainBreak | null = null;
  try {
    for (let seg = await archive.next(); seg; seg = await archive.next()) {
      if (!chain) {
        // Segments hold their events in seq order: the anchor comes before the events after it.
        const at = seg.findIndex((e) => e.seq >= o.since - 1);
        if (at < 0) continue;
        if (seg[at]!.seq !== o.since - 1) break;
        chain = new ChainCheck(o.keyOf, { seq: seg[at]!.seq, hash: seg[at]!.hash });
        seg = seg.slice(at + 1);
        if (seg.length === 0) continue;
      }
      const run = fromSince(seg, o.since);
      await chain.add(run);
      for (const a of run) {
        if (mismatch || chain.broken) break;
        mismatch = await db.compare(a);
      }
    }
    if (!chain) throw new AegisError('VALIDATION_FAILED', `no event ${o.since - 1} to start from`, { field: 'since' });
  } finally {
    await Promise.all([db.close(), archive.close()]);
  }
  const link = chain.unresolvedLink;
  const linked = link !== null && (await archiveHolds(o, link));
  return { chain: chain.report(linked), archivedThrough: archive.archivedThrough, archiveProblem: archive.problem, mismatch };
}

async function eventAt(database: Database, seq: number): Promise<{ seq: number; hash: string } | undefined> {
  const row = await database.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirst();
  return row && rowToEvent(row);
}

/** Whether an event of the database's run (from `since`) has this hash: read again, only when a link broke. */
async function databaseHolds(o: PagedVerifyOptions & { pageSize: number }, hash: string): Promise<boolean> {
  for await (const page of dbPages(o.database, o.since, o.pageSize)) if (page.some((e) => e.hash === hash)) return true;
  return false;
}

/** Whether an event of the archive's run (from `since`, up to its first problem) has this hash. */
async function archiveHolds(o: PagedVerifyOptions, hash: string): Promise<boolean> {
  for await (const s of archiveSegments(o.archiveStore, o.keyOf))
    if ('events' in s && s.events.some((e) => e.seq >= o.since && e.hash === hash)) return true;
  return false;
}

/**
 * Group commit: the changes one process makes at the same time share one transaction and one
 * lock of the audit chain's head. A change that arrives while a batch commits waits for the
 * next batch, which takes every change waiting then (at most `maxBatch`). In a batch each
 * change writes under a savepoint of its own, so one that fails (or whose events the
 * catalogue refuses) is rolled back and fails alone; then all their events are appended (each signed and chained as ever, in one
 * statement), each change's check runs under the head's lock, and one COMMIT makes them all
 * durable together. A change with no other waiting commits alone, exactly as in a transaction
 * of its own (no savepoint; it may lock the head in its own last statement). A transaction
 * conflict (deadlock, serialization failure), in a change's write or check or failing the
 * whole transaction, makes the change (or the batch) again, at most {@link MAX_CONFLICTS} times.
 */
import { AsyncResource } from 'node:async_hooks';
import { sql, type Transaction } from 'kysely';
import type { Database } from '../ports/database.js';
import { isTransactionConflict } from '../sql/errors.js';
import type { DB } from '../sql/schema.js';
import type { AuditInput, AuditLog, LockedHead } from './log.js';

/** What a change writes: its value, the events it appends, and the head when its own statement locked it (alone only). */
export interface Written<T> {
  value: T;
  events: readonly AuditInput[];
  head?: LockedHead | undefined;
}

export interface Change<T> {
  /**
   * The change's rows in `tx`. `lockHead` is given only to a change committing alone: it may
   * lock the chain head in its last statement (and return it as `head`). In a batch the head
   * is locked after every change's writes, the last lock taken, as every writer takes it.
   */
  write(tx: Transaction<DB>, lockHead: AuditLog['lockHead'] | undefined): Promise<Written<T>>;
  /** Runs after the append, under the head's lock; throwing fails this change alone (the others commit without it). */
  check?(tx: Transaction<DB>, value: T): Promise<void>;
  /**
   * Orders a batch: changes are written in the order of their keys (e.g. the model's name),
   * so two processes' batches take the rows' locks in the same order and never wait on each
   * other in a cycle.
   */
  lockOrder: string;
}

interface Waiting {
  change: Change<unknown>;
  resolve: (value: unknown) => void;
  reject: (e: unknown) => void;
  /** runs a function in the caller's async context (its request's span and statement tally) */
  inContext: <R>(fn: () => R) => R;
  /** the batches it failed in by a transaction conflict so far */
  conflicts: number;
}

/** A check failed in a batch: the batch rolls back, the change that failed fails, the others are made again. */
class CheckFailed extends Error {
  constructor(readonly failures: Map<Waiting, unknown>) {
    super('a change failed its check');
  }
}

export const DEFAULT_MAX_BATCH = 32;
/** A change that lost this many batches to a transaction conflict (deadlock, serialization failure) fails with it. */
export const MAX_CONFLICTS = 3;

export class GroupCommit {
  #waiting: Waiting[] = [];
  #committing = false;

  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    private readonly maxBatch = DEFAULT_MAX_BATCH,
  ) {}

  /** Commits the change with whatever else is waiting; its value once the COMMIT succeeded. */
  run<T>(change: Change<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const inContext = AsyncResource.bind(<R>(fn: () => R) => fn());
      this.#waiting.push({ change: change as Change<unknown>, resolve: resolve as (v: unknown) => void, reject, inContext, conflicts: 0 });
      if (!this.#committing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#committing = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, this.maxBatch);
        batch.sort((a, b) => (a.change.lockOrder < b.change.lockOrder ? -1 : a.change.lockOrder > b.change.lockOrder ? 1 : 0));
        // in the context of the batch's first change (whose request may still wait), not the drain's starter's
        const retry = await batch[0]!.inContext(() => this.#commit(batch));
        this.#waiting.unshift(...retry);
      }
    } finally {
      this.#committing = false;
    }
  }

  /**
   * One batch in one transaction; the changes to make again. Every change is settled once the
   * transaction has ended, so a change that failed on another's write (the same bytes
   * registered twice) finds the other committed. When a check fails, the batch rolls back and
   * the other changes are made again, in the next batch.
   */
  async #commit(batch: Waiting[]): Promise<Waiting[]> {
    const alone = batch.length === 1;
    const written: { w: Waiting; value: unknown }[] = [];
    const failedWrites = new Map<Waiting, unknown>();
    try {
      await this.database.db.transaction().execute(async (tx) => {
        const events: AuditInput[] = [];
        let head: LockedHead | undefined;
        for (const [i, w] of batch.entries()) {
          const savepoint = sql.raw(`change_${i}`);
          if (!alone) await sql`savepoint ${savepoint}`.execute(tx);
          try {
            const out = await w.change.write(tx, alone ? this.audit.lockHead : undefined);
            // events the catalogue refuses fail their change here, not the batch's append
            const checked = alone ? out.events : this.audit.checked(out.events);
            written.push({ w, value: out.value });
            events.push(...checked);
            head = out.head;
          } catch (e) {
            if (alone) throw e;
            await sql`rollback to savepoint ${savepoint}`.execute(tx);
            failedWrites.set(w, e);
          }
        }
        if (written.length === 0) return;
        await this.audit.appendAll(tx, events, alone ? head : undefined);
        const failures = new Map<Waiting, unknown>();
        for (const { w, value } of written) await w.change.check?.(tx, value).catch((e: unknown) => failures.set(w, e));
        if (failures.size > 0) throw new CheckFailed(failures);
      });
    } catch (e) {
      if (!(e instanceof CheckFailed)) {
        // the batch failed as a whole (its append, its COMMIT, the connection): so does every
        // change in it, but one whose own write failed fails with its own error. A conflict
        // (a deadlock the database broke, a serialization failure) makes the whole batch again.
        const conflict = isTransactionConflict(e);
        return batch.filter((w) => this.#again(w, conflict ? e : (failedWrites.get(w) ?? e)));
      }
      // the changes that passed are made again, and one whose check met a conflict
      return batch.filter((w) => !e.failures.has(w) || this.#again(w, e.failures.get(w)));
    }
    for (const { w, value } of written) w.resolve(value);
    return [...failedWrites].filter(([w, e]) => this.#again(w, e)).map(([w]) => w);
  }

  /** Whether `w` is made again after failing with `e` (a conflict, lost fewer than {@link MAX_CONFLICTS} times); else it fails with `e`. */
  #again(w: Waiting, e: unknown): boolean {
    if (isTransactionConflict(e) && ++w.conflicts < MAX_CONFLICTS) return true;
    w.reject(e);
    return false;
  }
}

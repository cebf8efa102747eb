import type { Timers } from '../../lib/platform/ports/scheduler.js';

/** Timers for the in-process scheduler that fire only when a test says so: no sleeps. */
export class FakeTimers implements Timers {
  #next = 1;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.pending.set(id, { fn, ms });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Fires every armed timer of `ms` (one per job), as if that much time had passed; returns how many fired. */
  fire(ms: number): number {
    const due = [...this.pending].filter(([, t]) => t.ms === ms);
    for (const [id, t] of due) {
      this.pending.delete(id);
      t.fn();
    }
    return due.length;
  }
}

import type { Database } from '../../platform/ports/database.js';
import { insertEvents, type ServingEventRow } from './store.js';

/**
 * Where serving events go: batched inserts in the process (local, {@link ServingEventSink}), or
 * one log line each for the ingest function (Lambda, `LogLineEventRecorder` in event-log.ts).
 * `flush()` resolves once what was added so far is written (the metrics source calls it first).
 */
export interface ServingEventRecorder {
  add(row: ServingEventRow): void;
  flush(): Promise<void>;
  /**
   * The recorded events are the request metrics too (EMF log lines in Lambda): the per-request
   * `model_inference_*` series are then not written a second time. @default false
   */
  readonly carriesMetrics?: boolean;
  /**
   * Up to when a deployment's events are all in the database, as of `now` (after `flush()`):
   * `now` where this process writes them itself; the ingest watermark minus its grace where
   * they travel through logs. The canary judge never ends a window later.
   */
  settledUntil(deploymentKey: string, now: Date): Promise<Date>;
}

export interface SinkOptions {
  /** flush at the latest this long after the first buffered event */
  intervalMs: number;
  /** flush as soon as this many events are buffered */
  maxRows: number;
  onError: (e: unknown, lost: number) => void;
}

/**
 * Serving events inserted in batches (every 250 ms or 500 rows by default), so a request
 * never waits on its own insert. Inserts are idempotent by request id. `flush()` writes
 * what is buffered now (the metrics source calls it before reading; shutdown calls it last).
 */
export class ServingEventSink implements ServingEventRecorder {
  #buffer: ServingEventRow[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly database: Database,
    private readonly opts: SinkOptions,
  ) {}

  add(row: ServingEventRow): void {
    this.#buffer.push(row);
    if (this.#buffer.length >= this.opts.maxRows) void this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), this.opts.intervalMs);
      this.#timer.unref?.();
    }
  }

  /** Writes everything buffered so far (in order after any batch already being written). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#buffer;
    this.#buffer = [];
    if (rows.length === 0) return this.#inFlight;
    this.#inFlight = this.#inFlight.then(async () => {
      try {
        for (let i = 0; i < rows.length; i += this.opts.maxRows) await insertEvents(this.database.db, rows.slice(i, i + this.opts.maxRows));
      } catch (e) {
        this.opts.onError(e, rows.length);
      }
    });
    return this.#inFlight;
  }

  /** The events are inserted by this process: once flushed, everything up to `now` is there. */
  async settledUntil(_deploymentKey: string, now: Date): Promise<Date> {
    await this.flush();
    return now;
  }
}

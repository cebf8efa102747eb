/**
 * Input segments for drift detection: the inputs and predictions of a sampled share of served
 * requests, appended as JSONL objects per deployment and hour to the drift store (the data
 * folder locally, `DRIFT_S3_BUCKET` on AWS), where drift detection reads them.
 *
 * Key: `serving-inputs/<model>/<env>/<yyyy-mm-dd>/<hh>/<segment-id>.jsonl` (UTC hour of the
 * requests; the id starts with the flush time, so keys sort by time). One line per request:
 * `{"requestId","at","variant","artifactId","latencyMs","error","inputs","predictions"}` with
 * `inputs` as the caller sent them and `predictions` null when the model failed. A segment is
 * written when its buffer reaches `maxRows` or `intervalMs` after its first line, and on close;
 * a segment is never rewritten (each flush is a new object). Retention deletes whole hours.
 *
 * In Lambda the timers do not run while the container is frozen between invocations, and a
 * container is reclaimed without notice: the serving handler calls {@link InputSegments.flushDue}
 * before each invocation returns, so a segment is written by the end of the first invocation
 * that ends `intervalMs` after its first line. What a container buffered in its last
 * `intervalMs` before it is reclaimed is lost: at most that many seconds of sampled rows per
 * container (the bound of a sample; serving events, which the judge counts, are log lines).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ObjectStore, ObjectWriter } from '../../platform/ports/object-store.js';
import type { ServedRequest, ServingObserver } from './observers.js';

export const SEGMENT_PREFIX = 'serving-inputs';

export interface SegmentOptions {
  /** AEGIS_SERVING_SAMPLE_RATE: the share of requests written, 0–1 (by request id: a retried request samples alike) */
  sampleRate: number;
  /** a segment is written at the latest this long after its first line (default 10 s) */
  intervalMs?: number;
  /** and as soon as it holds this many lines (default 5000) */
  maxRows?: number;
  onError: (e: unknown, lost: number) => void;
}

/** Whether a request id falls in the sampled share: its sha256's first 32 bits as a fraction below the rate. */
export function sampled(requestId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  return createHash('sha256').update(requestId).digest().readUInt32BE(0) / 2 ** 32 < rate;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** `yyyy-mm-dd` and `hh` of a time, UTC. */
export const segmentHour = (at: Date): { day: string; hour: string } => ({
  day: `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}`,
  hour: pad(at.getUTCHours()),
});

/** The start of the hour a segment key holds, or undefined for a key that is not a segment's. */
export function hourOfKey(key: string): Date | undefined {
  const m = /^serving-inputs\/[^/]+\/[^/]+\/(\d{4})-(\d{2})-(\d{2})\/(\d{2})\/[^/]+\.jsonl$/.exec(key);
  if (!m) return undefined;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4])));
}

/** Buffers sampled requests per deployment and hour and writes them as JSONL segments. */
export class InputSegments implements ServingObserver {
  readonly #buffers = new Map<
    string,
    { prefix: string; lines: string[]; since: number; timer: ReturnType<typeof setTimeout> | undefined }
  >();
  #inFlight: Promise<void> = Promise.resolve();
  readonly #interval: number;
  readonly #maxRows: number;

  constructor(
    private readonly store: ObjectWriter,
    private readonly opts: SegmentOptions,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.#interval = opts.intervalMs ?? 10_000;
    this.#maxRows = opts.maxRows ?? 5000;
  }

  served(r: ServedRequest): void {
    if (!sampled(r.requestId, this.opts.sampleRate)) return;
    const { day, hour } = segmentHour(r.at);
    const prefix = `${SEGMENT_PREFIX}/${r.modelName}/${r.env}/${day}/${hour}`;
    let b = this.#buffers.get(prefix);
    if (!b) {
      b = { prefix, lines: [], since: this.now().getTime(), timer: undefined };
      this.#buffers.set(prefix, b);
    }
    b.lines.push(
      JSON.stringify({
        requestId: r.requestId,
        at: r.at.toISOString(),
        variant: r.variant,
        artifactId: r.artifactId,
        latencyMs: r.latencyMs,
        error: r.predictions === null,
        inputs: r.inputs,
        predictions: r.predictions,
      }),
    );
    if (b.lines.length >= this.#maxRows) void this.#write(prefix);
    else if (!b.timer) {
      b.timer = setTimeout(() => void this.#write(prefix), this.#interval);
      b.timer.unref?.();
    }
  }

  /**
   * Writes the segments whose first line is at least `intervalMs` old, and waits for every
   * write under way: the end of a Lambda invocation, where a timer may never fire.
   */
  async flushDue(): Promise<void> {
    const now = this.now().getTime();
    await Promise.all([...this.#buffers.values()].filter((b) => now - b.since >= this.#interval).map((b) => this.#write(b.prefix)));
    await this.#inFlight;
  }

  /** Writes every buffered segment now (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.#buffers.keys()].map((p) => this.#write(p)));
    await this.#inFlight;
  }

  #write(prefix: string): Promise<void> {
    const b = this.#buffers.get(prefix);
    if (!b) return this.#inFlight;
    this.#buffers.delete(prefix);
    if (b.timer) clearTimeout(b.timer);
    const t = this.now()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const key = `${prefix}/${t}-${randomBytes(6).toString('hex')}.jsonl`;
    const body = `${b.lines.join('\n')}\n`;
    this.#inFlight = this.#inFlight.then(async () => {
      try {
        await this.store.put(key, body, { contentType: 'application/x-ndjson' });
      } catch (e) {
        this.opts.onError(e, b.lines.length);
      }
    });
    return this.#inFlight;
  }
}

/** Deletes the segments of hours that ended before `before`; how many. */
export async function purgeSegments(store: ObjectStore, before: Date): Promise<number> {
  const old: { key: string; versionId: string }[] = [];
  for await (const o of store.list(`${SEGMENT_PREFIX}/`)) {
    const hour = hourOfKey(o.key);
    if (hour && hour.getTime() + 3_600_000 <= before.getTime()) old.push({ key: o.key, versionId: o.versionId });
  }
  for (const o of old) await store.delete(o.key, { versionId: o.versionId });
  return old.length;
}

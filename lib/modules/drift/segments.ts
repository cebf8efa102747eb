/**
 * Reading serving's input segments (`serving/segments.ts`) back: the keys of a deployment's
 * window by its hour prefixes, and each segment's lines as a stream. The store is the drift
 * store: the data folder's `drift/` locally (the filesystem object store), `DRIFT_S3_BUCKET` on
 * AWS (`S3ObjectReader`: ListObjectsV2 and GetObject, nothing else).
 */
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { SEGMENT_PREFIX, segmentHour } from '../serving/segments.js';
import type { WindowQuery } from './domain.js';

const HOUR_MS = 3_600_000;

/** What the window reader needs of the drift store: keys under a prefix in key order, and an object's bytes. */
export interface SegmentSource {
  list(prefix: string): AsyncIterable<{ key: string; size?: number }>;
  get(key: string): Promise<Readable>;
}

/**
 * The drift store as the drift pipeline uses it: segments and stored objects read back, and its
 * own objects written (reports under `drift-reports/`, a run's plan and shard counts under
 * `drift-runs/`). Locally the data folder's `drift/` (FsObjectStore); on AWS `DRIFT_S3_BUCKET`.
 */
export interface DriftObjects extends SegmentSource {
  put(key: string, body: Uint8Array | string, opts?: { contentType?: string }): Promise<unknown>;
}

/** A segment of the window: its key and size (bytes) when the store says. */
export interface SegmentRef {
  key: string;
  size?: number;
}

/** The hour prefixes (`serving-inputs/<model>/<env>/<day>/<hh>/`) of every UTC hour [from, to) touches, in time order. */
export function hourPrefixes(q: Pick<WindowQuery, 'model' | 'env' | 'from' | 'to'>): string[] {
  const out: string[] = [];
  for (let t = Math.floor(q.from.getTime() / HOUR_MS) * HOUR_MS; t < q.to.getTime(); t += HOUR_MS) {
    const { day, hour } = segmentHour(new Date(t));
    out.push(`${SEGMENT_PREFIX}/${q.model}/${q.env}/${day}/${hour}/`);
  }
  return out;
}

/**
 * The segments of the hours the window touches, in key order (hour, then flush time). A
 * segment of an edge hour may hold lines outside [from, to): the reader skips those by `at`.
 */
export async function listSegments(source: SegmentSource, q: Pick<WindowQuery, 'model' | 'env' | 'from' | 'to'>): Promise<SegmentRef[]> {
  const out: SegmentRef[] = [];
  for (const prefix of hourPrefixes(q))
    for await (const o of source.list(prefix))
      if (o.key.endsWith('.jsonl')) out.push(o.size === undefined ? { key: o.key } : { key: o.key, size: o.size });
  return out;
}

/**
 * The lines of a segment with their 1-based numbers, streamed (empty lines skipped, still
 * numbered). Opens the object first, so a missing one fails here (OBJECT_NOT_FOUND), not mid-read.
 */
export async function segmentLines(source: SegmentSource, key: string): Promise<AsyncIterable<{ line: number; text: string }>> {
  const input = await source.get(key);
  return (async function* () {
    let n = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      n++;
      if (text.trim() !== '') yield { line: n, text };
    }
  })();
}

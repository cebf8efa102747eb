/**
 * Drift windows: what one pass over serving's input segments of a deployment counts for its
 * serving artifact, as shards that add. A shard is a list of whole segment keys; its
 * {@link ShardWindow} sums with another's ({@link mergeShards}), so a window planned into N
 * shards ({@link planShards}) and merged equals the window counted in one pass.
 */
import { AegisError } from '../../kernel/errors.js';
import { mergeWindows } from '../../kernel/drift/window-build.js';
import type { WindowProfile } from '../../kernel/drift/window.js';

/** Problems kept by name per window (the rest are only counted). */
export const MAX_NAMED_PROBLEMS = 10;
/** The longest window read in one go (its hour prefixes are listed one by one). */
export const MAX_WINDOW_HOURS = 31 * 24;

/** One window of a deployment's traffic for one serving artifact: `at` in [from, to). */
export interface WindowQuery {
  model: string;
  env: string;
  artifactId: string;
  from: Date;
  to: Date;
  /** only lines of these variants (`stable`, `canary`, `shadow`); all when absent */
  variants?: readonly string[];
}

/** A line that was not counted, named by its segment and 1-based line number. */
export interface LineProblem {
  key: string;
  line: number;
  problem: string;
}

/** Lines read but not counted in the profile, by reason. */
export interface Skipped {
  /** lines served by another artifact */
  otherArtifact: number;
  /** lines of a variant the query leaves out */
  otherVariant: number;
  /** lines of the listed hours whose `at` is outside [from, to) */
  outOfRange: number;
  /** bad lines: not JSON, missing or ill-typed fields, rows of the wrong width */
  bad: number;
}

/** The counts of one shard (whole segments); shards add ({@link mergeShards}). */
export interface ShardWindow {
  segments: number;
  lines: number;
  /** counted requests (lines), and the model's failures among them (predictions null) */
  requests: number;
  failed: number;
  /** single-row requests with a label in serving's feedback (a multi-row request's one label is not joined: which row?) */
  labelled: number;
  /** object-keyed inputs naming a feature the baseline does not know, by name */
  unknownFeatures: Record<string, number>;
  skipped: Skipped;
  /** the first {@link MAX_NAMED_PROBLEMS} problems by segment key and line */
  problems: LineProblem[];
  profile: WindowProfile;
}

/** A whole window: the query, its shards merged, and the baseline it was binned with. */
export interface ServingWindow extends ShardWindow {
  model: string;
  env: string;
  artifactId: string;
  from: string;
  to: string;
  baselineSha256: string;
}

const addRecords = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out: Record<string, number> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
};

const byKeyAndLine = (a: LineProblem, b: LineProblem) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.line - b.line);

/** The first problems of both, by key and line. */
export const firstProblems = (a: readonly LineProblem[], b: readonly LineProblem[]): LineProblem[] =>
  [...a, ...b].sort(byKeyAndLine).slice(0, MAX_NAMED_PROBLEMS);

/** The sum of two shards of the same window and baseline (any order). */
export function mergeShards(a: ShardWindow, b: ShardWindow): ShardWindow {
  return {
    segments: a.segments + b.segments,
    lines: a.lines + b.lines,
    requests: a.requests + b.requests,
    failed: a.failed + b.failed,
    labelled: a.labelled + b.labelled,
    unknownFeatures: addRecords(a.unknownFeatures, b.unknownFeatures),
    skipped: {
      otherArtifact: a.skipped.otherArtifact + b.skipped.otherArtifact,
      otherVariant: a.skipped.otherVariant + b.skipped.otherVariant,
      outOfRange: a.skipped.outOfRange + b.skipped.outOfRange,
      bad: a.skipped.bad + b.skipped.bad,
    },
    problems: firstProblems(a.problems, b.problems),
    profile: mergeWindows(a.profile, b.profile),
  };
}

/**
 * Splits segment keys into at most `n` shards of consecutive keys, as even as whole segments
 * allow (sizes when given, else one per key). Never an empty shard; no keys, no shards.
 */
export function planShards(keys: readonly (string | { key: string; size?: number })[], n: number): string[][] {
  if (!Number.isInteger(n) || n < 1) throw new AegisError('VALIDATION_FAILED', 'shards must be a positive integer', { field: 'shards' });
  const items = keys.map((k) => (typeof k === 'string' ? { key: k, size: 1 } : { key: k.key, size: Math.max(1, k.size ?? 1) }));
  const total = items.reduce((s, i) => s + i.size, 0);
  const k = Math.min(n, items.length);
  const shards: string[][] = [];
  let current: string[] = [];
  let done = 0;
  for (const [i, item] of items.entries()) {
    current.push(item.key);
    done += item.size;
    const left = items.length - i - 1;
    const toFill = k - shards.length - 1;
    if (left > 0 && toFill > 0 && (done >= (total * (shards.length + 1)) / k || left === toFill)) {
      shards.push(current);
      current = [];
    }
  }
  if (current.length) shards.push(current);
  return shards;
}

/** Checks a window query: a non-empty [from, to) of at most {@link MAX_WINDOW_HOURS} hours. */
export function checkQuery(q: WindowQuery): void {
  for (const f of ['model', 'env', 'artifactId'] as const)
    if (typeof q[f] !== 'string' || q[f] === '' || q[f].includes('/'))
      throw new AegisError('VALIDATION_FAILED', `${f} must be a name without /`, { field: f });
  for (const f of ['from', 'to'] as const)
    if (!(q[f] instanceof Date) || Number.isNaN(q[f].getTime()))
      throw new AegisError('VALIDATION_FAILED', `${f} must be a time`, { field: f });
  if (q.to.getTime() <= q.from.getTime()) throw new AegisError('VALIDATION_FAILED', 'to must be after from', { field: 'to' });
  if (q.to.getTime() - q.from.getTime() > MAX_WINDOW_HOURS * 3_600_000)
    throw new AegisError('VALIDATION_FAILED', `a window is at most ${MAX_WINDOW_HOURS} hours`, { field: 'to' });
}

/**
 * One segment line (`serving/segments.ts`) as rows for a window: the request's fields checked,
 * each input row (an array in feature order, or an object by feature name) as named cells, and
 * each prediction as the predicted label and the score the baseline's prediction histogram bins.
 * A line that cannot be read is a problem string naming what is wrong, never an exception.
 */
import type { BaselineProfile } from '../../kernel/baseline-profile.js';
import type { Cell } from '../../kernel/drift/window.js';

export interface SegmentLine {
  requestId: string;
  at: number;
  variant: string;
  artifactId: string;
  /** the input rows by feature name */
  rows: Record<string, Cell>[];
  /** per row: predicted label and score; null when the model failed */
  outcomes: { predicted: Cell; score: number | null }[] | null;
  /** object-keyed inputs' names the baseline does not know */
  unknown: string[];
}

const isScalar = (v: unknown): v is Cell =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

type Prediction = { label?: unknown; probabilities?: Record<string, unknown>; value?: unknown };

/**
 * How a prediction gives the baseline's score (`baseline.predictions.score`): `p(<class>)` is
 * that class's probability, `max(p)` the largest probability, any other name a probability by
 * that name or else a regressor's value.
 */
export function scoreOf(score: string | undefined): (p: Prediction) => number | null {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  if (score === undefined) return () => null;
  const cls = /^p\((.*)\)$/.exec(score)?.[1];
  if (cls !== undefined) return (p) => num(p.probabilities?.[cls]);
  if (score === 'max(p)')
    return (p) => {
      const ps = Object.values(p.probabilities ?? {}).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      return ps.length ? Math.max(...ps) : null;
    };
  return (p) => num(p.probabilities?.[score]) ?? num(p.value);
}

function rowOf(raw: unknown, i: number, features: readonly string[], unknown: string[]): Record<string, Cell> | string {
  const row: Record<string, Cell> = {};
  if (Array.isArray(raw)) {
    if (raw.length !== features.length) return `inputs[${i}] has ${raw.length} values; the baseline has ${features.length} features`;
    for (const [j, v] of raw.entries()) {
      if (!isScalar(v)) return `inputs[${i}][${j}] is not a number, string, boolean or null`;
      row[features[j]!] = v;
    }
    return row;
  }
  if (raw === null || typeof raw !== 'object') return `inputs[${i}] is neither an array nor an object`;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!features.includes(k)) {
      unknown.push(k);
      continue;
    }
    if (!isScalar(v)) return `inputs[${i}].${k} is not a number, string, boolean or null`;
    row[k] = v;
  }
  return row;
}

const text = (o: Record<string, unknown>, f: string): string | undefined =>
  typeof o[f] === 'string' && o[f] !== '' ? (o[f] as string) : undefined;

/** Reads one line; a string is the problem with it. */
export function parseLine(line: string, baseline: BaselineProfile, score: (p: Prediction) => number | null): SegmentLine | string {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 'not a JSON object';
  const r = o as Record<string, unknown>;
  const requestId = text(r, 'requestId');
  const variant = text(r, 'variant');
  const artifactId = text(r, 'artifactId');
  for (const [f, v] of [
    ['requestId', requestId],
    ['variant', variant],
    ['artifactId', artifactId],
  ] as const)
    if (v === undefined) return `${f} is missing`;
  const at = typeof r.at === 'string' ? Date.parse(r.at) : NaN;
  if (Number.isNaN(at)) return 'at is not a time';
  if (!Array.isArray(r.inputs) || r.inputs.length === 0) return 'inputs is not a non-empty array';
  const preds = r.predictions;
  if (preds !== null && (!Array.isArray(preds) || preds.length !== r.inputs.length))
    return `predictions must be null or one per input row (${r.inputs.length})`;
  const unknown: string[] = [];
  const rows: Record<string, Cell>[] = [];
  for (const [i, raw] of r.inputs.entries()) {
    const row = rowOf(raw, i, baseline.featureOrder, unknown);
    if (typeof row === 'string') return row;
    rows.push(row);
  }
  let outcomes: SegmentLine['outcomes'] = null;
  if (preds !== null) {
    outcomes = [];
    for (const [i, p] of (preds as unknown[]).entries()) {
      if (p === null || typeof p !== 'object') return `predictions[${i}] is not an object`;
      const label = (p as Prediction).label;
      outcomes.push({ predicted: isScalar(label) ? label : null, score: score(p as Prediction) });
    }
  }
  return { requestId: requestId!, at, variant: variant!, artifactId: artifactId!, rows, outcomes, unknown };
}

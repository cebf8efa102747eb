/**
 * The pure half of `aegis drift sample`: the sample table it trains on, the two streams it
 * serves (rows drawn from the table by a seeded generator, the second with one feature shifted
 * by a number of its standard deviations), how a stream is cut into requests, and the drill's
 * verdict over the two windows. The same table, seed and shift give the same rows on every machine.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createPrng } from '../training/prng.js';
import type { DriftReportRecord, DriftRun, RetrainSuggestion } from '../../modules/drift/records.js';
import { CliError } from './context.js';
import { isNumericColumn, readTable } from './drift-csv.js';

/** The training table as the built-in trainer reads it: every column but `label` is a feature. */
export interface SampleTable {
  file: string;
  features: string[];
  /** per feature: numeric (served as numbers) or not (served as the text) */
  numeric: boolean[];
  rows: { cells: string[]; label: string }[];
}

/** `FEATURE=+Ksd`: the drifted stream adds K standard deviations (of the training data) to FEATURE. */
export interface Shift {
  feature: string;
  sds: number;
}

export interface StreamRow {
  inputs: Record<string, number | string>;
  label: string;
}

/** One predict request: a single labelled row (its label sent back as feedback) or a batch. */
export interface Request {
  rows: StreamRow[];
  labelled: boolean;
}

/** The sample's `train.csv` (a folder holding one, or the file), with a `label` column. */
export function readSampleTable(path: string): SampleTable {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'train.csv') : path;
  const t = readTable(file, '--data');
  const labelAt = t.header.indexOf('label');
  if (labelAt < 0) throw new CliError(`--data ${file}: no label column (the built-in trainer's target)`, 2);
  const cols = t.header.map((_, i) => i).filter((i) => i !== labelAt);
  if (cols.length === 0) throw new CliError(`--data ${file}: no feature columns besides the label`, 2);
  return {
    file,
    features: cols.map((i) => t.header[i]!),
    numeric: cols.map((i) => isNumericColumn(t, i)),
    rows: t.rows.map((r) => ({ cells: cols.map((i) => r[i]!), label: r[labelAt]! })),
  };
}

const SHIFT = /^([^=]+)=([+-]?(?:\d+\.?\d*|\.\d+))sd$/;

/** The shift option, checked against the table; default: the first numeric feature, +1.5 sd. */
export function parseShift(text: string | undefined, table: SampleTable): Shift {
  if (text === undefined) {
    const at = table.numeric.indexOf(true);
    if (at < 0) throw new CliError(`--data ${table.file}: no numeric feature to shift (give --shift FEATURE=+Ksd)`, 2);
    return { feature: table.features[at]!, sds: 1.5 };
  }
  const m = SHIFT.exec(text.trim());
  if (!m) throw new CliError(`--shift ${text}: expected FEATURE=+Ksd, e.g. age=+1.5sd`, 2);
  const at = table.features.indexOf(m[1]!);
  if (at < 0)
    throw new CliError(`--shift ${text}: ${JSON.stringify(m[1])} is not a feature of ${table.file} (${table.features.join(', ')})`, 2);
  if (!table.numeric[at]) throw new CliError(`--shift ${text}: ${m[1]} is not numeric: only a numeric feature can be shifted`, 2);
  const sds = Number(m[2]);
  if (sds === 0) throw new CliError(`--shift ${text}: a shift of 0 sd is no drift`, 2);
  return { feature: m[1]!, sds };
}

/** The sample standard deviation of a numeric feature over the table. */
export function featureSd(table: SampleTable, feature: string): number {
  const at = table.features.indexOf(feature);
  const xs = table.rows.map((r) => Number(r.cells[at]));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
}

/**
 * `n` rows drawn with replacement from the table by the seeded generator, each with its true
 * label; with a shift, that feature moved by `sds` standard deviations (the labels stay: the
 * world the model was trained on no longer holds for the shifted inputs).
 */
export function drawStream(table: SampleTable, n: number, seed: number, shift?: Shift): StreamRow[] {
  const rng = createPrng(seed);
  const delta = shift ? shift.sds * featureSd(table, shift.feature) : 0;
  const out: StreamRow[] = [];
  for (let i = 0; i < n; i++) {
    const row = table.rows[rng.int(table.rows.length)]!;
    const inputs: Record<string, number | string> = {};
    table.features.forEach((f, j) => {
      const cell = row.cells[j]!;
      inputs[f] = table.numeric[j] && cell !== '' ? Number(cell) + (shift?.feature === f ? delta : 0) : cell;
    });
    out.push({ inputs, label: row.label });
  }
  return out;
}

/**
 * The requests of a stream: its first `labelled` rows one per request (drift joins a label to
 * a single-row request only), the rest in batches of `batch` rows.
 */
export function toRequests(stream: readonly StreamRow[], o: { batch: number; labelled: number }): Request[] {
  const out: Request[] = [];
  const single = Math.min(o.labelled, stream.length);
  for (let i = 0; i < single; i++) out.push({ rows: [stream[i]!], labelled: true });
  for (let i = single; i < stream.length; i += o.batch) out.push({ rows: stream.slice(i, i + o.batch), labelled: false });
  return out;
}

/** What a window of the drill produced: its run, and the report and suggestion when there are. */
export interface WindowResult {
  name: 'baseline-like' | 'drifted';
  run: DriftRun;
  record: DriftReportRecord | undefined;
}

/**
 * The drill holds when the baseline-like window raised no suggestion and the drifted one raised
 * exactly one: its report names it, and it is the only suggestion of the serving artifact.
 * Otherwise, what differed.
 */
export function judgeDrill(
  baseline: WindowResult,
  drifted: WindowResult,
  ofArtifact: readonly RetrainSuggestion[],
): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  for (const w of [baseline, drifted]) {
    if (w.run.status !== 'succeeded')
      problems.push(`the ${w.name} run ${w.run.runId} ended ${w.run.status}${w.run.error ? `: ${w.run.error}` : ''}`);
    else if (!w.record) problems.push(`the ${w.name} run ${w.run.runId} succeeded without a report`);
  }
  if (baseline.record?.suggestionId)
    problems.push(
      `the baseline-like window raised suggestion ${baseline.record.suggestionId} (verdict ${baseline.record.verdict}; ${reasonsText(baseline.record)})`,
    );
  if (drifted.record && !drifted.record.suggestionId)
    problems.push(`the drifted window raised no suggestion (verdict ${drifted.record.verdict}; ${reasonsText(drifted.record)})`);
  if (ofArtifact.length !== 1 && drifted.record)
    problems.push(
      `${ofArtifact.length} suggestions name the serving artifact, expected exactly 1${ofArtifact.length ? ` (${ofArtifact.map((s) => s.suggestionId).join(', ')})` : ''}`,
    );
  else if (drifted.record?.suggestionId && ofArtifact[0] && ofArtifact[0].suggestionId !== drifted.record.suggestionId)
    problems.push(`the drifted report names suggestion ${drifted.record.suggestionId}, the artifact's is ${ofArtifact[0].suggestionId}`);
  return { ok: problems.length === 0, problems };
}

/** A report's reasons in one line. */
export function reasonsText(r: Pick<DriftReportRecord, 'summary'>): string {
  const reasons = r.summary.reasons;
  if (reasons.length === 0) return 'no reasons';
  return reasons
    .map((x) => `${x.detector}${x.feature ? ` ${x.feature}` : ''} ${x.metric} ${fmt(x.value)} (threshold ${fmt(x.threshold)})`)
    .join('; ');
}

export const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(4));

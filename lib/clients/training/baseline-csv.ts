/**
 * `aegis baseline`: a baseline profile (v2) of any model's training CSV, so drift detection
 * works for models the built-in trainer did not train. Without a model there are no holdout
 * scores, metrics or top features: only the features and (with a label column) the labels.
 */
import { parse } from 'csv-parse/sync';
import { buildBaseline, type BaselineColumn } from '../../kernel/baseline-build.js';
import type { BaselineProfile } from '../../kernel/baseline-profile.js';
import { AegisError } from '../../kernel/errors.js';

// Plain decimal numbers only: Number() would also accept "0x1f" and " ".
const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
/** Spellings of non-finite numbers: refused in a numeric column, never read as a category there. */
const NON_FINITE = /^[-+]?(nan|inf|infinity)$/i;

const invalid = (message: string, field: string): AegisError => new AegisError('VALIDATION_FAILED', message, { field });

type Row = { record: string[]; info: { lines: number } };

function readRows(text: string, path: string): { header: string[]; body: Row[] } {
  let rows: Row[];
  try {
    rows = parse(text, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as Row[];
  } catch (e) {
    throw invalid(`${path}: not valid CSV: ${(e as Error).message}`, 'data');
  }
  const header = rows[0]?.record;
  if (!header) throw invalid(`${path} is empty: a header row is required`, 'data');
  if (header.some((h) => h === '')) throw invalid(`${path}: column ${header.indexOf('') + 1} of the header has no name`, 'data');
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw invalid(`${path}: column "${dup}" appears twice in the header`, 'data');
  const body = rows.slice(1);
  if (body.length === 0) throw invalid(`${path} has a header but no data rows`, 'data');
  for (const [i, { record, info }] of body.entries())
    if (record.length !== header.length)
      throw invalid(`${path}: row ${i + 1} (line ${info.lines}) has ${record.length} fields, the header ${header.length}`, 'data');
  return { header, body };
}

/**
 * A column is numeric when every non-empty value is a number; a NaN or infinite value in it is
 * refused (naming row and column). Otherwise, and for a column with no values, categorical.
 */
function column(name: string, c: number, body: Row[], path: string): BaselineColumn {
  const cells = body.map(({ record }) => record[c] as string);
  const present = cells.filter((v) => v !== '');
  const numberLike = present.length > 0 && present.every((v) => NUMERIC.test(v) || NON_FINITE.test(v));
  if (!numberLike) return { name, kind: 'categorical', values: cells.map((v) => (v === '' ? null : v)) };
  const values = cells.map((v, i) => {
    if (v === '') return null;
    const x = NUMERIC.test(v) ? Number(v) : NaN; // "1e999" passes the pattern but is Infinity
    if (!Number.isFinite(x))
      throw invalid(`${path}: row ${i + 1} (line ${body[i]!.info.lines}), column "${name}": "${v}" is not a finite number`, name);
    return x;
  });
  return { name, kind: 'numeric', values };
}

/**
 * The v2 profile of a CSV's rows (header first, `""` missing). `label`: the label column, profiled
 * as the label distribution and left out of the features (`labelOptional`: profile without a
 * label when the header has no such column, instead of refusing).
 *
 * @throws AegisError VALIDATION_FAILED naming the file, row, line and column at fault: an empty file,
 *   no data rows, a ragged row, an unknown label, a NaN or infinite number in a numeric column.
 */
export function baselineFromCsv(text: string, path: string, opts: { label?: string; labelOptional?: boolean } = {}): BaselineProfile {
  const { header, body } = readRows(text, path);
  const labelAt = opts.label === undefined ? -1 : header.indexOf(opts.label);
  if (opts.labelOptional && labelAt < 0) return baselineFromCsv(text, path, {});
  if (opts.label !== undefined && labelAt < 0)
    throw invalid(`${path}: label column "${opts.label}" is not in the header (${header.join(', ')})`, 'label');
  const columns = header.flatMap((name, c) => (c === labelAt ? [] : [column(name, c, body, path)]));
  if (columns.length === 0) throw invalid(`${path}: no feature columns besides the label`, 'data');
  return buildBaseline({
    columns,
    ...(opts.label === undefined
      ? {}
      : { label: { column: opts.label, values: body.map(({ record }) => (record[labelAt] === '' ? null : (record[labelAt] as string))) } }),
  });
}

/**
 * CSV input of `aegis drift compare`: a header row of column names, then data rows. Column
 * types come from the reference file: numeric when every non-empty value parses as a finite
 * number, else categorical. NaN and ±Infinity cells in a numeric column are refused (naming
 * file, line and column); text in a numeric column of the current file is a `type-mismatch`
 * finding, not an error.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { CliError } from './context.js';

export interface Table {
  file: string;
  flag: string;
  header: string[];
  rows: string[][];
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const NON_FINITE = /^[-+]?(nan|inf|infinity)$/i;

/** A CSV file as a header and rows of trimmed strings; exit 2 naming the file when it is unreadable, empty or ragged. */
export function readTable(file: string, flag: string): Table {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`${flag} ${file}: ${(e as Error).message}`, 2);
  }
  let records: string[][];
  try {
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: false }) as string[][];
  } catch (e) {
    throw new CliError(`${flag} ${file}: not valid CSV: ${(e as Error).message}`, 2);
  }
  const [header, ...rows] = records;
  if (!header || header.every((h) => h === '')) throw new CliError(`${flag} ${file}: empty file (no header row)`, 2);
  if (rows.length === 0) throw new CliError(`${flag} ${file}: no data rows after the header`, 2);
  const seen = new Set<string>();
  header.forEach((h, i) => {
    if (h === '') throw new CliError(`${flag} ${file}: column ${i + 1} of the header has no name`, 2);
    if (seen.has(h)) throw new CliError(`${flag} ${file}: column ${JSON.stringify(h)} appears twice in the header`, 2);
    seen.add(h);
  });
  return { file, flag, header, rows };
}

/** The position of each named column, or exit 2 naming what is missing. */
export function columnIndex(t: Table, names: readonly string[], why: string): Map<string, number> {
  const at = new Map(t.header.map((h, i) => [h, i]));
  const missing = names.filter((n) => !at.has(n));
  if (missing.length)
    throw new CliError(`${t.flag} ${t.file}: missing column(s) ${missing.map((m) => JSON.stringify(m)).join(', ')} (${why})`, 2);
  return at;
}

/** True when every non-empty cell of the column is a number (NaN/inf included, refused later) and one is finite. */
export function isNumericColumn(t: Table, col: number): boolean {
  let finite = 0;
  for (const r of t.rows) {
    const v = r[col]!;
    if (v === '') continue;
    if (NUMBER.test(v)) finite++;
    else if (!NON_FINITE.test(v)) return false;
  }
  return finite > 0;
}

/** Refuses NaN/inf cells of a numeric column, naming file, line (the header is line 1) and column. */
export function checkFinite(t: Table, col: number, name: string): void {
  t.rows.forEach((r, i) => {
    if (NON_FINITE.test(r[col]!))
      throw new CliError(`${t.flag} ${t.file}: line ${i + 2}, column ${JSON.stringify(name)}: ${r[col]} is not a finite number`, 2);
  });
}

/** A numeric column's finite values (empty cells and text skipped), sorted ascending. */
export function sortedNumbers(t: Table, col: number): Float64Array {
  const out: number[] = [];
  for (const r of t.rows) if (NUMBER.test(r[col]!)) out.push(Number(r[col]));
  return Float64Array.from(out).sort();
}

/** Cells of the column that are neither empty nor numbers: how many, and the first (line, value). */
export function textCells(t: Table, col: number): { count: number; first?: { line: number; value: string } } {
  let count = 0;
  let first: { line: number; value: string } | undefined;
  t.rows.forEach((r, i) => {
    const v = r[col]!;
    if (v !== '' && !NUMBER.test(v)) {
      count++;
      first ??= { line: i + 2, value: v };
    }
  });
  return first ? { count, first } : { count };
}

/**
 * `aegis drift compare`: offline drift detection between two CSV files (or a baseline profile
 * and a CSV), no server. Exit codes: 0 no drift (or too few rows to decide), 1 drift found,
 * 2 usage or input error (unreadable, empty or ragged files, unknown or missing columns,
 * NaN/inf cells, a bad baseline).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { BaselineFormatError, readBaseline, type BaselineProfile } from '../../kernel/baseline-profile.js';
import { detectDrift, type RawSamples } from '../../kernel/drift/decide.js';
import { profileColumns, type ReferenceColumn } from '../../kernel/drift/reference.js';
import { windowAccumulator } from '../../kernel/drift/window-build.js';
import { sha256Hex } from '../../kernel/canonical.js';
import { parseJsonStrict } from '../../kernel/json.js';
import { CliError, type CliContext } from './context.js';
import { driftApiCommands } from './drift-api-commands.js';
import { checkFinite, columnIndex, isNumericColumn, readTable, sortedNumbers, textCells, type Table } from './drift-csv.js';
import { formatReport, type Finding } from './drift-format.js';
import { driftSampleCommand } from './drift-sample.js';

interface CompareOptions {
  reference?: string;
  current: string;
  baseline?: string;
  manifest?: string;
  label?: string;
}

/** The baseline.json the manifest pins (`baselineSha256`) must be this file: a swapped baseline is refused. */
function checkPinned(file: string, bytes: Buffer, manifestFile: string): void {
  let manifest: { baselineSha256?: unknown };
  try {
    manifest = parseJsonStrict(readFileSync(manifestFile, 'utf8')) as typeof manifest;
  } catch (e) {
    throw new CliError(`--manifest ${manifestFile}: ${(e as Error).message}`, 2);
  }
  const pinned = manifest?.baselineSha256;
  if (typeof pinned !== 'string') throw new CliError(`--manifest ${manifestFile}: the manifest pins no baseline (no baselineSha256)`, 2);
  const actual = sha256Hex(bytes);
  if (actual !== pinned)
    throw new CliError(
      `--baseline ${file}: sha256 ${actual} is not the manifest's baselineSha256 ${pinned} (--manifest ${manifestFile})`,
      2,
    );
}

function loadBaseline(file: string, manifest: string | undefined): BaselineProfile {
  let json: unknown;
  try {
    const bytes = readFileSync(file);
    if (manifest) checkPinned(file, bytes, manifest);
    json = parseJsonStrict(bytes.toString('utf8'));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`--baseline ${file}: ${(e as Error).message}`, 2);
  }
  try {
    return readBaseline(json);
  } catch (e) {
    if (e instanceof BaselineFormatError) throw new CliError(`--baseline ${file}: ${e.message}`, 2);
    throw e;
  }
}

/** The reference profile from the reference CSV: every column but the label is a feature. */
function profileFromReference(ref: Table, label: string | undefined): BaselineProfile {
  const columns: ReferenceColumn[] = [];
  ref.header.forEach((name, col) => {
    if (name === label) return;
    if (isNumericColumn(ref, col)) {
      checkFinite(ref, col, name);
      columns.push({ name, kind: 'numeric', values: Float64Array.from(ref.rows, (r) => (r[col] === '' ? NaN : Number(r[col]))) });
    } else columns.push({ name, kind: 'categorical', values: ref.rows.map((r) => (r[col] === '' ? null : r[col]!)) });
  });
  if (columns.length === 0) throw new CliError(`${ref.flag} ${ref.file}: no feature columns besides the label`, 2);
  const l = label === undefined ? undefined : ref.header.indexOf(label);
  return profileColumns(
    columns,
    l === undefined ? undefined : { column: label!, values: ref.rows.map((r) => (r[l] === '' ? null : r[l]!)) },
  );
}

function labelColumn(o: CompareOptions, ref: Table | undefined, baseline: BaselineProfile | undefined, cur: Table): string | undefined {
  const name = o.label ?? baseline?.label?.column ?? 'label';
  const inRef = ref ? ref.header.includes(name) : !!baseline?.label;
  if (o.label !== undefined && ref && !inRef)
    throw new CliError(`--reference ${ref.file}: no label column ${JSON.stringify(name)} (--label)`, 2);
  if (inRef && !cur.header.includes(name) && o.label !== undefined)
    throw new CliError(`--current ${cur.file}: no label column ${JSON.stringify(name)} (--label)`, 2);
  return inRef ? name : undefined;
}

function checkColumns(cur: Table, baseline: BaselineProfile, label: string | undefined): Map<string, number> {
  const at = columnIndex(cur, baseline.featureOrder, 'a feature of the reference');
  const unknown = cur.header.filter((h) => h !== label && !baseline.features[h]);
  if (unknown.length)
    throw new CliError(
      `--current ${cur.file}: unknown column(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')} (not in the reference)`,
      2,
    );
  return at;
}

function compare(o: CompareOptions) {
  if (!o.reference && !o.baseline) throw new CliError('drift compare needs --reference, --baseline or both', 2);
  if (o.manifest && !o.baseline) throw new CliError('--manifest checks the --baseline it pins: give --baseline too', 2);
  const cur = readTable(o.current, '--current');
  const ref = o.reference ? readTable(o.reference, '--reference') : undefined;
  const fromFile = o.baseline ? loadBaseline(o.baseline, o.manifest) : undefined;
  const label = labelColumn(o, ref, fromFile, cur);
  const baseline = fromFile ?? profileFromReference(ref!, label);
  const at = checkColumns(cur, baseline, label);
  const refAt =
    ref && fromFile
      ? columnIndex(ref, baseline.featureOrder, 'a feature of the baseline')
      : ref
        ? new Map(ref.header.map((h, i) => [h, i]))
        : undefined;
  const findings: Finding[] = [];
  const raw: RawSamples = {};
  for (const name of baseline.featureOrder) {
    if (baseline.features[name]!.kind !== 'numeric') continue;
    const col = at.get(name)!;
    checkFinite(cur, col, name);
    const text = textCells(cur, col);
    if (text.count > 0)
      findings.push({
        finding: 'type-mismatch',
        column: name,
        file: cur.file,
        count: text.count,
        ...(text.first ? { first: text.first } : {}),
      });
    if (ref && refAt) raw[name] = { reference: sortedNumbers(ref, refAt.get(name)!), current: sortedNumbers(cur, col) };
  }
  const acc = windowAccumulator(baseline);
  const labelAt = label === undefined ? -1 : cur.header.indexOf(label);
  for (const r of cur.rows) {
    const features: Record<string, string> = {};
    for (const [name, col] of at) features[name] = r[col]!;
    acc.add(labelAt >= 0 ? { features, label: r[labelAt]! } : { features });
  }
  const report = detectDrift(baseline, acc.profile(), {}, raw);
  return { ...report, reference: o.baseline ?? o.reference!, current: o.current, labelColumn: label ?? null, findings };
}

/** aegis drift compare (offline), and the server's runs, reports and suggestions (drift-api-commands.ts). */
export function driftCommands(program: Command, ctx: CliContext): void {
  const drift = program
    .command('drift')
    .description("drift detection: offline against a reference (compare), or the server's runs, reports and retrain suggestions");
  drift
    .command('compare')
    .description(
      'compare a current CSV with a reference CSV (or a baseline profile): per column every statistic and drift: true|false; exit 1 on drift',
    )
    .option('--reference <csv>', 'the reference data (header row, then rows); its columns decide numeric vs categorical')
    .requiredOption('--current <csv>', 'the data to check, same columns as the reference')
    .option('--baseline <file>', 'a baseline profile (aegis.baseline/v2 or v1): its bins are the reference')
    .option('--manifest <file>', "the artifact's training manifest: the --baseline must be the one its baselineSha256 pins")
    .option('--label <column>', 'the label column (default: label, when present)')
    .action((o: CompareOptions) => {
      const report = compare(o);
      ctx.out(formatReport(report), report);
      if (report.drift) process.exitCode = 1;
    });
  driftApiCommands(drift, ctx);
  driftSampleCommand(drift, ctx);
}

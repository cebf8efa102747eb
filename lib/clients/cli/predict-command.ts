import { extname } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse } from 'csv-parse/sync';
import { parseJsonStrict } from '../../kernel/json.js';
import type { PredictReply } from '../../platform/http/schemas.js';
import { CliError, type CliContext } from './context.js';

// Plain decimal numbers only, as the trainer reads its CSV; anything else is sent as text for the server to name.
const NUMERIC = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** Rows from a JSON file (an array of rows, or `{ "inputs": [...] }`) or a CSV with a header of feature names. */
export function readInputs(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`--input ${file}: ${(e as Error).message}`, 2);
  }
  if (extname(file).toLowerCase() === '.csv') {
    let rows: Record<string, string>[];
    try {
      rows = parse(text, { columns: true, bom: true, trim: true, skip_empty_lines: true }) as Record<string, string>[];
    } catch (e) {
      throw new CliError(`--input ${file}: not valid CSV: ${(e as Error).message}`, 2);
    }
    return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, NUMERIC.test(v) ? Number(v) : v])));
  }
  let doc: unknown;
  try {
    doc = parseJsonStrict(text);
  } catch (e) {
    throw new CliError(`--input ${file}: not valid JSON: ${(e as Error).message}`, 2);
  }
  const inputs = Array.isArray(doc) ? doc : (doc as { inputs?: unknown } | null)?.inputs;
  if (!Array.isArray(inputs)) throw new CliError(`--input ${file}: expected an array of rows or { "inputs": [...] }`, 2);
  return inputs;
}

const describe = (r: PredictReply): string =>
  [
    `${r.predictions.length} prediction(s) by ${r.model} in ${r.env}: ${r.variant} artifact ${r.artifactId} (manifest signature ${r.manifestSignatureId}), request ${r.requestId}`,
    ...r.predictions.map((p, i) => {
      const probs = p.probabilities
        ? ` (${Object.entries(p.probabilities)
            .map(([c, v]) => `${c} ${v.toFixed(4)}`)
            .join(', ')})`
        : '';
      return `  [${i}] ${p.label ?? p.value ?? ''}${probs}`;
    }),
  ].join('\n');

/** aegis predict: the model serving an environment answers the rows of a JSON or CSV file. */
export function predictCommand(program: Command, ctx: CliContext): void {
  program
    .command('predict')
    .description('predict with the model serving an environment (the canary or the stable, as the split assigns the request)')
    .requiredOption('--model <name>', 'the model')
    .requiredOption('--env <env>', 'the environment')
    .requiredOption(
      '--input <file>',
      'rows: a JSON array (objects keyed by feature name, or arrays in training order), or a CSV with a header',
    )
    .option('--subject <id>', 'sticky routing key: the same subject always gets the same variant during a canary')
    .action(async (o: { model: string; env: string; input: string; subject?: string }) => {
      const inputs = readInputs(o.input);
      const r = await (
        await ctx.client()
      ).request<PredictReply>('POST', `/v1/serving/${encodeURIComponent(o.model)}/${encodeURIComponent(o.env)}/predict`, {
        inputs,
        ...(o.subject ? { subjectId: o.subject } : {}),
      });
      ctx.out(describe(r), r);
    });
}

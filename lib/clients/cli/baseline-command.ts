import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { canonicalJson, sha256Hex } from '../../kernel/canonical.js';
import { baselineFromCsv } from '../training/baseline-csv.js';
import { CliError, type CliContext } from './context.js';

/** The label column `aegis baseline` and `aegis drift compare` assume when none is named. */
const DEFAULT_LABEL_COLUMN = 'label';

/** aegis baseline: the drift baseline (v2) of a training CSV, offline. */
export function baselineCommand(program: Command, ctx: CliContext): void {
  program
    .command('baseline')
    .description(
      'write the drift baseline profile (aegis.baseline/v2, canonical JSON) of a training CSV: numeric columns binned, categorical columns by top categories, the label distribution; offline',
    )
    .requiredOption('--data <csv>', 'the training CSV (header row; an empty cell is missing)')
    .option(
      '--label <column>',
      'the label column (profiled as the label distribution, not a feature); default: `label` when the header has it',
    )
    .option('--no-label', 'profile every column as a feature, even one named `label`')
    .option('--out <file>', 'where to write the baseline (default: stdout); its sha256 goes to stderr')
    .action(async (o: { data: string; label?: string | false; out?: string }) => {
      const text = await readFile(o.data, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read ${o.data}: ${e.code ?? e.message}`, 2);
      });
      const profile = baselineFromCsv(
        text,
        o.data,
        o.label === false ? {} : { label: o.label ?? DEFAULT_LABEL_COLUMN, labelOptional: o.label === undefined },
      );
      const body = `${canonicalJson(profile)}\n`;
      const sha256 = sha256Hex(body);
      const summary = { sha256, rows: profile.rows, features: profile.featureOrder.length, ...(o.out ? { out: o.out } : {}) };
      if (!o.out) {
        process.stdout.write(body);
        process.stderr.write(`baseline sha256 ${sha256} (${profile.rows} rows, ${profile.featureOrder.length} features)\n`);
        return;
      }
      // written beside, then renamed: --out holds either nothing new or the whole baseline
      const part = `${o.out}.${process.pid}.part`;
      try {
        await writeFile(part, body);
        await rename(part, o.out);
      } catch (e) {
        await rm(part, { force: true });
        throw new CliError(`cannot write ${o.out}: ${(e as Error).message}`);
      }
      if (!ctx.globals.json) process.stderr.write(`baseline sha256 ${sha256}\n`);
      ctx.out(`wrote ${o.out}: ${profile.rows} rows, ${profile.featureOrder.length} features`, summary);
    });
}

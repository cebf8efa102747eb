/**
 * `aegis drift sample`: the drift drill against the configured server (runbooks/drift_drill.md).
 * Trains the sample model reproducibly (train --record semantics, the built-in trainer),
 * registers it, promotes it with no canary stage, serves it a baseline-like stream then a
 * drifted one through predict (and label feedback), requests a drift run over each window and
 * shows both reports and the suggestion. Exit 0 only when the baseline-like window raised no
 * suggestion and the drifted one exactly one; 1 otherwise, naming what differed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { TARGET_ENVS } from '../../kernel/policy.js';
import type { RetrainSuggestion } from '../../modules/drift/records.js';
import type { AegisClient } from '../http/client.js';
import type { Reporter } from '../training/record.js';
import { CliError, type CliContext } from './context.js';
import {
  drawStream,
  judgeDrill,
  parseShift,
  readSampleTable,
  toRequests,
  type SampleTable,
  type Shift,
  type WindowResult,
} from './drift-sample-streams.js';
import { promoteNow, runWindow, serveStream, suggestionsOf, trainSample, type Served } from './drift-sample-steps.js';
import { describeSuggestion, describeWindow } from './drift-sample-format.js';

export interface SampleOptions {
  model: string;
  env: string;
  rows: string;
  shift?: string;
  seed: string;
  data: string;
  batch: string;
  labelled: string;
  flushWait: string;
  runTimeout: string;
  codeRef?: string;
  containerDigest?: string;
  keep: boolean;
}

// the drifted stream's generator: another seed from the same one, so the two streams differ
const DRIFT_SEED_MIX = 0x9e3779b9;
// no container runs the built-in trainer: the all-zero digest says so (as the local scripts do)
const NO_CONTAINER = `sha256:${'0'.repeat(64)}`;

function int(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) throw new CliError(`${flag} ${v}: must be an integer from ${min} to ${max}`, 2);
  return n;
}

function checkOptions(o: SampleOptions) {
  return {
    rows: int('--rows', o.rows, 1, 1_000_000),
    seed: int('--seed', o.seed, 0, 2 ** 32 - 1),
    batch: int('--batch', o.batch, 1, 1000),
    labelled: int('--labelled', o.labelled, 0, 1_000_000),
    flushWaitMs: int('--flush-wait', o.flushWait, 0, 3600) * 1000,
    runTimeoutMs: int('--run-timeout', o.runTimeout, 1, 3600) * 1000,
  };
}

/** A stream served, with the window [from, to) it falls in and what was sent. */
interface Window {
  from: Date;
  to: Date;
  served: Served;
}

async function serveBoth(
  api: AegisClient,
  say: Reporter,
  o: SampleOptions,
  n: ReturnType<typeof checkOptions>,
  table: SampleTable,
  shift: Shift,
  tag: string,
): Promise<{ baseline: Window; drifted: Window }> {
  const cut = (seed: number, s?: Shift) => toRequests(drawStream(table, n.rows, seed, s), { batch: n.batch, labelled: n.labelled });
  const t0 = new Date(Date.now() - 1000);
  const first = await serveStream(api, { model: o.model, env: o.env, tag: `${tag}-b`, requests: cut(n.seed) });
  say.step(`served the baseline-like stream: ${first.rows} rows in ${first.requests} requests, ${first.labels} labels sent back`);
  // t1 is the middle of a pause: a line of either stream stays on its side even with a little clock skew
  await new Promise((r) => setTimeout(r, 500));
  const t1 = new Date();
  await new Promise((r) => setTimeout(r, 500));
  const second = await serveStream(api, {
    model: o.model,
    env: o.env,
    tag: `${tag}-d`,
    requests: cut((n.seed ^ DRIFT_SEED_MIX) >>> 0, shift),
  });
  const t2 = new Date(Date.now() + 1000);
  say.step(
    `served the drifted stream (${shift.feature} ${shift.sds > 0 ? '+' : ''}${shift.sds} sd): ${second.rows} rows in ${second.requests} requests, ${second.labels} labels sent back`,
  );
  return { baseline: { from: t0, to: t1, served: first }, drifted: { from: t1, to: t2, served: second } };
}

/** What `aegis drift sample --json` prints. */
export interface DriftSampleResult {
  ok: boolean;
  problems: string[];
  model: string;
  env: string;
  artifactId: string;
  artifactSha256: string;
  promotionId: string;
  shift: Shift;
  windows: unknown[];
  suggestion: RetrainSuggestion | null;
}

/** The defaults of `aegis drift sample`'s options (the acceptance runs it with these too). */
export const DRIFT_SAMPLE_DEFAULTS = {
  model: 'drift-sample',
  env: 'staging',
  rows: '3000',
  seed: '7',
  data: 'test/data/sample',
  batch: '50',
  labelled: '300',
  flushWait: '12',
  runTimeout: '300',
  keep: false,
} as const satisfies SampleOptions;

/** The drill's outcome: `lines` for a person, `result` for --json (and the acceptance's evidence). */
export async function runDriftSample(
  api: AegisClient,
  say: Reporter,
  o: SampleOptions & { containerDigest: string },
): Promise<{ lines: string[]; result: DriftSampleResult }> {
  const n = checkOptions(o);
  const table = readSampleTable(o.data);
  const shift = parseShift(o.shift, table);
  const work = await mkdtemp(join(tmpdir(), 'aegis-drift-sample-'));
  try {
    say.step(`1/6 training ${o.model} on ${table.file} with the built-in trainer (seed ${n.seed})`);
    const trained = await trainSample(api, say, {
      model: o.model,
      data: o.data,
      seed: n.seed,
      work,
      containerDigest: o.containerDigest,
      codeRef: o.codeRef,
    });
    const artifactId = trained.registration.artifactId;
    say.step(`registered ${o.model} v${trained.registration.version}: ${artifactId} (artifact sha256 ${trained.artifactSha256})`);
    say.step(`2/6 promoting ${artifactId} to ${o.env} with no canary stage`);
    const promotion = await promoteNow(api, artifactId, o.env);
    say.step(`promotion ${promotion.promotionId} applied: ${artifactId} serves ${o.model} in ${o.env}`);
    say.step(`3/6 serving ${n.rows} baseline-like rows, then ${n.rows} with ${shift.feature} shifted`);
    const { baseline, drifted } = await serveBoth(api, say, o, n, table, shift, `ds-${artifactId.slice(0, 8)}`);
    const strangers = [...baseline.served.artifacts, ...drifted.served.artifacts].filter((a) => a !== artifactId);
    if (strangers.length)
      throw new CliError(
        `another artifact answered (${[...new Set(strangers)].join(', ')}): is something else promoting ${o.model} in ${o.env}?`,
      );
    say.step(`4/6 waiting ${n.flushWaitMs / 1000} s: serving writes a segment at most AEGIS_SERVING_SEGMENT_SECONDS after its first line`);
    await new Promise((r) => setTimeout(r, n.flushWaitMs));
    say.step('5/6 requesting a drift run over each window');
    const results = [];
    for (const [name, w] of [
      ['baseline-like', baseline],
      ['drifted', drifted],
    ] as const) {
      const r = await runWindow(api, { model: o.model, env: o.env, from: w.from, to: w.to, timeoutMs: n.runTimeoutMs });
      say.step(`${name} run ${r.run.runId}: ${r.run.status}${r.record ? `, report ${r.record.reportId} (${r.record.verdict})` : ''}`);
      results.push({ name, window: w, ...r });
    }
    say.step('6/6 reading the suggestion');
    const [b, d] = results as [(typeof results)[0], (typeof results)[0]];
    const ofArtifact = await suggestionsOf(api, { model: o.model, env: o.env, artifactId });
    const suggestion: RetrainSuggestion | undefined = ofArtifact.find((s) => s.suggestionId === d.record?.suggestionId) ?? ofArtifact[0];
    const verdict = judgeDrill(b as WindowResult, d as WindowResult, ofArtifact);
    const lines = [
      `drift drill: ${o.model} in ${o.env}, artifact ${artifactId} (promotion ${promotion.promotionId})`,
      ...describeWindow(b.name, b.window, b.run, b.record, b.report),
      ...describeWindow(d.name, d.window, d.run, d.record, d.report),
      ...describeSuggestion(suggestion),
      verdict.ok ? 'DRIFT SAMPLE PASSED' : `DRIFT SAMPLE FAILED:\n${verdict.problems.map((p) => `  - ${p}`).join('\n')}`,
    ];
    const result = {
      ok: verdict.ok,
      problems: verdict.problems,
      model: o.model,
      env: o.env,
      artifactId,
      artifactSha256: trained.artifactSha256,
      promotionId: promotion.promotionId,
      shift,
      windows: results.map((r) => ({
        name: r.name,
        from: r.window.from.toISOString(),
        to: r.window.to.toISOString(),
        sent: { requests: r.window.served.requests, rows: r.window.served.rows, labels: r.window.served.labels },
        run: r.run,
        report: r.record ?? null,
      })),
      suggestion: suggestion ?? null,
    };
    return { lines, result };
  } finally {
    if (o.keep) say.step(`work folder kept: ${work}`);
    else await rm(work, { recursive: true, force: true });
  }
}

async function sample(ctx: CliContext, o: SampleOptions): Promise<void> {
  const containerDigest = o.containerDigest ?? ctx.cfg.containerDigest ?? NO_CONTAINER;
  const { lines, result } = await runDriftSample(await ctx.client(), ctx.reporter(), { ...o, containerDigest });
  ctx.out(lines.join('\n'), result);
  if (!result.ok) process.exitCode = 1;
}

/** aegis drift sample (registered in the drift command group). */
export function driftSampleCommand(drift: Command, ctx: CliContext): void {
  const D = DRIFT_SAMPLE_DEFAULTS;
  drift
    .command('sample')
    .description(
      'the drift drill against the server: train and promote the sample model, serve a baseline-like then a drifted stream, run detection over both windows; exit 0 when only the drifted one raised a suggestion',
    )
    .option('--model <name>', 'the model name to register the sample as', D.model)
    .addOption(new Option('--env <env>', 'the environment it is promoted to (no canary stage)').choices(TARGET_ENVS).default(D.env))
    .option('--rows <n>', 'rows per stream', D.rows)
    .option('--shift <FEATURE=+Ksd>', "the drifted stream's shift (default: the first numeric feature, +1.5sd)")
    .option('--seed <n>', 'seed of the training run and of both streams (same seed, same rows)', D.seed)
    .option('--data <path>', 'the training data: a folder with train.csv, or the CSV (label column `label`)', D.data)
    .option('--batch <n>', 'rows per predict request', D.batch)
    .option(
      '--labelled <n>',
      'rows of each stream sent one per request with their label as feedback (drift joins labels to single rows)',
      D.labelled,
    )
    .option(
      '--flush-wait <seconds>',
      "wait after the last request before the runs: more than the server's AEGIS_SERVING_SEGMENT_SECONDS (default 10), the longest serving holds a segment",
      D.flushWait,
    )
    .option('--run-timeout <seconds>', 'how long a drift run may take', D.runTimeout)
    .option('--code-ref <ref>', 'what the code is (default: git HEAD of the current folder, a dirty tree recorded)')
    .option('--container-digest <digest>', 'the image the training ran in (default: CONTAINER_DIGEST, else the all-zero digest: none)')
    .option('--keep', 'keep the work folder (artifact, manifest)', false)
    .action((o: SampleOptions) => sample(ctx, { ...o, data: resolve(o.data) }));
}

/**
 * The server's drift pipeline from the CLI: request a run and wait for it, list and show reports,
 * list, accept and dismiss retrain suggestions. Exit codes: 0 done (a run succeeded or was
 * skipped), 1 a failed run or a refused request, 2 usage, 3 not allowed (401/403).
 */
import { Option, type Command } from 'commander';
import type { AegisClient } from '../http/client.js';
import type {
  DriftReportReply,
  DriftReportsReply,
  DriftRunReply,
  DriftSuggestionReply,
  DriftSuggestionsReply,
} from '../../platform/http/schemas.js';
import { CliError, type CliContext } from './context.js';
import { describeRecord, describeRun, describeSuggestion, formatReport, formatReports, table } from './drift-api-format.js';

const ENVS = ['staging', 'canary', 'prod'];
const POLL_MS = 500;

/** `?a=1&b=2` of the options that were given. */
const query = (q: Record<string, string | undefined>): string => {
  const s = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  return s ? `?${s}` : '';
};

function positiveSeconds(v: string): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new CliError(`--wait-seconds ${v}: must be a positive number of seconds`, 2);
  return n;
}

/** Polls the run until it is no longer running (or `waitSeconds` pass: exit 1, the run goes on). */
async function awaitRun(api: AegisClient, run: DriftRunReply['run'], waitSeconds: number): Promise<DriftRunReply['run']> {
  const deadline = Date.now() + waitSeconds * 1000;
  let current = run;
  while (current.status === 'running') {
    if (Date.now() > deadline)
      throw new CliError(`run ${run.runId} is still running after ${waitSeconds} s (aegis drift reports --model ${run.model} later)`);
    await new Promise((r) => setTimeout(r, POLL_MS));
    current = (await api.request<DriftRunReply>('GET', `/v1/drift/runs/${encodeURIComponent(run.runId)}`)).run;
  }
  return current;
}

interface RunFlags {
  model: string;
  env: string;
  from?: string;
  to?: string;
  wait: boolean;
  waitSeconds: number;
}

async function runCommand(ctx: CliContext, o: RunFlags): Promise<void> {
  if ((o.from === undefined) !== (o.to === undefined)) throw new CliError('give both --from and --to, or neither', 2);
  const api = await ctx.client();
  const window = o.from !== undefined ? { from: o.from, to: o.to } : {};
  const started = (await api.request<DriftRunReply>('POST', '/v1/drift/runs', { modelName: o.model, env: o.env, ...window })).run;
  const run = o.wait ? await awaitRun(api, started, o.waitSeconds) : started;
  const report = run.reportId
    ? (await api.request<DriftReportReply>('GET', `/v1/drift/reports/${encodeURIComponent(run.reportId)}`)).record
    : null;
  ctx.out([...describeRun(run), ...(report ? describeRecord(report) : [])].join('\n'), { run, report });
  if (run.status === 'failed') process.exitCode = 1;
}

async function decide(ctx: CliContext, id: string, decision: 'accept' | 'dismiss', reason: string): Promise<void> {
  const api = await ctx.client();
  const r = await api.request<DriftSuggestionReply>('POST', `/v1/drift/suggestions/${encodeURIComponent(id)}/${decision}`, { reason });
  ctx.out(describeSuggestion(r.suggestion).join('\n'), r);
}

function listCommands(drift: Command, ctx: CliContext): void {
  drift
    .command('reports')
    .description('drift reports, newest first: window, verdict, drifted features, suggestion')
    .option('--model <name>', 'one model')
    .addOption(new Option('--env <env>', 'one environment').choices(ENVS))
    .option('--since <iso>', 'windows ending at or after this time')
    .option('--limit <n>', 'at most this many (1-500)', '50')
    .option('--cursor <c>', 'the next page (printed after a full page)')
    .action(async (o: { model?: string; env?: string; since?: string; limit: string; cursor?: string }) => {
      const r = await (await ctx.client()).request<DriftReportsReply>('GET', `/v1/drift/reports${query({ ...o })}`);
      ctx.out(formatReports(r), r);
    });
  drift
    .command('show')
    .description(
      'one report: per feature kind, rows, JS, threshold, drift and reasons; reference vs current histograms of drifted features',
    )
    .argument('<reportId>', 'the report')
    .action(async (id: string) => {
      const r = await (await ctx.client()).request<DriftReportReply>('GET', `/v1/drift/reports/${encodeURIComponent(id)}`);
      ctx.out(formatReport(r), r);
    });
  drift
    .command('suggestions')
    .description('retrain suggestions, newest first')
    .option('--model <name>', 'one model')
    .addOption(new Option('--env <env>', 'one environment').choices(ENVS))
    .addOption(new Option('--status <status>', 'one status').choices(['open', 'accepted', 'dismissed', 'resolved']))
    .option('--limit <n>', 'at most this many (1-500)', '50')
    .option('--cursor <c>', 'the next page')
    .action(async (o: { model?: string; env?: string; status?: string; limit: string; cursor?: string }) => {
      const r = await (await ctx.client()).request<DriftSuggestionsReply>('GET', `/v1/drift/suggestions${query({ ...o })}`);
      const rows = r.suggestions.map((s) => [s.suggestionId, `${s.model}/${s.env}`, s.status, s.servingArtifactId, s.createdAt]);
      const text = [
        `${r.suggestions.length} suggestion(s)`,
        ...(rows.length ? table(['suggestion', 'deployment', 'status', 'serving artifact', 'raised'], rows) : []),
        ...(r.nextCursor ? [`more: --cursor ${r.nextCursor}`] : []),
      ];
      ctx.out(text.join('\n'), r);
    });
}

/** aegis drift run|reports|show|suggestions|accept|dismiss, under `drift`. */
export function driftApiCommands(drift: Command, ctx: CliContext): void {
  drift
    .command('run')
    .description("judge a window of a deployment's traffic now and wait for the run; exit 1 when it failed")
    .requiredOption('--model <name>', 'the model')
    .addOption(new Option('--env <env>', 'the environment it serves in').choices(ENVS).makeOptionMandatory())
    .option('--from <iso>', 'window start (with --to); default: the latest complete scheduled window')
    .option('--to <iso>', 'window end, exclusive')
    .option('--no-wait', 'print the run as started, do not wait for it')
    .addOption(new Option('--wait-seconds <n>', 'give up waiting after this long (exit 1)').argParser(positiveSeconds).default(900))
    .action((o: RunFlags) => runCommand(ctx, o));
  listCommands(drift, ctx);
  for (const decision of ['accept', 'dismiss'] as const)
    drift
      .command(decision)
      .description(`${decision} a retrain suggestion (promoter, admin); audited`)
      .argument('<suggestionId>', 'the suggestion')
      .requiredOption('--reason <text>', 'why (recorded and audited)')
      .action((id: string, o: { reason: string }) => decide(ctx, id, decision, o.reason));
}

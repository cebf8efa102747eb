/**
 * The Task states of the drift state machine (`statemachines/drift.asl.json`), each one
 * invocation of the drift-step function: Plan (the route's stable artifact, its baseline, the
 * window's segments split into shards, stored at `drift-runs/<runId>/plan.json`), CountShard
 * (one shard counted, stored at `drift-runs/<runId>/shard-<n>.json`, its key and sha256
 * returned), Report (the partials checked and merged, the detectors, the report recorded) and
 * RecordFailure (the run marked failed with the execution's error). Every step may be retried:
 * it rewrites what it wrote, and Report finds the report a first attempt committed.
 */
import { createHash } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';
import { parseJsonStrict } from '../../kernel/json.js';
import { buffer } from 'node:stream/consumers';
import type { Database } from '../../platform/ports/database.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { ServiceMetrics } from '../../platform/ports/metrics.js';
import type { WindowReport } from './detect.js';
import { detectWindow } from './detect.js';
import type { DriftConfig } from './config.js';
import type { DriftRun, PlanOutput, ReportOutput, ReportVerdict, RunStatus, ShardPartial } from './records.js';
import { finishRun, runById, setPlanned } from './store-runs.js';
import type { DriftObjects } from './segments.js';
import { DriftWindows, planShards, type ShardWindow, type WindowQuery } from './service.js';

/** What Report hands the report to (DriftRecords.recordReport): indexed, audited, a suggestion raised or attached. */
export interface ReportRecorder {
  recordReport(
    run: { runId: string; model: string; env: string; artifactId: string; from: Date; to: Date },
    report: WindowReport,
  ): Promise<{ reportId: string; verdict: ReportVerdict; suggestionId: string | null; raised: boolean }>;
}

export interface DriftStepDeps {
  database: Database;
  objects: DriftObjects;
  windows: DriftWindows;
  records: ReportRecorder;
  /** the stable artifact routed to the model in `env` (RolloutService.routedStable) */
  routes: { routedStable(model: string, env: string): Promise<string | null> };
  config: () => DriftConfig;
  clock: Clock;
  metrics?: Pick<ServiceMetrics, 'driftRun'>;
}

/**
 * A step of a run that has already finished (a repeated start of its execution): named for the
 * state machine, whose Catch for `Aegis.RunFinished` ends the execution quietly.
 */
export class RunFinishedError extends AegisError {
  constructor(run: DriftRun) {
    super('CONFLICT', `drift run ${run.runId} has already finished (${run.status})`, { field: 'runId', details: { status: run.status } });
    this.name = 'Aegis.RunFinished';
  }
}

/** What Plan stores beside the run: the shards' segment keys, and what Count and Report need to redo the window. */
interface StoredPlan {
  runId: string;
  model: string;
  env: string;
  artifactId: string | null;
  from: string;
  to: string;
  baselineSha256: string | null;
  shards: string[][];
  skip?: 'no-route' | 'no-baseline';
}

export const planKey = (runId: string) => `drift-runs/${runId}/plan.json`;
export const shardKey = (runId: string, shard: number) => `drift-runs/${runId}/shard-${shard}.json`;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function runOf(d: DriftStepDeps, runId: string): Promise<DriftRun> {
  const run = await runById(d.database.db, runId);
  if (!run) throw new AegisError('NOT_FOUND', `no drift run ${runId}`, { field: 'runId' });
  return run;
}

async function readJson<T>(d: DriftStepDeps, key: string): Promise<{ bytes: Buffer; value: T }> {
  const bytes = await buffer(await d.objects.get(key));
  return { bytes, value: parseJsonStrict(bytes.toString('utf8')) as T };
}

const queryOf = (p: StoredPlan): WindowQuery => ({
  model: p.model,
  env: p.env,
  artifactId: p.artifactId!,
  from: new Date(p.from),
  to: new Date(p.to),
});

/** The run's baseline as Plan recorded it: the artifact must still carry the same bytes. */
async function baselineOf(d: DriftStepDeps, plan: StoredPlan) {
  const b = await d.windows.baselineOf(plan.artifactId!);
  if (b.kind !== 'baseline' || b.sha256 !== plan.baselineSha256)
    throw new AegisError('SHA256_MISMATCH', `the baseline of ${plan.artifactId} is not the one run ${plan.runId} planned with`, {
      field: 'baselineSha256',
    });
  return b.baseline;
}

export async function planStep(d: DriftStepDeps, runId: string): Promise<PlanOutput> {
  const run = await runOf(d, runId);
  if (run.status !== 'running') throw new RunFinishedError(run);
  const base = { runId, model: run.model, env: run.env, from: run.from, to: run.to };
  const artifactId = await d.routes.routedStable(run.model, run.env);
  let plan: StoredPlan;
  if (!artifactId) plan = { ...base, artifactId: null, baselineSha256: null, shards: [], skip: 'no-route' };
  else {
    const b = await d.windows.baselineOf(artifactId);
    if (b.kind === 'no-baseline') plan = { ...base, artifactId, baselineSha256: null, shards: [], skip: 'no-baseline' };
    else {
      const refs = await d.windows.segmentsOf({
        model: run.model,
        env: run.env,
        artifactId,
        from: new Date(run.from),
        to: new Date(run.to),
      });
      const shards = planShards(refs, d.config().configFor(run.model, run.env).schedule.shards);
      plan = { ...base, artifactId, baselineSha256: b.sha256, shards };
    }
  }
  await d.objects.put(planKey(runId), JSON.stringify(plan), { contentType: 'application/json' });
  await setPlanned(d.database.db, runId, plan.artifactId, plan.shards.length);
  return { runId, shards: plan.shards.map((_, i) => i), ...(plan.skip && { skip: plan.skip }) };
}

export async function countStep(d: DriftStepDeps, runId: string, shard: number): Promise<ShardPartial> {
  const { value: plan } = await readJson<StoredPlan>(d, planKey(runId));
  const keys = plan.shards[shard];
  if (!Number.isInteger(shard) || !keys || !plan.artifactId)
    throw new AegisError('VALIDATION_FAILED', `run ${runId} planned no shard ${shard}`, { field: 'shard' });
  const counted = await d.windows.windowOfShard(queryOf(plan), await baselineOf(d, plan), keys);
  const key = shardKey(runId, shard);
  const body = JSON.stringify(counted);
  await d.objects.put(key, body, { contentType: 'application/json' });
  return { shard, key, sha256: sha256(body) };
}

/** The partials of every planned shard, each read back and checked against the sha256 Count returned. */
async function readPartials(d: DriftStepDeps, plan: StoredPlan, partials: readonly ShardPartial[]): Promise<ShardWindow[]> {
  if (partials.length !== plan.shards.length || partials.some((p, i) => p.shard !== i || p.key !== shardKey(plan.runId, i)))
    throw new AegisError('VALIDATION_FAILED', `run ${plan.runId}: the partials are not the ${plan.shards.length} planned shards`, {
      field: 'partials',
    });
  return Promise.all(
    partials.map(async (p) => {
      const { bytes, value } = await readJson<ShardWindow>(d, p.key);
      if (sha256(bytes) !== p.sha256)
        throw new AegisError('SHA256_MISMATCH', `${p.key}: sha256 ${sha256(bytes)} is not the counted ${p.sha256}`, {
          field: `partials.${p.shard}.sha256`,
        });
      return value;
    }),
  );
}

async function finish(
  d: DriftStepDeps,
  run: DriftRun,
  status: Exclude<RunStatus, 'running'>,
  extra: { reportId?: string; error?: string },
) {
  const at = d.clock.now();
  const ended = await finishRun(d.database.db, run.runId, { status, ...extra, at });
  if (ended) d.metrics?.driftRun(run.env, status, Math.max(0, (at.getTime() - Date.parse(run.createdAt)) / 1000));
  return ended;
}

export async function reportStep(d: DriftStepDeps, runId: string, partials: readonly ShardPartial[]): Promise<ReportOutput> {
  const run = await runOf(d, runId);
  const none: ReportOutput = { runId, reportId: null, verdict: null, suggestionId: null };
  // a retried Report whose first attempt finished the run: what it recorded stands
  if (run.status === 'succeeded' || run.status === 'skipped') return { ...none, reportId: run.reportId };
  if (run.status !== 'running') throw new RunFinishedError(run);
  const { value: plan } = await readJson<StoredPlan>(d, planKey(runId));
  if (plan.skip || !plan.artifactId) {
    await finish(d, run, 'skipped', {});
    return none;
  }
  const baseline = await baselineOf(d, plan);
  const q = queryOf(plan);
  const shards = await readPartials(d, plan, partials);
  // no segments in the window: an empty window, which the detectors call insufficient data
  const counted: [ShardWindow, ...ShardWindow[]] = shards.length
    ? (shards as [ShardWindow, ...ShardWindow[]])
    : [await d.windows.windowOfShard(q, baseline, [])];
  const window = DriftWindows.windowFrom(q, plan.baselineSha256!, counted);
  const report = detectWindow(window, baseline, d.config().configFor(run.model, run.env).detectors);
  const r = await d.records.recordReport(
    { runId, model: run.model, env: run.env, artifactId: plan.artifactId, from: q.from, to: q.to },
    report,
  );
  await finish(d, run, 'succeeded', { reportId: r.reportId });
  return { runId, reportId: r.reportId, verdict: r.verdict, suggestionId: r.suggestionId };
}

/** The execution's error as text: Step Functions' `Error` and `Cause` (a Lambda's cause is JSON with its `errorMessage`). */
export function errorText(error: { Error?: string; Cause?: string }): string {
  let cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') cause = parsed.errorMessage;
  } catch {
    /* a plain-text cause */
  }
  return [error.Error, cause].filter(Boolean).join(': ').slice(0, 4000) || 'the drift run failed';
}

/** RecordFailure: marks the run failed with the error; an unknown or already finished run is left as it is. */
export async function failedStep(d: DriftStepDeps, runId: string, error: { Error?: string; Cause?: string }): Promise<{ runId: string }> {
  const run = await runById(d.database.db, runId);
  if (run?.status === 'running') await finish(d, run, 'failed', { error: errorText(error ?? {}) });
  return { runId };
}

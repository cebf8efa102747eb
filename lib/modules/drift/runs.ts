/**
 * Drift runs (issue 21): a run is one window of a deployment's traffic judged by the drift state
 * machine (Plan → Map CountShard → Report, `statemachines/drift.asl.json`). The drift-schedule
 * job starts one per deployment and window (`scheduleDue`); an operator may request one
 * (`requestRun`); each Task state is a {@link DriftRuns.step}.
 *
 * @example
 * const runs = new DriftRuns({ database, objects, windows, records, routes: rollout, workflows, config, clock, settleSeconds: 120 });
 * await runs.scheduleDue(new Date()); // the runs it started, one per serving deployment whose window just closed
 * await runs.step({ task: 'plan', runId }); // what the drift-step function does for the Plan state
 */
import { randomUUID } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';
import type { Workflows } from '../../platform/ports/workflows.js';
import { checkQuery } from './domain.js';
import type { DeploymentDriftConfig, DriftRun, DriftStepEvent, PlanOutput, ReportOutput, ShardPartial } from './records.js';
import { finishRun, insertRun, insertScheduledRun, runById, runningSince, type NewRun } from './store-runs.js';
import { countStep, failedStep, planStep, reportStep, type DriftStepDeps } from './steps.js';

export { RunFinishedError, type ReportRecorder } from './steps.js';

/**
 * The drift state machine's own time limit (`TimeoutSeconds` of statemachines/drift.asl.json): a
 * run still `running` this long after it was created has no execution left anywhere.
 */
export const DRIFT_RUN_LIMIT_SECONDS = 3600;

/** Who a scheduled run is requested by. */
export const SCHEDULER_PRINCIPAL = 'drift-schedule';

export interface DriftRunsDeps extends DriftStepDeps {
  routes: DriftStepDeps['routes'] & {
    /** every deployment a stable artifact serves (RolloutService.servedDeployments) */
    servedDeployments(): Promise<{ modelName: string; env: string; stable: string }[]>;
  };
  /** where an artifact first served, per environment (ServingService.deployments): windows before it are not judged */
  serving: { deployments(artifactId: string): Promise<{ env: string; verifiedAt: string }[]> };
  /** the drift state machine (`drift`): Step Functions on AWS, the same ASL in-process locally */
  workflows: Workflows;
  /** AEGIS_DRIFT_SETTLE_SECONDS: how long after a window's end its segments are all written */
  settleSeconds: number;
  logger?: { error(message: string, extra: Record<string, unknown>): void };
}

/** The latest complete scheduled window of a deployment as of `now`: it ends `settleSeconds` or more before `now`, on the schedule's grid. */
export function latestWindow(schedule: DeploymentDriftConfig['schedule'], now: Date, settleSeconds: number): { from: Date; to: Date } {
  const every = schedule.everyMinutes * 60_000;
  const end = Math.floor((now.getTime() - settleSeconds * 1000) / every) * every;
  return { from: new Date(end - schedule.windowMinutes * 60_000), to: new Date(end) };
}

export type DriftStepResult = PlanOutput | ShardPartial | ReportOutput | { runId: string };

export class DriftRuns {
  constructor(private readonly d: DriftRunsDeps) {}

  run(runId: string): Promise<DriftRun | undefined> {
    return runById(this.d.database.db, runId);
  }

  /**
   * Records a run of the deployment's window and starts it: `[from, to)` as given, else the
   * latest complete scheduled window (a missing `from` is `to` minus the configured window).
   * 400 naming `from` or `to` for a bad window; 409 naming `env` when nothing serves the model there.
   */
  async requestRun(q: { model: string; env: string; from?: Date; to?: Date }, principal: string): Promise<DriftRun> {
    const config = this.d.config().configFor(q.model, q.env);
    const latest = latestWindow(config.schedule, this.d.clock.now(), this.d.settleSeconds);
    const to = q.to ?? (q.from ? new Date(q.from.getTime() + config.schedule.windowMinutes * 60_000) : latest.to);
    const from = q.from ?? new Date(to.getTime() - config.schedule.windowMinutes * 60_000);
    const stable = await this.d.routes.routedStable(q.model, q.env);
    checkQuery({ model: q.model, env: q.env, artifactId: stable ?? 'unrouted', from, to });
    if (!stable) throw new AegisError('CONFLICT', `nothing serves ${q.model} in ${q.env}: no drift to judge`, { field: 'env' });
    const run = await insertRun(this.d.database.db, this.#newRun(q.model, q.env, from, to, 'request', principal));
    return this.#start(run);
  }

  /**
   * Starts a run of the latest complete window of every serving deployment whose schedule is
   * enabled, unless that window already has one (a second tick, or another process, starts
   * nothing), or ended before its stable artifact first served there (it has no traffic of
   * that artifact to judge: a fresh deployment waits for its first whole window). Returns the runs it started.
   */
  async scheduleDue(now: Date): Promise<DriftRun[]> {
    const started: DriftRun[] = [];
    for (const dep of await this.d.routes.servedDeployments()) {
      const { schedule } = this.d.config().configFor(dep.modelName, dep.env);
      if (!schedule.enabled) continue;
      const { from, to } = latestWindow(schedule, now, this.d.settleSeconds);
      if (!(await this.#servedBefore(dep.stable, dep.env, to))) continue;
      const run = await insertScheduledRun(
        this.d.database.db,
        this.#newRun(dep.modelName, dep.env, from, to, 'schedule', SCHEDULER_PRINCIPAL),
      );
      if (!run) continue;
      try {
        started.push(await this.#start(run));
      } catch (e) {
        this.d.logger?.error('drift run not started', { runId: run.runId, error: (e as Error).message });
      }
    }
    return started;
  }

  /**
   * Runs left `running` with no execution: locally the server stopped mid-run (its in-process
   * execution died with it), on AWS the execution timed out or was stopped (no Catch runs then).
   * Only runs older than {@link DRIFT_RUN_LIMIT_SECONDS} are touched — a younger one may still be
   * executing in another process on the same database. `restart` (local) starts each one's
   * execution again (the steps redo a window from its segments; a finished step's output stands);
   * otherwise (AWS) each is failed with the reason. Returns the runs resumed or failed.
   */
  async sweepStale(now: Date, opts: { restart: boolean }): Promise<{ resumed: string[]; failed: string[] }> {
    const out = { resumed: [] as string[], failed: [] as string[] };
    for (const run of await runningSince(this.d.database.db, new Date(now.getTime() - DRIFT_RUN_LIMIT_SECONDS * 1000))) {
      if (opts.restart) {
        try {
          if ((await this.d.workflows.start('drift', run.runId, { runId: run.runId })).started) out.resumed.push(run.runId);
          continue;
        } catch (e) {
          this.d.logger?.error('drift run not resumed', { runId: run.runId, error: (e as Error).message });
        }
      }
      const error = opts.restart
        ? 'interrupted (the server stopped during the run) and could not be started again'
        : `the execution ended without finishing the run (timed out after ${DRIFT_RUN_LIMIT_SECONDS} s, or stopped)`;
      if (await finishRun(this.d.database.db, run.runId, { status: 'failed', error, at: now })) out.failed.push(run.runId);
    }
    return out;
  }

  /** One Task state of the drift state machine (the drift-step function's handler). */
  step(e: DriftStepEvent): Promise<DriftStepResult> {
    switch (e.task) {
      case 'plan':
        return planStep(this.d, e.runId);
      case 'count':
        return countStep(this.d, e.runId, e.shard);
      case 'report':
        return reportStep(this.d, e.runId, e.partials);
      case 'failed':
        return failedStep(this.d, e.runId, e.error);
      default:
        return Promise.reject(
          new AegisError('VALIDATION_FAILED', `unknown drift step ${JSON.stringify((e as { task?: unknown }).task)}`, { field: 'task' }),
        );
    }
  }

  /** Whether the artifact first served in `env` before `t`. */
  async #servedBefore(artifactId: string, env: string, t: Date): Promise<boolean> {
    const served = (await this.d.serving.deployments(artifactId)).find((x) => x.env === env);
    return served !== undefined && Date.parse(served.verifiedAt) < t.getTime();
  }

  #newRun(model: string, env: string, from: Date, to: Date, trigger: NewRun['trigger'], requestedBy: string): NewRun {
    return { runId: randomUUID(), model, env, from, to, trigger, requestedBy, createdAt: this.d.clock.now() };
  }

  /** Starts the run's execution (named by the run id); a run that cannot start is failed with the reason. */
  async #start(run: DriftRun): Promise<DriftRun> {
    try {
      await this.d.workflows.start('drift', run.runId, { runId: run.runId });
      return run;
    } catch (e) {
      await finishRun(this.d.database.db, run.runId, {
        status: 'failed',
        error: `not started: ${(e as Error).message}`,
        at: this.d.clock.now(),
      });
      throw e;
    }
  }
}

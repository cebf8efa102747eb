/**
 * `drift_runs` (migration 0015): the only code that builds SQL on it. Operational state of each
 * run, neither chained nor restored; a scheduled window is inserted once (the partial unique
 * index `drift_runs_scheduled_window`).
 */
import { sql, type Selectable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, toIso, toIsoOrNull, type DB } from '../../platform/sql/schema.js';
import type { DriftRun, RunStatus, RunTrigger } from './records.js';

type RunRow = Selectable<DB['drift_runs']>;

const runOf = (r: RunRow): DriftRun => ({
  runId: r.run_id,
  model: r.model_name,
  env: r.env,
  artifactId: r.artifact_id,
  from: toIso(r.window_from),
  to: toIso(r.window_to),
  trigger: r.trigger as RunTrigger,
  requestedBy: r.requested_by,
  status: r.status as RunStatus,
  shards: r.shards,
  reportId: r.report_id,
  error: r.error,
  createdAt: toIso(r.created_at),
  finishedAt: toIsoOrNull(r.finished_at),
});

export interface NewRun {
  runId: string;
  model: string;
  env: string;
  from: Date;
  to: Date;
  trigger: RunTrigger;
  requestedBy: string;
  createdAt: Date;
}

const rowOf = (r: NewRun) => ({
  run_id: r.runId,
  model_name: r.model,
  env: r.env,
  artifact_id: null,
  window_from: r.from,
  window_to: r.to,
  trigger: r.trigger,
  requested_by: r.requestedBy,
  status: 'running',
  shards: null,
  report_id: null,
  error: null,
  created_at: r.createdAt,
  finished_at: null,
});

/** Inserts a requested run. */
export async function insertRun(x: Executor, r: NewRun): Promise<DriftRun> {
  const row = await x.insertInto('drift_runs').values(rowOf(r)).returningAll().executeTakeFirstOrThrow();
  return runOf(row);
}

/** Inserts a scheduled run unless its deployment's window already has one; the run when this call inserted it. */
export async function insertScheduledRun(x: Executor, r: NewRun): Promise<DriftRun | undefined> {
  const row = await x
    .insertInto('drift_runs')
    .values(rowOf({ ...r, trigger: 'schedule' }))
    // the partial index's predicate as a literal: a parameter cannot name the index in a named statement's generic plan
    .onConflict((oc) => oc.columns(['model_name', 'env', 'window_to']).where('trigger', '=', sql.lit('schedule')).doNothing())
    .returningAll()
    .executeTakeFirst();
  return row && runOf(row);
}

export async function runById(x: Executor, runId: string): Promise<DriftRun | undefined> {
  const row = await x.selectFrom('drift_runs').selectAll().where('run_id', '=', runId).executeTakeFirst();
  return row && runOf(row);
}

/** What Plan found: the serving artifact (null: no route) and the number of shards. */
export async function setPlanned(x: Executor, runId: string, artifactId: string | null, shards: number): Promise<void> {
  await x.updateTable('drift_runs').set({ artifact_id: artifactId, shards }).where('run_id', '=', runId).execute();
}

/** Runs still `running` that were created before `before`, oldest first. */
export async function runningSince(x: Executor, before: Date): Promise<DriftRun[]> {
  const rows = await x
    .selectFrom('drift_runs')
    .selectAll()
    .where('status', '=', 'running')
    .where('created_at', '<', before)
    .orderBy('created_at')
    .limit(100)
    .execute();
  return rows.map(runOf);
}

/** Ends a running run (a finished one is left as it is); true when this call ended it. */
export async function finishRun(
  x: Executor,
  runId: string,
  end: { status: Exclude<RunStatus, 'running'>; reportId?: string | null; error?: string | null; at: Date },
): Promise<boolean> {
  const r = await x
    .updateTable('drift_runs')
    .set({ status: end.status, report_id: end.reportId ?? null, error: end.error ?? null, finished_at: toDate(end.at) })
    .where('run_id', '=', runId)
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

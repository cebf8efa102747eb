/**
 * The serving module's tables — `serving_deployments`, `serving_events`, `serving_labels` and
 * `serving_ingest_watermarks` — and the only code that builds SQL on them (with store-agreement.ts, the shadow agreement). Every function takes the {@link Executor} it
 * runs on; the row builders are exported so a restore writes the same rows.
 */
import { sql, type Insertable, type Selectable } from 'kysely';
import type { LatencyHistogram, RecordedVariant, VariantMetrics } from '../../kernel/canary-metrics.js';
import type { Executor } from '../../platform/ports/database.js';
import { toDate, type DB } from '../../platform/sql/schema.js';

// serving_deployments: where an artifact first verified and served, per environment

export type DeploymentRow = Insertable<DB['serving_deployments']>;
export type StoredDeployment = Selectable<DB['serving_deployments']>;

/** A serving deployment as `serving.verified` records it. */
export interface ServingDeployment {
  artifactId: string;
  modelName: string;
  env: string;
  manifestSignatureId: string;
  format: string;
  verifiedAt: string;
}

export const deploymentRow = (d: ServingDeployment): DeploymentRow => ({
  artifact_id: d.artifactId,
  env: d.env,
  model_name: d.modelName,
  manifest_signature_id: d.manifestSignatureId,
  format: d.format,
  verified_at: toDate(d.verifiedAt),
});

/** Inserts the deployment unless the artifact already served in that environment; true when this call inserted it. */
export async function insertDeploymentOnce(x: Executor, row: DeploymentRow): Promise<boolean> {
  const r = await x
    .insertInto('serving_deployments')
    .values(row)
    .onConflict((oc) => oc.columns(['artifact_id', 'env']).doNothing())
    .returning('artifact_id')
    .executeTakeFirst();
  return r !== undefined;
}

/** Several rows in one statement (a restore); at least one. */
export async function insertDeployments(x: Executor, rows: DeploymentRow[]): Promise<void> {
  await x.insertInto('serving_deployments').values(rows).execute();
}

export async function hasDeployment(x: Executor, artifactId: string, env: string): Promise<boolean> {
  const r = await x
    .selectFrom('serving_deployments')
    .select('artifact_id')
    .where('artifact_id', '=', artifactId)
    .where('env', '=', env)
    .executeTakeFirst();
  return r !== undefined;
}

/** Where the artifact served, by environment; all deployments when `artifactId` is undefined (parity). */
export async function deploymentsOf(x: Executor, artifactId?: string): Promise<StoredDeployment[]> {
  let q = x.selectFrom('serving_deployments').selectAll();
  if (artifactId !== undefined) q = q.where('artifact_id', '=', artifactId);
  return q.orderBy('artifact_id').orderBy('env').execute();
}

// serving_events: one row per served request

export type ServingEventRow = Insertable<DB['serving_events']>;

/** A batch of events; an event already stored (request id and shadow or not) is skipped (a retried batch counts once). */
export async function insertEvents(x: Executor, rows: ServingEventRow[]): Promise<number> {
  const [r] = await x
    .insertInto('serving_events')
    .values(rows)
    .onConflict((oc) => oc.doNothing())
    .execute();
  // rows actually inserted: a request id already stored is not counted
  return Number(r?.numInsertedOrUpdatedRows ?? 0n);
}

/**
 * The key of a stored event: its request id and whether it is a shadow copy (a request's
 * stable answer and its shadow answer are two events of one request id).
 */
export const eventKey = (e: { request_id: string; variant: string }): string =>
  `${e.variant === 'shadow' ? 'shadow' : 'routed'}:${e.request_id}`;

/** As {@link insertEvents}, and the {@link eventKey}s this statement inserted (the ingest tells a late event from a redelivered one). */
export async function insertNewEvents(x: Executor, rows: ServingEventRow[]): Promise<string[]> {
  const r = await x
    .insertInto('serving_events')
    .values(rows)
    .onConflict((oc) => oc.doNothing())
    .returning(['request_id', 'variant'])
    .execute();
  return r.map(eventKey);
}

/**
 * One variant's requests in `[from, to)`: counts, errors, and the latency histogram of the
 * requests that did not wait on a model load. Only the given artifact's requests count (a
 * later canary reuses the variant name); with no artifact the window is empty.
 */
export async function metricsWindow(
  x: Executor,
  q: { deploymentKey: string; variant: RecordedVariant; artifactId: string | null; from: Date; to: Date },
): Promise<VariantMetrics> {
  if (q.artifactId === null) return { requests: 0, errors: 0, latencyHistogram: [] };
  const base = x
    .selectFrom('serving_events')
    .where('deployment_key', '=', q.deploymentKey)
    .where('variant', '=', q.variant)
    .where('artifact_id', '=', q.artifactId)
    .where('at', '>=', q.from)
    .where('at', '<', q.to);
  const counts = await base
    .select((eb) => [
      eb.fn.countAll<string | number>().as('requests'),
      eb.fn.sum<string | number | null>(sql`case when error then 1 else 0 end`).as('errors'),
    ])
    .executeTakeFirstOrThrow();
  const buckets = await base
    .where('cold', '=', false)
    .select((eb) => ['latency_bucket', eb.fn.countAll<string | number>().as('n')])
    .groupBy('latency_bucket')
    .orderBy('latency_bucket')
    .execute();
  const latencyHistogram: LatencyHistogram = buckets.map((b) => [Number(b.latency_bucket), Number(b.n)]);
  const quality = await qualityWindow(x, q as typeof q & { artifactId: string });
  return {
    requests: Number(counts.requests),
    errors: Number(counts.errors ?? 0),
    latencyHistogram,
    ...(quality.labelled > 0 ? { quality } : {}),
  };
}

/**
 * Label feedback joined on read: of the variant's answered single-row requests in the window
 * that have a label for their deployment, how many predicted that label. A request of several
 * rows has one label for several predictions, so it is not counted (see the README).
 */
export async function qualityWindow(
  x: Executor,
  q: { deploymentKey: string; variant: RecordedVariant; artifactId: string; from: Date; to: Date },
): Promise<{ correct: number; labelled: number }> {
  const r = await x
    .selectFrom('serving_events as e')
    .innerJoin('serving_labels as l', (j) =>
      j.onRef('l.deployment_key', '=', 'e.deployment_key').onRef('l.request_id', '=', 'e.request_id'),
    )
    .where('e.deployment_key', '=', q.deploymentKey)
    .where('e.variant', '=', q.variant)
    .where('e.artifact_id', '=', q.artifactId)
    .where('e.at', '>=', q.from)
    .where('e.at', '<', q.to)
    .where('e.error', '=', false)
    .where(sql<boolean>`jsonb_array_length(e.prediction::jsonb) = 1`)
    .select((eb) => [
      eb.fn.countAll<string | number>().as('labelled'),
      eb.fn.sum<string | number | null>(sql`case when (e.prediction::jsonb -> 0 ->> 'label') = l.label then 1 else 0 end`).as('correct'),
    ])
    .executeTakeFirstOrThrow();
  return { correct: Number(r.correct ?? 0), labelled: Number(r.labelled) };
}

// serving_labels: label feedback by deployment and request id (migration 0012)

export type LabelRow = Insertable<DB['serving_labels']>;

/** The labels already stored for these request ids of a deployment. */
export async function labelsOf(x: Executor, deploymentKey: string, requestIds: readonly string[]): Promise<Map<string, string>> {
  if (requestIds.length === 0) return new Map();
  const rows = await x
    .selectFrom('serving_labels')
    .select(['request_id', 'label'])
    .where('deployment_key', '=', deploymentKey)
    .where('request_id', 'in', requestIds)
    .execute();
  return new Map(rows.map((r) => [r.request_id, r.label]));
}

/** Inserts the labels not stored yet; the request ids this call inserted. */
export async function insertLabels(x: Executor, rows: LabelRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const r = await x
    .insertInto('serving_labels')
    .values(rows)
    .onConflict((oc) => oc.columns(['deployment_key', 'request_id']).doNothing())
    .returning('request_id')
    .execute();
  return new Set(r.map((x) => x.request_id));
}

// serving_ingest_watermarks: how far serving-ingest has inserted each deployment's events (migration 0013)

/** The ingest watermark (the latest event time inserted) of each of these deployments that has one. */
export async function ingestWatermarks(x: Executor, deploymentKeys: readonly string[]): Promise<Map<string, Date>> {
  if (deploymentKeys.length === 0) return new Map();
  const rows = await x
    .selectFrom('serving_ingest_watermarks')
    .select(['deployment_key', 'event_at'])
    .where('deployment_key', 'in', deploymentKeys)
    .execute();
  return new Map(rows.map((r) => [r.deployment_key, toDate(r.event_at)]));
}

/**
 * Raises each deployment's watermark to `eventAt`, in one statement: never lowers it
 * (`GREATEST`), so an older or replayed delivery leaves it where it is.
 */
export async function raiseIngestWatermarks(
  x: Executor,
  marks: readonly { deploymentKey: string; eventAt: Date }[],
  now: Date,
): Promise<void> {
  if (marks.length === 0) return;
  await x
    .insertInto('serving_ingest_watermarks')
    .values(marks.map((m) => ({ deployment_key: m.deploymentKey, event_at: m.eventAt, updated_at: now })))
    .onConflict((oc) =>
      oc.column('deployment_key').doUpdateSet({
        event_at: sql<Date>`greatest(serving_ingest_watermarks.event_at, excluded.event_at)`,
        updated_at: sql<Date>`excluded.updated_at`,
      }),
    )
    .execute();
}

// retention

/** Rows one retention DELETE removes at most: each statement stays short (the Data API ends a statement at 45 s). */
export const PURGE_BATCH_ROWS = 5000;

/** Deletes the serving events recorded and the labels received before `before`, `batch` rows a statement; how many of each. */
export async function purgeBefore(x: Executor, before: Date, batch = PURGE_BATCH_ROWS): Promise<{ events: number; labels: number }> {
  const untilDone = async (step: () => Promise<{ numDeletedRows: bigint }>) => {
    let total = 0;
    for (let n = batch; n === batch; total += n) n = Number((await step()).numDeletedRows);
    return total;
  };
  const events = await untilDone(() =>
    x
      .deleteFrom('serving_events')
      .where('request_id', 'in', (q) => q.selectFrom('serving_events').select('request_id').where('at', '<', before).limit(batch))
      .executeTakeFirstOrThrow(),
  );
  const labels = await untilDone(() =>
    x
      .deleteFrom('serving_labels')
      .where(({ eb, refTuple, selectFrom }) =>
        eb(
          refTuple('deployment_key', 'request_id'),
          'in',
          selectFrom('serving_labels')
            .select(['deployment_key', 'request_id'])
            .where('received_at', '<', before)
            .limit(batch)
            .$asTuple('deployment_key', 'request_id'),
        ),
      )
      .executeTakeFirstOrThrow(),
  );
  return { events, labels };
}

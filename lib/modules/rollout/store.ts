/**
 * The rollout module's tables — `routes`, `promotion_steps`, `canary_verdicts` and
 * `rollout_leases` — and the only code that builds SQL on them. Every function takes the
 * {@link Executor} it runs on (the database or an open transaction): the service decides the
 * transaction. The row builders are exported so a restore can write the same rows.
 */
import { sql, type Insertable, type Selectable } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import type { Executor } from '../../platform/ports/database.js';
import type { WindowVerdict } from '../../platform/ports/workflows.js';
import { toIso, type DB } from '../../platform/sql/schema.js';
import type { Next } from './domain.js';

// promotion_steps: one row per step a runner took, with its input, output or error

export type StepRow = Insertable<DB['promotion_steps']>;
export type StoredStep = Selectable<DB['promotion_steps']>;

/** Records the promotion's next step (numbered after those recorded) in one statement; its number. */
export async function insertNextStep(x: Executor, row: Omit<StepRow, 'step'>): Promise<number> {
  const next = sql<number>`(select count(*)::int + 1 from promotion_steps where promotion_id = ${row.promotion_id})`;
  const inserted = await x
    .insertInto('promotion_steps')
    .values({ ...row, step: next })
    .returning('step')
    .executeTakeFirstOrThrow();
  return Number(inserted.step);
}

/** Several rows in one statement (a restore); at least one. */
export async function insertSteps(x: Executor, rows: StepRow[]): Promise<void> {
  await x.insertInto('promotion_steps').values(rows).execute();
}

/** Closes a step with what it returned (the canonical JSON output) or the error it threw. */
export async function finishStep(
  x: Executor,
  promotionId: string,
  step: number,
  end: { output: string } | { error: string },
  at: Date,
): Promise<void> {
  await x
    .updateTable('promotion_steps')
    .set({ ...end, finished_at: at })
    .where('promotion_id', '=', promotionId)
    .where('step', '=', step)
    .execute();
}

export async function stepsOf(x: Executor, promotionId: string): Promise<StoredStep[]> {
  return x.selectFrom('promotion_steps').selectAll().where('promotion_id', '=', promotionId).orderBy('step').execute();
}

// canary_verdicts: every judged window, with its numbers

export type VerdictRow = Insertable<DB['canary_verdicts']>;
export type StoredVerdict = Selectable<DB['canary_verdicts']>;

/** A judged window as the rollout saw it: the judge's verdict, what followed, the span, the stage and the phase (`shadow`; null: a canary stage). */
export type JudgedWindow = WindowVerdict & { next: Next; from: Date; to: Date; stage: number; percent: number; phase?: 'shadow' | null };

/** The stored row of a judged window. */
export function verdictRow(promotionId: string, seq: number, v: JudgedWindow, now: Date): VerdictRow {
  return {
    promotion_id: promotionId,
    seq,
    stage: v.stage,
    percent: v.percent,
    window_from: v.from,
    window_to: v.to,
    verdict: v.verdict,
    reason: v.reason,
    next: v.next,
    stable_requests: v.requests.stable,
    canary_requests: v.requests.canary,
    stable_errors: v.errors?.stable ?? null,
    canary_errors: v.errors?.canary ?? null,
    detail: v.detail.slice(0, 4000),
    judgement: v.judgement ? canonicalJson(v.judgement) : null,
    judged_at: now,
    phase: v.phase ?? null,
    agreement_compared: v.agreement?.compared ?? null,
    agreement_agreed: v.agreement?.agreed ?? null,
  };
}

/** The same row as an audit payload (`promotion.step` `window`): what the rebuild restores and the gates read. */
export function verdictPayload(r: VerdictRow) {
  return {
    seq: r.seq,
    stage: r.stage,
    percent: r.percent,
    from: toIso(r.window_from as Date | string),
    to: toIso(r.window_to as Date | string),
    verdict: r.verdict,
    reason: r.reason,
    next: r.next,
    requests: { stable: r.stable_requests, canary: r.canary_requests },
    errors:
      r.stable_errors === null || r.canary_errors === null || r.stable_errors === undefined || r.canary_errors === undefined
        ? null
        : { stable: r.stable_errors, canary: r.canary_errors },
    detail: r.detail,
    judgement: r.judgement ? (JSON.parse(r.judgement) as unknown) : null,
    judgedAt: toIso(r.judged_at as Date | string),
    // a shadow window's phase and agreement; absent from a canary window's payload (as before strategies)
    ...(r.phase ? { phase: r.phase } : {}),
    ...(typeof r.agreement_compared === 'number' && typeof r.agreement_agreed === 'number'
      ? { agreement: { compared: r.agreement_compared, agreed: r.agreement_agreed } }
      : {}),
  };
}

/** The seq the promotion's next judged window gets (1 for the first). */
export async function nextVerdictSeq(x: Executor, promotionId: string): Promise<number> {
  const last = await x
    .selectFrom('canary_verdicts')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('promotion_id', '=', promotionId)
    .executeTakeFirst();
  return Number(last?.seq ?? 0) + 1;
}

export async function insertVerdict(x: Executor, row: VerdictRow): Promise<void> {
  await x.insertInto('canary_verdicts').values(row).execute();
}

/** Several rows in one statement (a restore); at least one. */
export async function insertVerdicts(x: Executor, rows: VerdictRow[]): Promise<void> {
  await x.insertInto('canary_verdicts').values(rows).execute();
}

export async function verdictsOf(x: Executor, promotionId: string): Promise<StoredVerdict[]> {
  return x.selectFrom('canary_verdicts').selectAll().where('promotion_id', '=', promotionId).orderBy('seq').execute();
}

// routes: what serves each model in each environment (the stable artifact, the canary with its percent, a shadow with its share)

/** The columns a step changes on a route (also the `route` of its `promotion.step` event). */
export type RouteChange = Partial<
  Pick<
    Insertable<DB['routes']>,
    'stable_artifact_id' | 'canary_artifact_id' | 'canary_percent' | 'shadow_artifact_id' | 'shadow_percent' | 'promotion_id'
  >
>;

export type RouteRow = Insertable<DB['routes']>;

/** A route's candidate columns cleared, no canary and no shadow: what every rollout's end sets. */
export const NO_CANDIDATE = { canary_artifact_id: null, canary_percent: 0, shadow_artifact_id: null, shadow_percent: 0 } as const;

/** Nothing serves: a drained route (RolloutService.drain, and its replay). */
export const DRAINED_ROUTE = { stable_artifact_id: null, ...NO_CANDIDATE, promotion_id: null } as const;

/** The new route of the model in `env`: `set`, the rest empty. */
export function routeRow(at: { modelName: string; env: string }, set: RouteChange, now: Date): RouteRow {
  return {
    model_name: at.modelName,
    env: at.env,
    stable_artifact_id: set.stable_artifact_id ?? null,
    canary_artifact_id: set.canary_artifact_id ?? null,
    canary_percent: set.canary_percent ?? 0,
    shadow_artifact_id: set.shadow_artifact_id ?? null,
    shadow_percent: set.shadow_percent ?? 0,
    promotion_id: set.promotion_id ?? null,
    updated_at: now,
  };
}

/** Creates the model's route in `env` with `set` (the rest empty), or changes only `set` on the existing one. */
export async function upsertRoute(x: Executor, at: { modelName: string; env: string }, set: RouteChange, now: Date): Promise<void> {
  await x
    .insertInto('routes')
    .values(routeRow(at, set, now))
    .onConflict((oc) => oc.columns(['model_name', 'env']).doUpdateSet({ ...set, updated_at: now }))
    .execute();
}

/** Several rows in one statement (a restore); at least one. */
export async function insertRoutes(x: Executor, rows: RouteRow[]): Promise<void> {
  await x.insertInto('routes').values(rows).execute();
}

/** Every route by model and environment, and every judged window by promotion and seq (parity). */
export async function allRolloutRows(x: Executor) {
  return {
    routes: await x.selectFrom('routes').selectAll().orderBy('model_name').orderBy('env').execute(),
    verdicts: await x.selectFrom('canary_verdicts').selectAll().orderBy('promotion_id').orderBy('seq').execute(),
  };
}

/** The stable artifact the routes row names for the model in `env` (null: none, or no row). */
/** The artifact serving `variant` of the model in `env` (null: no route, or no such variant now). */
export async function routedArtifact(x: Executor, modelName: string, env: string, variant: 'stable' | 'canary'): Promise<string | null> {
  const route = await x
    .selectFrom('routes')
    .select(['stable_artifact_id', 'canary_artifact_id'])
    .where('model_name', '=', modelName)
    .where('env', '=', env)
    .executeTakeFirst();
  return (variant === 'stable' ? route?.stable_artifact_id : route?.canary_artifact_id) ?? null;
}

/** The model's route row in `env`, if it has one. */
export async function routeOf(x: Executor, modelName: string, env: string): Promise<Selectable<DB['routes']> | undefined> {
  return x.selectFrom('routes').selectAll().where('model_name', '=', modelName).where('env', '=', env).executeTakeFirst();
}

export async function routedStable(x: Executor, modelName: string, env: string): Promise<string | null> {
  const route = await x
    .selectFrom('routes')
    .select(['stable_artifact_id'])
    .where('model_name', '=', modelName)
    .where('env', '=', env)
    .executeTakeFirst();
  return route?.stable_artifact_id ?? null;
}

/** Every route a stable artifact serves: model, environment and that artifact. */
export async function stableRoutes(x: Executor) {
  const q = x.selectFrom('routes').select(['model_name', 'env', 'stable_artifact_id']).where('stable_artifact_id', 'is not', null);
  return q.orderBy('model_name').orderBy('env').execute();
}

/** The routes that serve the artifact, as stable, canary or shadow, by environment. */
export async function routesServing(x: Executor, artifactId: string): Promise<Selectable<DB['routes']>[]> {
  return x
    .selectFrom('routes')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb('stable_artifact_id', '=', artifactId),
        eb('canary_artifact_id', '=', artifactId),
        eb('shadow_artifact_id', '=', artifactId),
      ]),
    )
    .orderBy('env')
    .execute();
}

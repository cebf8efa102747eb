import type { Insertable } from 'kysely';
import { canonicalJson } from '../core/canonical.js';
import { AegisError } from '../core/errors.js';
import { DEFAULT_MIN_REQUESTS, ROUTE_SETTLE_SECONDS, initialState, nextAfterVerdict, stepUp, type CanaryConfig, type Next, type RolloutState } from '../core/rollout.js';
import { statementBytes } from '../core/signatures.js';
import type { Clock, Database, RolloutJudge, WindowVerdict } from '../ports.js';
import { toIso, type DB } from '../db/schema.js';
import type { AuditLog, Executor } from './audit.js';
import type { KeyService } from './keys.js';
import { rolloutAuthorizationProblem, servingEvidence } from './gate-evidence.js';
import { record } from './metrics.js';

export type StepAction = 'start' | 'evaluate' | 'stepUp' | 'promoteFully' | 'rollback' | 'fail';

export interface StepEvent {
  action: StepAction;
  promotionId: string;
  /** the execution's state (rollback and fail steps): `error` is set when a Catch led here */
  execution?: { error?: unknown };
}

/** What a step returns to the state machine, which routes on `next`. */
export interface StepOutput extends RolloutState {
  next: Next | 'done';
  verdict?: string;
}

const STATE_OF: Record<StepAction, string> = { start: 'StartCanary', evaluate: 'Evaluate', stepUp: 'StepUp', promoteFully: 'PromoteFully', rollback: 'RollBack', fail: 'RecordFailure' };

type PromotionRow = Awaited<ReturnType<RolloutService['load']>>;

/**
 * The rollout state machine's task: one function for every Task state (Lambda on AWS,
 * in-process locally). Each step is idempotent against the persisted rollout state, so a
 * retried or resumed step never jumps ahead: `start` on a rollout already under way returns
 * where it is instead of resetting it.
 */
export class RolloutService {
  constructor(
    private readonly database: Database,
    private readonly audit: AuditLog,
    private readonly keys: KeyService,
    private readonly judge: RolloutJudge,
    private readonly clock: Clock,
  ) {}

  async load(promotionId: string, db: Executor = this.database.db) {
    const p = await db.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).executeTakeFirst();
    if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
    return p;
  }

  async step(e: StepEvent): Promise<StepOutput> {
    const started = this.clock.now();
    const p = await this.load(e.promotionId);
    const canary = JSON.parse(p.canary) as CanaryConfig;
    const stepNo = Number((await this.database.db.selectFrom('promotion_steps').select((eb) => eb.fn.countAll<string>().as('n')).where('promotion_id', '=', p.promotion_id).executeTakeFirstOrThrow()).n) + 1;
    await this.database.db.insertInto('promotion_steps').values({ promotion_id: p.promotion_id, step: stepNo, state: p.kind === 'rollback' && e.action === 'promoteFully' ? 'SetRoute' : STATE_OF[e.action], input: canonicalJson({ action: e.action, ...(e.execution?.error ? { error: e.execution.error } : {}) }), output: null, error: null, entered_at: started, finished_at: null }).execute();
    try {
      const out = await this.#run(e, p, canary);
      await this.database.db.updateTable('promotion_steps').set({ output: canonicalJson(out), finished_at: this.clock.now() }).where('promotion_id', '=', p.promotion_id).where('step', '=', stepNo).execute();
      return out;
    } catch (err) {
      await this.database.db.updateTable('promotion_steps').set({ error: (err as Error).message, finished_at: this.clock.now() }).where('promotion_id', '=', p.promotion_id).where('step', '=', stepNo).execute();
      throw err;
    }
  }

  async #run(e: StepEvent, p: PromotionRow, canary: CanaryConfig): Promise<StepOutput> {
    const persisted = p.rollout_state ? (JSON.parse(p.rollout_state) as RolloutState) : undefined;
    switch (e.action) {
      case 'start': {
        if (p.status !== 'rolling_out') throw new AegisError('CONFLICT', `promotion ${p.promotion_id} is ${p.status}, not rolling out`);
        await this.#authorized(p);
        if (persisted) return { ...persisted, next: persisted.percent >= 100 ? 'promote' : 'wait' }; // resumed: continue where it was
        const state = initialState(canary, this.clock.now());
        if (state.percent >= 100) {
          await this.#save(p, state, 'start', {});
          return { ...state, next: 'promote' };
        }
        await this.#save(p, state, 'start', { canary_artifact_id: p.artifact_id, canary_percent: state.percent });
        return { ...state, next: 'wait' };
      }
      case 'evaluate': {
        const to = this.clock.now();
        const state = persisted ?? initialState(canary, to);
        // The canary is judged against what the chain says serves there, never a routes row edited since.
        const ring = new Map((await this.keys.list()).map((k) => [k.kid, k]));
        const serving = await servingEvidence(this.database.db, (kid) => ring.get(kid), { modelName: p.model_name, env: p.target_env });
        if (serving.problems.length > 0) {
          throw new AegisError('CONFLICT', `promotion ${p.promotion_id} is not judged: what serves ${p.model_name} in ${p.target_env} cannot be relied on: ${serving.problems.join('; ')}`, { field: 'promotionId', details: { problems: serving.problems } });
        }
        // The stage so far (held across inconclusive windows), minus the seconds the route cache needs to settle.
        const stageStart = state.stageStartedAt ? Date.parse(state.stageStartedAt) : to.getTime() - state.windowSeconds * 1000;
        const from = new Date(Math.min(to.getTime(), stageStart + Math.min(ROUTE_SETTLE_SECONDS, canary.windowSeconds / 5) * 1000));
        const v = await this.judge.evaluate({
          promotionId: p.promotion_id,
          modelName: p.model_name,
          env: p.target_env,
          stableArtifactId: serving.stableArtifactId,
          canaryArtifactId: p.artifact_id,
          from,
          to,
          canaryFrom: state.canaryStartedAt ? new Date(Math.min(Date.parse(state.canaryStartedAt), from.getTime())) : from,
          percent: state.percent,
          rollbackThreshold: canary.rollbackThreshold,
          minRequests: canary.minRequests ?? DEFAULT_MIN_REQUESTS,
        });
        const progress = { elapsedSeconds: (to.getTime() - stageStart) / 1000, requestsPerArm: Math.min(v.requests.stable, v.requests.canary), failed: v.reason };
        const { next, state: after } = nextAfterVerdict(state, v.verdict, canary, progress);
        await this.#save(p, after, 'evaluate', {}, { verdict: v.verdict, detail: v.detail, next }, { ...v, next, from, to, stage: state.stage, percent: state.percent });
        return { ...after, next, verdict: v.verdict };
      }
      case 'stepUp': {
        const state = stepUp(persisted ?? initialState(canary, this.clock.now()), canary, this.clock.now());
        await this.#save(p, state, 'stepUp', { canary_percent: state.percent });
        return { ...state, next: 'wait' };
      }
      case 'promoteFully':
        // a manual rollback starts here (SetRoute): the same check as at a rollout's start
        await this.#authorized(p);
        return this.#finish(p, 'succeeded', persisted);
      case 'rollback':
        return this.#finish(p, 'rolled_back', persisted, e.execution?.error);
      case 'fail':
        return this.#finish(p, 'failed', persisted, e.execution?.error);
    }
  }

  /** Refuses a promotion whose `rolling_out` status the chain does not back (policy allow, or an approval quorum). */
  async #authorized(p: PromotionRow): Promise<void> {
    const ring = new Map((await this.keys.list()).map((k) => [k.kid, k]));
    const why = await rolloutAuthorizationProblem(this.database.db, (kid) => ring.get(kid), { promotionId: p.promotion_id, kind: p.kind, artifactId: p.artifact_id, targetEnv: p.target_env });
    if (why) throw new AegisError('CONFLICT', `promotion ${p.promotion_id} does not roll out: ${why}`, { field: 'promotionId' });
  }

  async #save(p: PromotionRow, state: RolloutState, action: StepAction, route: { canary_artifact_id?: string; canary_percent?: number }, extra: Record<string, unknown> = {}, judged?: WindowVerdict & { next: Next; from: Date; to: Date; stage: number; percent: number }) {
    const now = this.clock.now();
    await this.database.db.transaction().execute(async (tx) => {
      await tx.updateTable('promotions').set({ rollout_state: canonicalJson(state) }).where('promotion_id', '=', p.promotion_id).execute();
      if (route.canary_percent !== undefined) await this.#upsertRoute(tx, p, { ...route, promotion_id: p.promotion_id }, now);
      let window: Record<string, unknown> | undefined;
      if (judged) {
        const last = await tx.selectFrom('canary_verdicts').select((eb) => eb.fn.max('seq').as('seq')).where('promotion_id', '=', p.promotion_id).executeTakeFirst();
        const row = verdictRow(p.promotion_id, Number(last?.seq ?? 0) + 1, judged, now);
        await tx.insertInto('canary_verdicts').values(row).execute();
        window = verdictPayload(row);
      }
      // the full rollout state, any route change and the judged window with its numbers, so a
      // rebuild from the archive can restore them and the gates can read them from the chain
      const { stage, percent, inconclusive, windowSeconds, ...times } = state;
      await this.audit.append(tx, { type: 'promotion.step', actor: 'rollout', subject: `promotion:${p.promotion_id}`, payload: { action, stage, percent, inconclusive, windowSeconds, ...times, route, ...extra, ...(window ? { window } : {}) } });
    });
  }

  async #upsertRoute(tx: Executor, p: PromotionRow, set: { stable_artifact_id?: string | null; canary_artifact_id?: string | null; canary_percent?: number; promotion_id?: string | null }, now: Date) {
    await tx
      .insertInto('routes')
      .values({ model_name: p.model_name, env: p.target_env, stable_artifact_id: set.stable_artifact_id ?? null, canary_artifact_id: set.canary_artifact_id ?? null, canary_percent: set.canary_percent ?? 0, promotion_id: set.promotion_id ?? null, updated_at: now })
      .onConflict((oc) => oc.columns(['model_name', 'env']).doUpdateSet({ ...set, updated_at: now }))
      .execute();
  }

  /** Ends the rollout once: succeeded (route to the artifact, record signed), rolled back or failed (route restored). */
  async #finish(p: PromotionRow, status: 'succeeded' | 'rolled_back' | 'failed', persisted: RolloutState | undefined, error?: unknown): Promise<StepOutput> {
    const state = persisted ?? { stage: -1, percent: status === 'succeeded' ? 100 : 0, inconclusive: 0, windowSeconds: 0 };
    const now = this.clock.now();
    let finished = false;
    await this.database.db.transaction().execute(async (tx) => {
      const current = await tx.selectFrom('promotions').select('status').where('promotion_id', '=', p.promotion_id).forUpdate().executeTakeFirstOrThrow();
      if (current.status !== 'rolling_out') return; // already finished: a retried step is a no-op
      finished = true;
      const record = { promotionId: p.promotion_id, kind: p.kind, artifactId: p.artifact_id, targetEnv: p.target_env, manifestSignatureId: p.manifest_signature_id, status, appliedAt: status === 'succeeded' ? now.toISOString() : null };
      const signer = await this.keys.activeSigner('manifest', tx);
      const signature = { signerId: signer.kid, alg: signer.alg, ts: now.toISOString(), signature: (await signer.sign(statementBytes({ type: 'aegis.promotion-record/v1', ...record }))).toString('base64') };
      await tx
        .updateTable('promotions')
        .set({ status, in_flight_key: null, applied_at: status === 'succeeded' ? now : null, record_signature: canonicalJson(signature), rollout_state: canonicalJson({ ...state, percent: status === 'succeeded' ? 100 : 0 }) })
        .where('promotion_id', '=', p.promotion_id)
        .execute();
      if (status === 'succeeded') await this.#upsertRoute(tx, p, { stable_artifact_id: p.artifact_id, canary_artifact_id: null, canary_percent: 0, promotion_id: p.promotion_id }, now);
      else await this.#upsertRoute(tx, p, { canary_artifact_id: null, canary_percent: 0, promotion_id: p.promotion_id }, now);
      const type = status === 'succeeded' ? 'promotion.applied' : status === 'rolled_back' ? 'promotion.rolled_back' : 'promotion.failed';
      await this.audit.append(tx, { type, actor: 'rollout', subject: `promotion:${p.promotion_id}`, payload: { ...record, recordSignature: signature, ...(state.reason && status !== 'succeeded' ? { reason: state.reason } : {}), ...(error ? { error: String((error as { Cause?: string }).Cause ?? JSON.stringify(error)).slice(0, 2000) } : {}) } });
    });
    if (finished) {
      record.promotionEnded(p.target_env, status, (now.getTime() - new Date(p.created_at).getTime()) / 1000);
    }
    return { ...state, percent: status === 'succeeded' ? 100 : 0, next: 'done' };
  }
}

type VerdictRow = Insertable<DB['canary_verdicts']>;

/** The stored row of a judged window. */
function verdictRow(promotionId: string, seq: number, v: WindowVerdict & { next: Next; from: Date; to: Date; stage: number; percent: number }, now: Date): VerdictRow {
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
    errors: r.stable_errors === null || r.canary_errors === null || r.stable_errors === undefined || r.canary_errors === undefined ? null : { stable: r.stable_errors, canary: r.canary_errors },
    detail: r.detail,
    judgement: r.judgement ? (JSON.parse(r.judgement) as unknown) : null,
    judgedAt: toIso(r.judged_at as Date | string),
  };
}

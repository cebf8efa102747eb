import type { Insertable } from 'kysely';
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';
import {
  DEFAULT_MIN_REQUESTS,
  ROUTE_SETTLE_SECONDS,
  initialState,
  nextAfterVerdict,
  stepState,
  stepUp,
  type CanaryConfig,
  type Next,
  type RolloutState,
  type StepAction,
} from './domain.js';
import { leaseDecision, leaseExpiry, secondsUntilDue, type Lease } from './lease.js';
import { statementBytes } from '../../kernel/signatures.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { RolloutJudge, WindowVerdict } from '../../platform/ports/workflows.js';
import { toIso, type DB } from '../../platform/sql/schema.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { KeyService } from '../keys/service.js';
import { rolloutAuthorizationProblem, servingEvidence } from '../promotion/gate-evidence.js';
import { record } from '../../platform/metrics.js';

export interface StepEvent {
  action: StepAction;
  promotionId: string;
  /**
   * The runner (execution) taking the step: `$$.Execution.Id` in the state machines (the
   * execution ARN on AWS, an id per in-process execution locally). Only the holder of the
   * rollout's lease advances it.
   */
  runner: string;
  /** the execution's state (rollback and fail steps): `error` is set when a Catch led here */
  execution?: { error?: unknown };
}

/** What a step returns to the state machine, which routes on `next`. */
export interface StepOutput extends RolloutState {
  next: Next | 'done';
  verdict?: string;
}

type PromotionRow = Awaited<ReturnType<RolloutService['load']>>;

/**
 * A step refused because its runner does not hold the rollout's lease (another runner took
 * it over, or holds it now). Named for the state machines: their Catch for `Aegis.LeaseLost`
 * ends the execution quietly instead of rolling the canary back.
 */
export class LeaseLostError extends AegisError {
  constructor(message: string, details: Record<string, unknown>) {
    super('LEASE_LOST', message, { details });
    this.name = 'Aegis.LeaseLost';
  }
}

export interface RolloutOptions {
  /**
   * Seconds a runner's lease holds beyond the wait it is in (AEGIS_ROLLOUT_LEASE_SECONDS):
   * the time a step may take, and how long after its next step was due a dead runner is
   * replaced. @default 60
   */
  leaseSeconds: number;
  /** test-only fault points (AEGIS_TEST_KILL_AT, refused in production): called at named points of a step */
  faultPoint?: (point: string) => void;
}

/** Where a step stands with the lease: the token its writes are conditional on. */
interface Held {
  runner: string;
  token: number;
}

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
    private readonly options: RolloutOptions = { leaseSeconds: 60 },
  ) {}

  async load(promotionId: string, db: Executor = this.database.db) {
    const p = await db.selectFrom('promotions').selectAll().where('promotion_id', '=', promotionId).executeTakeFirst();
    if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
    return p;
  }

  async step(e: StepEvent): Promise<StepOutput> {
    if (typeof e.runner !== 'string' || e.runner.length === 0 || e.runner.length > 512)
      throw new AegisError('VALIDATION_FAILED', 'runner must be the execution id (1-512 characters)', { field: 'runner' });
    const started = this.clock.now();
    const p = await this.load(e.promotionId);
    const canary = JSON.parse(p.canary) as CanaryConfig;
    const lease = await this.#acquire(p.promotion_id, e.runner, started);
    const stepNo =
      Number(
        (
          await this.database.db
            .selectFrom('promotion_steps')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('promotion_id', '=', p.promotion_id)
            .executeTakeFirstOrThrow()
        ).n,
      ) + 1;
    await this.database.db
      .insertInto('promotion_steps')
      .values({
        promotion_id: p.promotion_id,
        step: stepNo,
        state: stepState(p.kind, e.action),
        input: canonicalJson({ action: e.action, ...(e.execution?.error ? { error: e.execution.error } : {}) }),
        output: null,
        error: lease instanceof LeaseLostError ? lease.message : null,
        entered_at: started,
        finished_at: lease instanceof LeaseLostError ? started : null,
        runner: e.runner,
        lease_token: lease instanceof LeaseLostError ? null : lease.token,
      })
      .execute();
    // refused before it began: recorded (with who holds the rollout), nothing else written
    if (lease instanceof LeaseLostError) throw lease;
    try {
      const out = await this.#run(e, p, canary, lease);
      await this.database.db
        .updateTable('promotion_steps')
        .set({ output: canonicalJson(out), finished_at: this.clock.now() })
        .where('promotion_id', '=', p.promotion_id)
        .where('step', '=', stepNo)
        .execute();
      return out;
    } catch (err) {
      await this.database.db
        .updateTable('promotion_steps')
        .set({ error: (err as Error).message, finished_at: this.clock.now() })
        .where('promotion_id', '=', p.promotion_id)
        .where('step', '=', stepNo)
        .execute();
      throw err;
    }
  }

  /**
   * Takes or renews the rollout's lease for `runner` (its step has `leaseSeconds` to run), or
   * returns the refusal when another runner's lease holds. One transaction, the row locked:
   * two runners asking at once get one answer each, never the same token.
   */
  async #acquire(promotionId: string, runner: string, now: Date): Promise<Held | LeaseLostError> {
    return this.database.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('rollout_leases')
        .values({ promotion_id: promotionId, holder: runner, token: 0, expires_at: new Date(0), due_at: null, acquired_at: now })
        .onConflict((oc) => oc.column('promotion_id').doNothing())
        .execute();
      const row = await tx
        .selectFrom('rollout_leases')
        .selectAll()
        .where('promotion_id', '=', promotionId)
        .forUpdate()
        .executeTakeFirstOrThrow();
      // token 0 is the row just inserted: nobody held it yet
      const current: Lease | undefined =
        Number(row.token) === 0
          ? undefined
          : {
              holder: row.holder,
              token: Number(row.token),
              expiresAt: new Date(row.expires_at),
              dueAt: row.due_at === null ? null : new Date(row.due_at),
            };
      const d = leaseDecision(current, runner, now);
      if (d.kind === 'refuse') {
        return new LeaseLostError(
          `runner ${runner} does not hold the lease of promotion ${promotionId}: ${d.holder} holds it (token ${d.token}) until ${d.expiresAt.toISOString()}`,
          { holder: d.holder, token: d.token, expiresAt: d.expiresAt.toISOString() },
        );
      }
      const expires = leaseExpiry(now, 0, this.options.leaseSeconds);
      await tx
        .updateTable('rollout_leases')
        .set({
          holder: runner,
          token: d.token,
          expires_at: expires > new Date(row.expires_at) || d.kind === 'acquire' ? expires : new Date(row.expires_at),
          ...(d.kind === 'acquire' ? { acquired_at: now } : {}),
        })
        .where('promotion_id', '=', promotionId)
        .execute();
      return { runner, token: d.token };
    });
  }

  /**
   * The fence: inside a step's transaction, refuses (rolling back everything the step wrote)
   * unless the lease still carries this runner's token, and extends the lease over the wait
   * that follows the step.
   */
  async #fence(tx: Executor, promotionId: string, held: Held, waitSeconds: number | null): Promise<void> {
    const row = await tx
      .selectFrom('rollout_leases')
      .select(['holder', 'token'])
      .where('promotion_id', '=', promotionId)
      .forUpdate()
      .executeTakeFirst();
    if (!row || Number(row.token) !== held.token || row.holder !== held.runner) {
      throw new LeaseLostError(
        `runner ${held.runner} lost the lease of promotion ${promotionId} (token ${held.token}) during its step: ${row ? `${row.holder} holds it now (token ${row.token})` : 'no lease'}; nothing of the step was written`,
        { holder: row?.holder ?? null, token: row ? Number(row.token) : null },
      );
    }
    const now = this.clock.now();
    await tx
      .updateTable('rollout_leases')
      .set({
        expires_at: leaseExpiry(now, waitSeconds ?? 0, this.options.leaseSeconds),
        due_at: waitSeconds === null ? null : new Date(now.getTime() + waitSeconds * 1000),
      })
      .where('promotion_id', '=', promotionId)
      .execute();
  }

  /**
   * Gives the lease up (a server shutting down gracefully): another runner may take the
   * rollout over at once, from its persisted state. The holder is marked released, so a step
   * of this runner still in flight can no longer write; only the runner's own lease is touched.
   */
  async release(promotionId: string, runner: string): Promise<void> {
    await this.database.db
      .updateTable('rollout_leases')
      .set({ holder: `released:${runner}`, expires_at: this.clock.now() })
      .where('promotion_id', '=', promotionId)
      .where('holder', '=', runner)
      .execute();
  }

  async #run(e: StepEvent, p: PromotionRow, canary: CanaryConfig, held: Held): Promise<StepOutput> {
    const persisted = p.rollout_state ? (JSON.parse(p.rollout_state) as RolloutState) : undefined;
    switch (e.action) {
      case 'start': {
        if (p.status !== 'rolling_out') throw new AegisError('CONFLICT', `promotion ${p.promotion_id} is ${p.status}, not rolling out`);
        await this.#authorized(p);
        if (persisted) {
          // resumed (a restart, or a runner taking over a dead one's lease): continue where it
          // was, waiting only what is left of the wait the previous runner was in
          const due = await this.database.db
            .selectFrom('rollout_leases')
            .select('due_at')
            .where('promotion_id', '=', p.promotion_id)
            .executeTakeFirst();
          const left = secondsUntilDue(due?.due_at ? new Date(due.due_at) : null, this.clock.now());
          return {
            ...persisted,
            ...(left !== undefined && persisted.percent < 100 ? { windowSeconds: left } : {}),
            next: persisted.percent >= 100 ? 'promote' : 'wait',
          };
        }
        const state = initialState(canary, this.clock.now());
        if (state.percent >= 100) {
          await this.#save(p, held, state, 'start', {}, null);
          return { ...state, next: 'promote' };
        }
        await this.#save(
          p,
          held,
          state,
          'start',
          { canary_artifact_id: p.artifact_id, canary_percent: state.percent },
          state.windowSeconds,
        );
        return { ...state, next: 'wait' };
      }
      case 'evaluate': {
        const to = this.clock.now();
        const state = persisted ?? initialState(canary, to);
        // The canary is judged against what the chain says serves there, never a routes row edited since.
        const ring = new Map((await this.keys.list()).map((k) => [k.kid, k]));
        const serving = await servingEvidence(this.database.db, (kid) => ring.get(kid), { modelName: p.model_name, env: p.target_env });
        if (serving.problems.length > 0) {
          throw new AegisError(
            'CONFLICT',
            `promotion ${p.promotion_id} is not judged: what serves ${p.model_name} in ${p.target_env} cannot be relied on: ${serving.problems.join('; ')}`,
            { field: 'promotionId', details: { problems: serving.problems } },
          );
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
        const progress = {
          elapsedSeconds: (to.getTime() - stageStart) / 1000,
          requestsPerArm: Math.min(v.requests.stable, v.requests.canary),
          failed: v.reason,
        };
        const { next, state: after } = nextAfterVerdict(state, v.verdict, canary, progress);
        await this.#save(
          p,
          held,
          after,
          'evaluate',
          {},
          next === 'wait' ? after.windowSeconds : null,
          { verdict: v.verdict, detail: v.detail, next },
          { ...v, next, from, to, stage: state.stage, percent: state.percent },
        );
        return { ...after, next, verdict: v.verdict };
      }
      case 'stepUp': {
        const state = stepUp(persisted ?? initialState(canary, this.clock.now()), canary, this.clock.now());
        await this.#save(p, held, state, 'stepUp', { canary_percent: state.percent }, state.windowSeconds);
        return { ...state, next: 'wait' };
      }
      case 'promoteFully':
        // a manual rollback starts here (SetRoute): the same check as at a rollout's start
        await this.#authorized(p);
        return this.#finish(p, held, 'succeeded', persisted);
      case 'rollback':
        return this.#finish(p, held, 'rolled_back', persisted, e.execution?.error);
      case 'fail':
        return this.#finish(p, held, 'failed', persisted, e.execution?.error);
    }
  }

  /** Refuses a promotion whose `rolling_out` status the chain does not back (policy allow, or an approval quorum). */
  async #authorized(p: PromotionRow): Promise<void> {
    const ring = new Map((await this.keys.list()).map((k) => [k.kid, k]));
    const why = await rolloutAuthorizationProblem(this.database.db, (kid) => ring.get(kid), {
      promotionId: p.promotion_id,
      kind: p.kind,
      artifactId: p.artifact_id,
      targetEnv: p.target_env,
    });
    if (why) throw new AegisError('CONFLICT', `promotion ${p.promotion_id} does not roll out: ${why}`, { field: 'promotionId' });
  }

  /** One step's writes, in one transaction conditional on the lease token; `waitSeconds` is the wait that follows (null: none). */
  async #save(
    p: PromotionRow,
    held: Held,
    state: RolloutState,
    action: StepAction,
    route: { canary_artifact_id?: string; canary_percent?: number },
    waitSeconds: number | null,
    extra: Record<string, unknown> = {},
    judged?: WindowVerdict & { next: Next; from: Date; to: Date; stage: number; percent: number },
  ) {
    const now = this.clock.now();
    await this.database.db.transaction().execute(async (tx) => {
      await this.#fence(tx, p.promotion_id, held, waitSeconds);
      await tx
        .updateTable('promotions')
        .set({ rollout_state: canonicalJson(state) })
        .where('promotion_id', '=', p.promotion_id)
        .execute();
      if (route.canary_percent !== undefined) await this.#upsertRoute(tx, p, { ...route, promotion_id: p.promotion_id }, now);
      let window: Record<string, unknown> | undefined;
      if (judged) {
        const last = await tx
          .selectFrom('canary_verdicts')
          .select((eb) => eb.fn.max('seq').as('seq'))
          .where('promotion_id', '=', p.promotion_id)
          .executeTakeFirst();
        const row = verdictRow(p.promotion_id, Number(last?.seq ?? 0) + 1, judged, now);
        await tx.insertInto('canary_verdicts').values(row).execute();
        window = verdictPayload(row);
      }
      // the full rollout state, any route change and the judged window with its numbers, so a
      // rebuild from the archive can restore them and the gates can read them from the chain
      const { stage, percent, inconclusive, windowSeconds, ...times } = state;
      await this.audit.append(tx, {
        type: 'promotion.step',
        actor: 'rollout',
        subject: `promotion:${p.promotion_id}`,
        payload: { action, stage, percent, inconclusive, windowSeconds, ...times, route, ...extra, ...(window ? { window } : {}) },
      });
      this.options.faultPoint?.(`rollout.${action}.before-commit`);
    });
  }

  async #upsertRoute(
    tx: Executor,
    p: PromotionRow,
    set: { stable_artifact_id?: string | null; canary_artifact_id?: string | null; canary_percent?: number; promotion_id?: string | null },
    now: Date,
  ) {
    await tx
      .insertInto('routes')
      .values({
        model_name: p.model_name,
        env: p.target_env,
        stable_artifact_id: set.stable_artifact_id ?? null,
        canary_artifact_id: set.canary_artifact_id ?? null,
        canary_percent: set.canary_percent ?? 0,
        promotion_id: set.promotion_id ?? null,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(['model_name', 'env']).doUpdateSet({ ...set, updated_at: now }))
      .execute();
  }

  /** Ends the rollout once: succeeded (route to the artifact, record signed), rolled back or failed (route restored). */
  async #finish(
    p: PromotionRow,
    held: Held,
    status: 'succeeded' | 'rolled_back' | 'failed',
    persisted: RolloutState | undefined,
    error?: unknown,
  ): Promise<StepOutput> {
    const state = persisted ?? { stage: -1, percent: status === 'succeeded' ? 100 : 0, inconclusive: 0, windowSeconds: 0 };
    const now = this.clock.now();
    let finished = false;
    await this.database.db.transaction().execute(async (tx) => {
      const current = await tx
        .selectFrom('promotions')
        .select('status')
        .where('promotion_id', '=', p.promotion_id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (current.status !== 'rolling_out') return; // already finished: a retried step is a no-op
      await this.#fence(tx, p.promotion_id, held, null);
      finished = true;
      const record = {
        promotionId: p.promotion_id,
        kind: p.kind,
        artifactId: p.artifact_id,
        targetEnv: p.target_env,
        manifestSignatureId: p.manifest_signature_id,
        status,
        appliedAt: status === 'succeeded' ? now.toISOString() : null,
      };
      const signer = await this.keys.activeSigner('manifest', tx);
      const signature = {
        signerId: signer.kid,
        alg: signer.alg,
        ts: now.toISOString(),
        signature: (await signer.sign(statementBytes({ type: 'aegis.promotion-record/v1', ...record }))).toString('base64'),
      };
      await tx
        .updateTable('promotions')
        .set({
          status,
          in_flight_key: null,
          applied_at: status === 'succeeded' ? now : null,
          record_signature: canonicalJson(signature),
          rollout_state: canonicalJson({ ...state, percent: status === 'succeeded' ? 100 : 0 }),
        })
        .where('promotion_id', '=', p.promotion_id)
        .execute();
      if (status === 'succeeded')
        await this.#upsertRoute(
          tx,
          p,
          { stable_artifact_id: p.artifact_id, canary_artifact_id: null, canary_percent: 0, promotion_id: p.promotion_id },
          now,
        );
      else await this.#upsertRoute(tx, p, { canary_artifact_id: null, canary_percent: 0, promotion_id: p.promotion_id }, now);
      const type = status === 'succeeded' ? 'promotion.applied' : status === 'rolled_back' ? 'promotion.rolled_back' : 'promotion.failed';
      await this.audit.append(tx, {
        type,
        actor: 'rollout',
        subject: `promotion:${p.promotion_id}`,
        payload: {
          ...record,
          recordSignature: signature,
          ...(state.reason && status !== 'succeeded' ? { reason: state.reason } : {}),
          ...(error ? { error: String((error as { Cause?: string }).Cause ?? JSON.stringify(error)).slice(0, 2000) } : {}),
        },
      });
    });
    if (finished) {
      record.promotionEnded(p.target_env, status, (now.getTime() - new Date(p.created_at).getTime()) / 1000);
    }
    return { ...state, percent: status === 'succeeded' ? 100 : 0, next: 'done' };
  }
}

type VerdictRow = Insertable<DB['canary_verdicts']>;

/** The stored row of a judged window. */
function verdictRow(
  promotionId: string,
  seq: number,
  v: WindowVerdict & { next: Next; from: Date; to: Date; stage: number; percent: number },
  now: Date,
): VerdictRow {
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
    errors:
      r.stable_errors === null || r.canary_errors === null || r.stable_errors === undefined || r.canary_errors === undefined
        ? null
        : { stable: r.stable_errors, canary: r.canary_errors },
    detail: r.detail,
    judgement: r.judgement ? (JSON.parse(r.judgement) as unknown) : null,
    judgedAt: toIso(r.judged_at as Date | string),
  };
}

/**
 * What each Task state of the rollout state machines does, once the runner holds the lease:
 * start the canary, judge a window, step up, and end the rollout. Every write of a step is
 * one transaction fenced by the lease token.
 */
import { AegisError } from '../../kernel/errors.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ServiceMetrics } from '../../platform/ports/metrics.js';
import type { ServingWarmer } from '../../platform/ports/serving-warmer.js';
import type { RolloutJudge } from '../../platform/ports/workflows.js';
import {
  DEFAULT_MIN_REQUESTS,
  ROUTE_SETTLE_SECONDS,
  initialState,
  nextAfterVerdict,
  stepUp,
  type Next,
  type RolloutState,
  type StepAction,
} from './domain.js';
import { fence, type Held } from './fence.js';
import type { PromotionLedger, RolloutEnd, RolloutPromotion } from './ledger.js';
import { secondsUntilDue } from './lease.js';
import {
  insertVerdict,
  leaseDueAt,
  nextVerdictSeq,
  routedStable,
  upsertRoute,
  verdictPayload,
  verdictRow,
  type JudgedWindow,
  type RouteChange,
} from './store.js';

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

export interface RolloutDeps {
  database: Database;
  audit: AuditLog;
  judge: RolloutJudge;
  clock: Clock;
  /** the promotions the rollouts advance, kept by the promotion module */
  promotions: PromotionLedger;
  /** @default { leaseSeconds: 60 } */
  options?: RolloutOptions;
  /** where ended rollouts are counted and timed (none when absent) */
  metrics?: ServiceMetrics;
  /** loads and warms a blue-green candidate before the switch (strategy `blue-green`) */
  warmer?: ServingWarmer;
}

/** What a step returns to the state machine, which routes on `next`. */
export interface StepOutput extends RolloutState {
  next: Next | 'done';
  verdict?: string;
}

/** One step under way: the promotion, the lease it holds, and the persisted rollout state. */
interface Step {
  d: RolloutDeps & { options: RolloutOptions };
  p: RolloutPromotion;
  held: Held;
  persisted: RolloutState | undefined;
}

/** Runs the step's action; the caller holds the lease and records the step. */
export async function runStep(
  d: Step['d'],
  e: { action: StepAction; execution?: { error?: unknown } },
  p: RolloutPromotion,
  held: Held,
): Promise<StepOutput> {
  const s: Step = { d, p, held, persisted: p.rolloutState ?? undefined };
  if (e.action === 'start' || e.action === 'stepUp' || e.action === 'promoteFully') await notQuarantined(s);
  switch (e.action) {
    case 'start':
      return start(s);
    case 'evaluate':
      return evaluate(s);
    case 'stepUp': {
      const state = stepUp(s.persisted ?? initialState(p.canary, d.clock.now()), p.canary, d.clock.now());
      await save(s, { state, action: 'stepUp', route: { canary_percent: state.percent }, waitSeconds: state.windowSeconds });
      return { ...state, next: 'wait' };
    }
    case 'warmUp':
      throw new AegisError('CONFLICT', `promotion ${p.promotionId}: warm-up is not built yet`);
    case 'promoteFully':
      // a manual rollback starts here (SetRoute): the same check as at a rollout's start
      await authorized(s);
      return finish(s, 'succeeded');
    case 'rollback':
      return finish(s, 'rolled_back', e.execution?.error);
    case 'fail':
      return finish(s, 'failed', e.execution?.error);
  }
}

async function start(s: Step): Promise<StepOutput> {
  const { d, p, persisted } = s;
  if (p.status !== 'rolling_out') throw new AegisError('CONFLICT', `promotion ${p.promotionId} is ${p.status}, not rolling out`);
  await authorized(s);
  if (persisted) {
    // resumed (a restart, or a runner taking over a dead one's lease): continue where it
    // was, waiting only what is left of the wait the previous runner was in
    const left = secondsUntilDue(await leaseDueAt(d.database.db, p.promotionId), d.clock.now());
    return {
      ...persisted,
      ...(left !== undefined && persisted.percent < 100 ? { windowSeconds: left } : {}),
      next: persisted.percent >= 100 ? 'promote' : 'wait',
    };
  }
  const state = initialState(p.canary, d.clock.now());
  if (state.percent >= 100) {
    await save(s, { state, action: 'start', route: {}, waitSeconds: null });
    return { ...state, next: 'promote' };
  }
  const route = { canary_artifact_id: p.artifactId, canary_percent: state.percent };
  await save(s, { state, action: 'start', route, waitSeconds: state.windowSeconds });
  return { ...state, next: 'wait' };
}

async function evaluate(s: Step): Promise<StepOutput> {
  const { d, p } = s;
  const canary = p.canary;
  const now = d.clock.now();
  const state = s.persisted ?? initialState(canary, now);
  const quarantine = await d.promotions.quarantined(p.artifactId);
  if (quarantine) {
    const after = { ...state, reason: `quarantined: ${quarantine}` };
    await save(s, { state: after, action: 'evaluate', route: {}, waitSeconds: null, extra: { next: 'rollback' } });
    return { ...after, next: 'rollback' };
  }
  // The canary is judged against what the chain says serves there, never a routes row edited since.
  const serving = await d.promotions.servingEvidence(
    { modelName: p.modelName, env: p.targetEnv },
    await routedStable(d.database.db, p.modelName, p.targetEnv),
  );
  if (serving.problems.length > 0) {
    throw new AegisError(
      'CONFLICT',
      `promotion ${p.promotionId} is not judged: what serves ${p.modelName} in ${p.targetEnv} cannot be relied on: ${serving.problems.join('; ')}`,
      { field: 'promotionId', details: { problems: serving.problems } },
    );
  }
  const { stageStart, from, to } = await judgedSpan(s, state, now);
  const v = await d.judge.evaluate({
    promotionId: p.promotionId,
    modelName: p.modelName,
    env: p.targetEnv,
    stableArtifactId: serving.stableArtifactId,
    canaryArtifactId: p.artifactId,
    from,
    to,
    canaryFrom: state.canaryStartedAt ? new Date(Math.min(Date.parse(state.canaryStartedAt), from.getTime())) : from,
    percent: state.percent,
    rollbackThreshold: canary.rollbackThreshold,
    minRequests: canary.minRequests ?? DEFAULT_MIN_REQUESTS,
  });
  // measured to the window's end, not now: the next window's end moves by the wait, as now does
  const progress = {
    elapsedSeconds: (to.getTime() - stageStart) / 1000,
    requestsPerArm: Math.min(v.requests.stable, v.requests.canary),
    failed: v.reason,
  };
  const { next, state: after } = nextAfterVerdict(state, v.verdict, canary, progress);
  await save(s, {
    state: after,
    action: 'evaluate',
    route: {},
    waitSeconds: next === 'wait' ? after.windowSeconds : null,
    extra: { verdict: v.verdict, detail: v.detail, next },
    judged: { ...v, next, from, to, stage: state.stage, percent: state.percent },
  });
  d.metrics?.canaryVerdict(p.targetEnv, v.verdict);
  return { ...after, next, verdict: v.verdict };
}

/**
 * The window a step judges: the stage so far (held across inconclusive windows), minus the
 * seconds the route cache needs to settle, ending where the judge's metrics are complete (on
 * AWS the ingest watermark, behind now by the delivery lag and a grace) and never before it
 * starts. Events still on their way are judged by the stage's next window, which accumulates
 * from the same start.
 */
async function judgedSpan({ d, p }: Step, state: RolloutState, now: Date): Promise<{ stageStart: number; from: Date; to: Date }> {
  const stageStart = state.stageStartedAt ? Date.parse(state.stageStartedAt) : now.getTime() - state.windowSeconds * 1000;
  const from = new Date(Math.min(now.getTime(), stageStart + Math.min(ROUTE_SETTLE_SECONDS, p.canary.windowSeconds / 5) * 1000));
  const settled = (await d.judge.settledUntil?.(p.modelName, p.targetEnv, now)) ?? now;
  return { stageStart, from, to: new Date(Math.max(from.getTime(), Math.min(now.getTime(), settled.getTime()))) };
}

/** A quarantined artifact never gets (more) traffic: the step fails, and the state machine rolls back. */
async function notQuarantined({ d, p }: Step): Promise<void> {
  const why = await d.promotions.quarantined(p.artifactId);
  if (why) throw new AegisError('ARTIFACT_QUARANTINED', `artifact ${p.artifactId} is quarantined: ${why}`, { field: 'artifactId' });
}

/** Refuses a promotion whose `rolling_out` status the chain does not back (policy allow, or an approval quorum). */
async function authorized({ d, p }: Step): Promise<void> {
  const why = await d.promotions.authorizationProblem(p);
  if (why) throw new AegisError('CONFLICT', `promotion ${p.promotionId} does not roll out: ${why}`, { field: 'promotionId' });
}

/** One step's writes, in one transaction conditional on the lease token; `waitSeconds` is the wait that follows (null: none). */
async function save(
  { d, p, held }: Step,
  w: {
    state: RolloutState;
    action: StepAction;
    route: Pick<RouteChange, 'canary_artifact_id' | 'canary_percent'>;
    waitSeconds: number | null;
    extra?: Record<string, unknown>;
    judged?: JudgedWindow;
  },
): Promise<void> {
  const now = d.clock.now();
  await d.database.db.transaction().execute(async (tx) => {
    await fence(tx, { promotionId: p.promotionId, held, waitSeconds: w.waitSeconds, clock: d.clock, leaseSeconds: d.options.leaseSeconds });
    await d.promotions.saveState(tx, p.promotionId, w.state);
    if (w.route.canary_percent !== undefined)
      await upsertRoute(tx, { modelName: p.modelName, env: p.targetEnv }, { ...w.route, promotion_id: p.promotionId }, now);
    let window: Record<string, unknown> | undefined;
    if (w.judged) {
      const row = verdictRow(p.promotionId, await nextVerdictSeq(tx, p.promotionId), w.judged, now);
      await insertVerdict(tx, row);
      window = verdictPayload(row);
    }
    // the full rollout state, any route change and the judged window with its numbers, so a
    // rebuild from the archive can restore them and the gates can read them from the chain
    const { stage, percent, inconclusive, windowSeconds, ...times } = w.state;
    const { action, route, extra = {} } = w;
    await d.audit.append(tx, {
      type: 'promotion.step',
      actor: 'rollout',
      subject: `promotion:${p.promotionId}`,
      payload: { action, stage, percent, inconclusive, windowSeconds, ...times, route, ...extra, ...(window ? { window } : {}) },
    });
    d.options.faultPoint?.(`rollout.${action}.before-commit`);
  });
}

const END_EVENT = { succeeded: 'promotion.applied', rolled_back: 'promotion.rolled_back', failed: 'promotion.failed' } as const;

/** Ends the rollout once: succeeded (route to the artifact, record signed), rolled back or failed (route restored). */
async function finish({ d, p, held, persisted }: Step, status: RolloutEnd, error?: unknown): Promise<StepOutput> {
  const state = persisted ?? { stage: -1, percent: status === 'succeeded' ? 100 : 0, inconclusive: 0, windowSeconds: 0 };
  const final = { ...state, percent: status === 'succeeded' ? 100 : 0 };
  const now = d.clock.now();
  let finished = false;
  await d.database.db.transaction().execute(async (tx) => {
    if ((await d.promotions.lockStatus(tx, p.promotionId)) !== 'rolling_out') return; // already finished: a retried step is a no-op
    await fence(tx, { promotionId: p.promotionId, held, waitSeconds: null, clock: d.clock, leaseSeconds: d.options.leaseSeconds });
    finished = true;
    const { record: signed, recordSignature } = await d.promotions.end(tx, p, { status, state: final, at: now });
    const route = { canary_artifact_id: null, canary_percent: 0, promotion_id: p.promotionId };
    await upsertRoute(
      tx,
      { modelName: p.modelName, env: p.targetEnv },
      status === 'succeeded' ? { stable_artifact_id: p.artifactId, ...route } : route,
      now,
    );
    await d.audit.append(tx, {
      type: END_EVENT[status],
      actor: 'rollout',
      subject: `promotion:${p.promotionId}`,
      payload: {
        ...signed,
        recordSignature,
        ...(state.reason && status !== 'succeeded' ? { reason: state.reason } : {}),
        ...(error ? { error: String((error as { Cause?: string }).Cause ?? JSON.stringify(error)).slice(0, 2000) } : {}),
      },
    });
  });
  if (finished) d.metrics?.promotionEnded(p.targetEnv, status, (now.getTime() - p.createdAt.getTime()) / 1000);
  return { ...final, next: 'done' };
}

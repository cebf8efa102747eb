/**
 * What each Task state of the rollout state machines does, once the runner holds the lease:
 * start the rollout, judge a window, step up, warm up, and end the rollout. Every write of a
 * step is one transaction fenced by the lease token (step-context.ts); the shadow and
 * blue-green phases are strategies.ts's.
 */
import { AegisError } from '../../kernel/errors.js';
import {
  DEFAULT_MIN_REQUESTS,
  DEFAULT_SHADOW,
  ROUTE_SETTLE_SECONDS,
  initialState,
  nextAfterShadowVerdict,
  nextAfterVerdict,
  stepUp,
  type RolloutState,
  type StepAction,
} from './domain.js';
import { fence, type Held } from './fence.js';
import type { RolloutEnd, RolloutPromotion } from './ledger.js';
import { secondsUntilDue } from './lease.js';
import { authorized, notQuarantined, save, type Step, type StepOutput } from './step-context.js';
import { evaluateHold, resumedNext, startRoute, stepUpRoute, warmUp } from './strategies.js';
import { leaseDueAt } from './store-leases.js';
import { NO_CANDIDATE, routedStable, upsertRoute } from './store.js';

export type { RolloutDeps, RolloutOptions, StepOutput } from './step-context.js';

const GETS_TRAFFIC: readonly StepAction[] = ['start', 'stepUp', 'warmUp', 'promoteFully'];

/** Runs the step's action; the caller holds the lease and records the step. */
export async function runStep(
  d: Step['d'],
  e: { action: StepAction; execution?: { error?: unknown } },
  p: RolloutPromotion,
  held: Held,
): Promise<StepOutput> {
  const s: Step = { d, p, held, persisted: p.rolloutState ?? undefined };
  if (GETS_TRAFFIC.includes(e.action)) await notQuarantined(s);
  switch (e.action) {
    case 'start':
      return start(s);
    case 'evaluate':
      return evaluate(s);
    case 'stepUp': {
      const from = s.persisted ?? initialState(p.canary, d.clock.now());
      const state = stepUp(from, p.canary, d.clock.now());
      await save(s, { state, action: 'stepUp', route: stepUpRoute(from, state, p), waitSeconds: state.windowSeconds });
      return { ...state, next: 'wait' };
    }
    case 'warmUp':
      return warmUp(s);
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
    return resumedNext(s, persisted, left);
  }
  const state = initialState(p.canary, d.clock.now());
  if (state.phase === 'warming') {
    await save(s, { state, action: 'start', route: {}, waitSeconds: null });
    return { ...state, next: 'warm-up' };
  }
  if (state.percent >= 100) {
    await save(s, { state, action: 'start', route: {}, waitSeconds: null });
    return { ...state, next: 'promote' };
  }
  await save(s, { state, action: 'start', route: startRoute(state, p), waitSeconds: state.windowSeconds });
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
  if (state.phase === 'hold') return evaluateHold(s, state, now);
  // The canary (or shadow) is judged against what the chain says serves there, never a routes row edited since.
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
  const v = await judge(s, state, serving.stableArtifactId, { from, to });
  const shadow = state.phase === 'shadow';
  // measured to the window's end, not now: the next window's end moves by the wait, as now does
  const progress = {
    elapsedSeconds: (to.getTime() - stageStart) / 1000,
    requestsPerArm: Math.min(v.requests.stable, v.requests.canary),
    failed: v.reason,
  };
  const { next, state: after } = shadow
    ? nextAfterShadowVerdict(state, v.verdict, canary, now, progress)
    : nextAfterVerdict(state, v.verdict, canary, progress);
  await save(s, {
    state: after,
    action: 'evaluate',
    route: {},
    waitSeconds: next === 'wait' ? after.windowSeconds : null,
    extra: { verdict: v.verdict, detail: v.detail, next },
    judged: { ...v, next, from, to, stage: state.stage, percent: state.percent, phase: shadow ? 'shadow' : null },
  });
  d.metrics?.canaryVerdict(p.targetEnv, v.verdict);
  return { ...after, next, verdict: v.verdict };
}

/**
 * The judge's verdict on the window: the canary arm at the stage's percent against stable,
 * or in the shadow phase the mirrored answers (at the share mirrored) and their agreement.
 */
async function judge({ d, p }: Step, state: RolloutState, stableArtifactId: string | null, span: { from: Date; to: Date }) {
  const c = p.canary;
  const shadow = state.phase === 'shadow' ? (c.shadow ?? DEFAULT_SHADOW) : undefined;
  const { from } = span;
  return d.judge.evaluate({
    promotionId: p.promotionId,
    modelName: p.modelName,
    env: p.targetEnv,
    stableArtifactId,
    canaryArtifactId: p.artifactId,
    ...span,
    canaryFrom: state.canaryStartedAt ? new Date(Math.min(Date.parse(state.canaryStartedAt), from.getTime())) : from,
    percent: shadow ? shadow.percent : state.percent,
    rollbackThreshold: c.rollbackThreshold,
    minRequests: c.minRequests ?? DEFAULT_MIN_REQUESTS,
    ...(shadow ? { arm: 'shadow' as const, minAgreement: shadow.minAgreement } : {}),
    // the canary arm's quality (a shadow's mirrored answers are judged on their agreement)
    ...(!shadow && c.minLabelled !== undefined && { minLabelled: c.minLabelled }),
  });
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

const END_EVENT = { succeeded: 'promotion.applied', rolled_back: 'promotion.rolled_back', failed: 'promotion.failed' } as const;

/**
 * Ends the rollout once: succeeded (route to the artifact, record signed; from a blue-green
 * hold, blue is released), rolled back or failed (route restored: canary and shadow cleared).
 */
async function finish({ d, p, held, persisted }: Step, status: RolloutEnd, error?: unknown): Promise<StepOutput> {
  const at = persisted ?? { stage: -1, percent: status === 'succeeded' ? 100 : 0, inconclusive: 0, windowSeconds: 0 };
  // taken over and ended by an abort or a quarantine (an `Aegis.*` error): that is the reason
  const cause = abortCause(error);
  const state = status !== 'succeeded' && !at.reason && cause ? { ...at, reason: cause } : at;
  const final = { ...state, percent: status === 'succeeded' ? 100 : 0 };
  const now = d.clock.now();
  let finished = false;
  await d.database.db.transaction().execute(async (tx) => {
    if ((await d.promotions.lockStatus(tx, p.promotionId)) !== 'rolling_out') return; // already finished: a retried step is a no-op
    await fence(tx, { promotionId: p.promotionId, held, waitSeconds: null, clock: d.clock, leaseSeconds: d.options.leaseSeconds });
    finished = true;
    const { record: signed, recordSignature } = await d.promotions.end(tx, p, { status, state: final, at: now });
    // the shadow ends with the rollout; rolled back from a blue-green hold, blue (still the stable) serves again
    const route = { ...NO_CANDIDATE, promotion_id: p.promotionId };
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
    if (status === 'succeeded')
      await d.onApplied?.(tx, { promotionId: p.promotionId, artifactId: p.artifactId, modelName: p.modelName, env: p.targetEnv, at: now });
  });
  if (finished) {
    d.metrics?.promotionEnded(p.targetEnv, status, (now.getTime() - p.createdAt.getTime()) / 1000);
    d.metrics?.canaryTraffic(p.modelName, p.targetEnv, 0);
  }
  return { ...final, next: 'done' };
}

/** The cause of an abort or quarantine that took the rollout over (`Aegis.Aborted`, `Aegis.Quarantined`); none for other errors. */
function abortCause(error: unknown): string | undefined {
  const e = error as { Error?: unknown; Cause?: unknown } | undefined;
  return typeof e?.Error === 'string' && /^Aegis\.(Aborted|Quarantined)$/.test(e.Error) && typeof e.Cause === 'string'
    ? e.Cause.slice(0, 2000)
    : undefined;
}

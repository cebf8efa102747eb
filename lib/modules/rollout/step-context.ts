/**
 * What every step of a rollout shares: its dependencies, the step under way, and the one
 * fenced transaction a step writes in (its rollout state, route change, judged window and
 * `promotion.step` event). The steps are steps.ts (canary, and the ends) and strategies.ts
 * (shadow and blue-green).
 */
import type { Transaction } from 'kysely';
import { AegisError } from '../../kernel/errors.js';
import type { DB } from '../../platform/sql/schema.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ServiceMetrics } from '../../platform/ports/metrics.js';
import type { ServingWarmer } from '../../platform/ports/serving-warmer.js';
import type { RolloutJudge } from '../../platform/ports/workflows.js';
import type { Next, RolloutState, StepAction } from './domain.js';
import { fence, type Held } from './fence.js';
import type { PromotionLedger, RolloutPromotion } from './ledger.js';
import { insertVerdict, nextVerdictSeq, upsertRoute, verdictPayload, verdictRow, type JudgedWindow, type RouteChange } from './store.js';

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
  /**
   * Called in the transaction that applies a promotion (its rollout succeeded), after its
   * `promotion.applied` event: what follows from an artifact going live (the drift records
   * resolve the retrain suggestion it was trained from). A throw rolls the step back.
   */
  onApplied?: (tx: Transaction<DB>, applied: AppliedArtifact) => Promise<void>;
}

/** A promotion applied by its rollout's end. */
export interface AppliedArtifact {
  promotionId: string;
  artifactId: string;
  modelName: string;
  env: string;
  at: Date;
}

/** What a step returns to the state machine, which routes on `next`. */
export interface StepOutput extends RolloutState {
  next: Next | 'done';
  verdict?: string;
}

/** One step under way: the promotion, the lease it holds, and the persisted rollout state. */
export interface Step {
  d: RolloutDeps & { options: RolloutOptions };
  p: RolloutPromotion;
  held: Held;
  persisted: RolloutState | undefined;
}

/** A quarantined artifact never gets (more) traffic: the step fails, and the state machine rolls back. */
export async function notQuarantined({ d, p }: Step): Promise<void> {
  const why = await d.promotions.quarantined(p.artifactId);
  if (why) throw new AegisError('ARTIFACT_QUARANTINED', `artifact ${p.artifactId} is quarantined: ${why}`, { field: 'artifactId' });
}

/** Refuses a promotion whose `rolling_out` status the chain does not back (policy allow, or an approval quorum). */
export async function authorized({ d, p }: Step): Promise<void> {
  const why = await d.promotions.authorizationProblem(p);
  if (why) throw new AegisError('CONFLICT', `promotion ${p.promotionId} does not roll out: ${why}`, { field: 'promotionId' });
}

/** One step's writes, in one transaction conditional on the lease token; `waitSeconds` is the wait that follows (null: none). */
export async function save(
  { d, p, held }: Step,
  w: {
    state: RolloutState;
    action: StepAction;
    route: Omit<RouteChange, 'stable_artifact_id' | 'promotion_id'>;
    waitSeconds: number | null;
    extra?: Record<string, unknown>;
    judged?: JudgedWindow;
  },
): Promise<void> {
  const now = d.clock.now();
  await d.database.db.transaction().execute(async (tx) => {
    await fence(tx, { promotionId: p.promotionId, held, waitSeconds: w.waitSeconds, clock: d.clock, leaseSeconds: d.options.leaseSeconds });
    await d.promotions.saveState(tx, p.promotionId, w.state);
    if (Object.keys(w.route).length > 0)
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
  if (w.route.canary_percent !== undefined) d.metrics?.canaryTraffic(p.modelName, p.targetEnv, w.route.canary_percent);
}

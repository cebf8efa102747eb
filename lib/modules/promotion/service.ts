import type * as z from 'zod';
import type { Principal } from '../../kernel/identity.js';
import type { TargetEnv } from '../../kernel/policy.js';
import { machineOf } from '../rollout/domain.js';
import { abortRollout } from './abort.js';
import { approve, type ApprovalBody } from './approvals.js';
import type { PromotionDeps } from './deps.js';
import type { CanaryOverrides, RolloutRequest } from './domain.js';
import { cancelPending, expirePending } from './expiry.js';
import {
  getPromotion,
  promotionHistory,
  promotionSummaries,
  requestedDetail,
  type PromotionDetail,
  type PromotionRecord,
} from './reads.js';
import { cancelPendingOf, inFlight, rollbackForQuarantine, rollbacksWithReason, rollingOutOf, servedBefore } from './quarantine.js';
import { requestPromotion } from './requests.js';
import { findPromotion, rollingOut } from './store.js';

export {
  BlueGreenOverrides,
  CanaryOverrides,
  ShadowOverrides,
  DEFAULT_PENDING_EXPIRY_BATCH,
  DEFAULT_PENDING_PROMOTION_TTL_SECONDS,
  PROMOTION_STATUSES,
  type PromotionStatus,
} from './domain.js';
export type { PromotionDeps, PromotionRecord };

/**
 * Promotions: a model reaches an environment only through one — manifest and bytes
 * verified first (fail closed), SentinelNet asked, approvals gathered when it says so, and the
 * rollout run as a state machine. One promotion per model and environment in flight. The
 * module owns the `promotions` and `promotion_approvals` tables; the rollout's tables it reads
 * through {@link PromotionDeps.rollout}.
 */
export class PromotionService {
  /** rolling-out promotions without a lease, and since when this process has seen them so (the takeover sweep) */
  #unleasedSince = new Map<string, number>();

  constructor(private readonly d: PromotionDeps) {}

  async promote(
    artifactId: string,
    req: { targetEnv: TargetEnv; canary?: z.infer<typeof CanaryOverrides>; reason: string } & RolloutRequest,
    principal: Principal,
  ): Promise<PromotionDetail> {
    const { strategy, shadow, blueGreen, ...rest } = req;
    const rollout = { ...(strategy ? { strategy } : {}), ...(shadow ? { shadow } : {}), ...(blueGreen ? { blueGreen } : {}) };
    return requestedDetail(this.d, await requestPromotion(this.d, { kind: 'promote', artifactId, ...rest, rollout, principal }));
  }

  /** A manual rollback to an earlier artifact: promotion-like, policy-checked, multisig when critical. */
  async rollback(
    artifactId: string,
    req: { targetEnv: TargetEnv; reason: string; critical: boolean },
    principal: Principal,
  ): Promise<PromotionDetail> {
    return requestedDetail(this.d, await requestPromotion(this.d, { kind: 'rollback', artifactId, ...req, principal }));
  }

  /**
   * One approval: checked by TUF rules, refusals audited without counting. The quorum is
   * computed now, over the approvals valid now (statement unexpired, key unrevoked and in its
   * window): one that stopped counting may be renewed by its approver. When the threshold is
   * reached exactly one transition to rolling_out happens (the promotion row is locked), and
   * exactly one rollout starts. A promotion past its expiry is expired instead (409).
   */
  async approve(promotionId: string, body: ApprovalBody, principal: Principal): Promise<PromotionDetail> {
    await approve(this.d, promotionId, body, principal);
    return (await this.get(promotionId))!;
  }

  /**
   * Cancels a pending multisig promotion: only its requester or an admin, audited with the
   * reason. Rolling out or finished promotions are not cancelled (409): roll back instead.
   */
  async cancel(promotionId: string, reason: string, principal: Principal): Promise<PromotionDetail> {
    await cancelPending(this.d, promotionId, reason, principal);
    return (await this.get(promotionId))!;
  }

  /**
   * The `pending-promotion-expiry` job (the in-process scheduler locally, an EventBridge rule on
   * AWS): marks pending multisig promotions past their expiry `expired`, each in its own
   * transaction with its `promotion.expired` event, oldest first and at most
   * {@link PromotionDeps.expiryBatch} per run (`more` says the next run has work left). Each is
   * also expired when next touched. Safe to repeat and to overlap: a row already closed is skipped.
   *
   * @example
   * await promotions.expirePending(); // { expired: ['5f0c…'], more: false }
   */
  async expirePending(): Promise<{ expired: string[]; more: boolean }> {
    return expirePending(this.d);
  }

  /**
   * Aborts a rolling-out promotion (`POST /v1/promotions/{id}/abort`): audited with the
   * principal and the reason, then rolled back by the rollback state machine, which takes the
   * rollout over (the route returns to the stable artifact). 409 unless it is a rolling-out promotion.
   */
  async abort(promotionId: string, reason: string, principal: Principal): Promise<PromotionDetail> {
    await abortRollout(this.d, promotionId, reason, principal);
    return (await this.get(promotionId))!;
  }

  /** What a quarantine asks of the promotions (lib/modules/promotion/quarantine.ts). */
  readonly forQuarantine = {
    cancelPendingOf: (artifactId: string, q: { reason: string; actor: string }) => cancelPendingOf(this.d, artifactId, q),
    rollingOutOf: (artifactId: string) => rollingOutOf(this.d, artifactId),
    servedBefore: (modelName: string, env: string) => servedBefore(this.d, modelName, env),
    inFlight: (modelName: string, env: string) => inFlight(this.d, modelName, env),
    rollback: (q: Parameters<typeof rollbackForQuarantine>[1]) => rollbackForQuarantine(this.d, q),
    rollbacksWithReason: (modelName: string, reason: string) => rollbacksWithReason(this.d, modelName, reason),
  };

  async get(promotionId: string): Promise<PromotionDetail | undefined> {
    return getPromotion(this.d, promotionId);
  }

  /** The artifact a promotion is about (undefined: no such promotion): one read, for scope checks on every request. */
  async artifactOf(promotionId: string): Promise<string | undefined> {
    return (await findPromotion(this.d.database.db, promotionId))?.artifactId;
  }

  async history(artifactId: string): Promise<PromotionRecord[]> {
    return promotionHistory(this.d, artifactId);
  }

  /** The artifact's promotions as its lineage lists them (status as stored), oldest first. */
  async summaries(artifactId: string) {
    return promotionSummaries(this.d, artifactId);
  }

  /**
   * Local mode, at start and on the `rollout-takeover` schedule: restarts every unfinished
   * rollout nobody holds (its lease released, or expired because its runner died); each
   * resumes from its persisted step. A rollout another runner holds is left to it. One whose
   * runner never took the lease (just requested, or its server died before the first step) is
   * taken once it has stayed so for `unleasedGraceMs` as this process saw it (0 at start).
   */
  async resumeUnfinished(unleasedGraceMs = 0): Promise<string[]> {
    const rows = await rollingOut(this.d.database.db);
    const leases = await this.d.rollout.leaseExpiries(rows.map((r) => r.promotionId));
    const now = this.d.clock.now().getTime();
    const unleased = new Map<string, number>();
    for (const r of rows) if (!leases.has(r.promotionId)) unleased.set(r.promotionId, this.#unleasedSince.get(r.promotionId) ?? now);
    this.#unleasedSince = unleased;
    const free = rows.filter((r) => {
      const expires = leases.get(r.promotionId);
      return expires === undefined ? now - unleased.get(r.promotionId)! >= unleasedGraceMs : expires.getTime() <= now;
    });
    const started: string[] = [];
    for (const r of free) {
      const { started: ran } = await this.d.workflows.start(machineOf(r.kind), r.promotionId, { promotionId: r.promotionId });
      if (ran) started.push(r.promotionId);
    }
    return started;
  }
}

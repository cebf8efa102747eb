/**
 * What a rollout needs of the promotion it advances. The promotion module owns the
 * `promotions` rows, the signed promotion record and the evidence the gates read from the
 * audit chain; the composition hands the rollout its `PromotionLedgerService`. Declared here,
 * by the side that uses it, so the rollout imports no promotion code.
 */
import type { Executor } from '../../platform/ports/database.js';
import type { CanaryConfig, RolloutState } from './domain.js';

/** A promotion as its rollout sees it. */
export interface RolloutPromotion {
  promotionId: string;
  kind: string;
  artifactId: string;
  modelName: string;
  targetEnv: string;
  manifestSignatureId: string;
  /** the stored status (`rolling_out` while a rollout may advance it) */
  status: string;
  canary: CanaryConfig;
  /** the persisted rollout state (null before the first step saved one) */
  rolloutState: RolloutState | null;
  createdAt: Date;
}

export type RolloutEnd = 'succeeded' | 'rolled_back' | 'failed';

/** The promotion record signed when a rollout ends, and its signature (both go into the end event). */
export interface SignedPromotionRecord {
  record: {
    promotionId: string;
    kind: string;
    artifactId: string;
    targetEnv: string;
    manifestSignatureId: string;
    status: RolloutEnd;
    appliedAt: string | null;
  };
  recordSignature: { signerId: string; alg: string; ts: string; signature: string };
}

export interface PromotionLedger {
  /** The promotion; `NOT_FOUND` when there is none. */
  load(promotionId: string): Promise<RolloutPromotion>;
  /** Saves the rollout state, in the step's transaction. */
  saveState(tx: Executor, promotionId: string, state: RolloutState): Promise<void>;
  /** Locks the promotion for the end of its rollout (before the lease is checked) and says its status. */
  lockStatus(tx: Executor, promotionId: string): Promise<string>;
  /**
   * Ends the rollout in `tx`: signs the promotion record with the manifest key and stores the
   * status, the applied time (succeeded only), the signature and the final state; the model
   * and environment are free again.
   */
  end(tx: Executor, p: RolloutPromotion, end: { status: RolloutEnd; state: RolloutState; at: Date }): Promise<SignedPromotionRecord>;
  /** Why the artifact may not serve (it is quarantined), or null when it may. */
  quarantined(artifactId: string): Promise<string | null>;
  /** Why the audit chain does not back the promotion's `rolling_out` status, or null when it does. */
  authorizationProblem(p: RolloutPromotion): Promise<string | null>;
  /**
   * What serves the model in `env` by the audit chain, and what cannot be relied on —
   * including a routes row (`routedStable`) that names another stable artifact.
   */
  servingEvidence(
    q: { modelName: string; env: string },
    routedStable: string | null,
  ): Promise<{ stableArtifactId: string | null; problems: string[] }>;
}

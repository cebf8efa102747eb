import type { Transaction } from 'kysely';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ServiceMetrics } from '../../platform/ports/metrics.js';
import type { PromotionGate } from '../../platform/ports/policy.js';
import type { DB } from '../../platform/sql/schema.js';
import type { Workflows } from '../../platform/ports/workflows.js';
import type { KeyService } from '../keys/service.js';
import type { RegistryService } from '../registry/service.js';
import type { VerificationService } from '../registry/verification.js';
import type { RolloutService } from '../rollout/service.js';
import { DEFAULT_PENDING_PROMOTION_TTL_SECONDS } from './domain.js';

/**
 * Whether an artifact is quarantined: the quarantine module's reader, handed over by the
 * composition (declared here, by the side that uses it, so promotion imports no quarantine code).
 */
export interface QuarantineCheck {
  /** The artifact's quarantine (who, when, why), or null when it is not quarantined. */
  stateOf(artifactId: string): Promise<{ requestId: string; reason: string; quarantinedBy: string; quarantinedAt: string } | null>;
  /** Throws 409 `ARTIFACT_QUARANTINED` (field `artifactId`) naming the quarantine when the artifact is quarantined. */
  assertNotQuarantined(artifactId: string, what?: string): Promise<void>;
}

/** What the promotion service works with (the composition root provides it). */
export interface PromotionDeps {
  database: Database;
  registry: RegistryService;
  verification: VerificationService;
  keys: KeyService;
  audit: AuditLog;
  /** SentinelNet; the risk tier comes from its configuration, never from the request */
  policy: PromotionGate;
  workflows: Workflows;
  /** the rollouts: their routes, step traces, judged windows and leases */
  rollout: RolloutService;
  clock: Clock;
  /** quarantined artifacts are never promoted or rolled back to (none: nothing is quarantined) */
  quarantine?: QuarantineCheck;
  /** where promotions are counted (none when absent) */
  metrics?: ServiceMetrics;
  /** seconds a pending multisig promotion waits for approvals before it expires (default 7 days) */
  pendingTtlSeconds?: number;
  /** at most this many pending promotions are expired per run of the expiry job (default {@link DEFAULT_PENDING_EXPIRY_BATCH}) */
  expiryBatch?: number;
}

/** How long a pending multisig promotion waits for approvals, in ms. */
export const pendingTtlMs = (d: Pick<PromotionDeps, 'pendingTtlSeconds'>): number =>
  (d.pendingTtlSeconds ?? DEFAULT_PENDING_PROMOTION_TTL_SECONDS) * 1000;

/** A transaction on the registry database: what an audited change runs in. */
export type Tx = Transaction<DB>;

import type { Transaction } from 'kysely';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { PromotionGate } from '../../platform/ports/policy.js';
import type { Workflows } from '../../platform/ports/workflows.js';
import type { DB } from '../../platform/sql/schema.js';
import type { KeyService } from '../keys/service.js';
import type { PromotionService } from '../promotion/service.js';
import type { RegistryService } from '../registry/service.js';
import type { RolloutService } from '../rollout/service.js';
import type { QuarantineReader } from './status.js';

/** What the quarantine service works with (the composition root provides it). */
export interface QuarantineDeps {
  database: Database;
  registry: RegistryService;
  keys: KeyService;
  audit: AuditLog;
  /** SentinelNet: who may quarantine or release, and whether approvals are needed */
  policy: PromotionGate;
  clock: Clock;
  reader: QuarantineReader;
  /** enforcement: pending promotions cancelled, rollbacks requested */
  promotions: Pick<PromotionService, 'forQuarantine'>;
  /** enforcement: a canary's rollout taken over, an environment drained, where the artifact serves */
  rollout: Pick<RolloutService, 'expireLease' | 'drain' | 'deployments'>;
  /** enforcement: the rollback state machine that aborts a canary */
  workflows: Workflows;
}

export type Tx = Transaction<DB>;

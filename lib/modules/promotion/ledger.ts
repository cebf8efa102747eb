import { AegisError } from '../../kernel/errors.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { KeyService } from '../keys/service.js';
import type { RolloutState } from '../rollout/domain.js';
import type { PromotionLedger, RolloutEnd, RolloutPromotion, SignedPromotionRecord } from '../rollout/ledger.js';
import { rolloutAuthorizationProblem } from './authorization-evidence.js';
import type { QuarantineCheck } from './deps.js';
import { servingEvidence, type ChainReader } from './gate-evidence.js';
import { recordIdentity, signPromotionRecord } from './signing.js';
import { endRollout, findPromotion, lockStatus, saveRolloutState } from './store.js';

/**
 * The promotions as their rollouts see them (the rollout module's {@link PromotionLedger}):
 * the promotion module keeps the rows, signs the record when a rollout ends, and reads the
 * gates' evidence from the audit chain. Built before the rollout service, which the
 * promotion service in turn uses.
 */
export class PromotionLedgerService implements PromotionLedger {
  constructor(private readonly d: { database: Database; keys: KeyService; audit: AuditLog; quarantine?: QuarantineCheck }) {}

  async quarantined(artifactId: string): Promise<string | null> {
    const q = await this.d.quarantine?.stateOf(artifactId);
    return q ? `request ${q.requestId} by ${q.quarantinedBy} at ${q.quarantinedAt}: ${q.reason}` : null;
  }

  async load(promotionId: string): Promise<RolloutPromotion> {
    const p = await findPromotion(this.d.database.db, promotionId);
    if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
    return p;
  }

  async saveState(tx: Executor, promotionId: string, state: RolloutState): Promise<void> {
    await saveRolloutState(tx, promotionId, state);
  }

  async lockStatus(tx: Executor, promotionId: string): Promise<string> {
    return lockStatus(tx, promotionId);
  }

  async end(tx: Executor, p: RolloutPromotion, end: { status: RolloutEnd; state: RolloutState; at: Date }): Promise<SignedPromotionRecord> {
    const { status, at } = end;
    const record = {
      ...recordIdentity(p),
      status,
      appliedAt: status === 'succeeded' ? at.toISOString() : null,
    };
    const recordSignature = await signPromotionRecord(this.d.keys, tx, record, at);
    await endRollout(tx, p.promotionId, {
      status,
      appliedAt: status === 'succeeded' ? at : null,
      recordSignature: { ...recordSignature },
      rolloutState: end.state,
    });
    return { record, recordSignature };
  }

  async authorizationProblem(p: RolloutPromotion): Promise<string | null> {
    return rolloutAuthorizationProblem(this.d.database.db, await this.#chain(), p);
  }

  async servingEvidence(q: { modelName: string; env: string }, routedStable: string | null) {
    return servingEvidence(this.d.database.db, await this.#chain(), { ...q, routedStable });
  }

  /** The audit chain with the key ring as it is now. */
  async #chain(): Promise<ChainReader> {
    const ring = new Map<string, KeyRecord>((await this.d.keys.list()).map((k) => [k.kid, k]));
    return { audit: this.d.audit, keyOf: (kid) => ring.get(kid) };
  }
}

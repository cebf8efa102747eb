/**
 * How a pending multisig promotion ends without rolling out: cancelled by its requester (or
 * an admin), or expired — by the `pending-promotion-expiry` job, or whenever it is next touched.
 */
import { AegisError } from '../../kernel/errors.js';
import type { AuditInput } from '../../platform/audit/log.js';
import type { Principal } from '../../kernel/identity.js';
import { pendingTtlMs, type PromotionDeps, type Tx } from './deps.js';
import { DEFAULT_PENDING_EXPIRY_BATCH, expiredError, pendingExpired, pendingExpiresAt } from './domain.js';
import { leavePending, lockPromotion, pendingSince, type StoredPromotion } from './store.js';

/** Whether the promotion is pending and past its expiry at `now`. */
export const expiredPending = (d: PromotionDeps, p: StoredPromotion, now: Date): boolean =>
  p.status === 'pending_multisig' && pendingExpired(p.createdAt, now, pendingTtlMs(d));

/** Ends a pending promotion as cancelled or expired: out of flight, audited in the same transaction. */
export async function closePending(d: PromotionDeps, tx: Tx, c: Closing): Promise<void> {
  await d.audit.append(tx, await leavePendingFor(d, tx, c));
  d.metrics?.promotion(c.promotion.targetEnv, c.status);
}

/** How a pending promotion is closed, and by whom. */
type Closing = {
  promotion: StoredPromotion;
  status: 'cancelled' | 'expired';
  actor: string;
  at: Date;
  reason?: string;
  supersededBy?: string;
};

/**
 * {@link closePending} for a transaction that appends it with its own events (together, last):
 * the row leaves pending now, and the returned event must be appended in the same transaction
 * (the caller counts it in the metrics once that committed).
 */
export async function leavePendingFor(d: PromotionDeps, tx: Tx, c: Closing): Promise<AuditInput> {
  const { promotion: p, status, actor, at, ...extra } = c;
  await leavePending(tx, p.promotionId, status);
  return {
    type: status === 'cancelled' ? 'promotion.cancelled' : 'promotion.expired',
    actor,
    subject: `promotion:${p.promotionId}`,
    payload: {
      promotionId: p.promotionId,
      kind: p.kind,
      artifactId: p.artifactId,
      modelName: p.modelName,
      targetEnv: p.targetEnv,
      status,
      createdAt: p.createdAt.toISOString(),
      expiresAt: pendingExpiresAt(p.createdAt, pendingTtlMs(d)).toISOString(),
      at: at.toISOString(),
      ...extra,
    },
  };
}

/**
 * Cancels a pending multisig promotion: only its requester or an admin, audited with the
 * reason. Rolling out or finished promotions are not cancelled (409): roll back instead.
 */
export async function cancelPending(d: PromotionDeps, promotionId: string, reason: string, principal: Principal): Promise<void> {
  const now = d.clock.now();
  let expired = false;
  await d.database.db.transaction().execute(async (tx) => {
    const p = await lockPromotion(tx, promotionId);
    if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
    if (principal.id !== p.requestedBy && principal.role !== 'admin') {
      throw new AegisError('FORBIDDEN', `only its requester (${p.requestedBy}) or an admin may cancel promotion ${promotionId}`, {
        field: 'promotionId',
      });
    }
    if (expiredPending(d, p, now)) {
      await closePending(d, tx, { promotion: p, status: 'expired', actor: 'system', at: now });
      expired = true;
      return;
    }
    if (p.status !== 'pending_multisig') {
      throw new AegisError(
        'CONFLICT',
        `promotion ${promotionId} is ${p.status}: only a pending promotion can be cancelled${p.status === 'rolling_out' ? ' (a rollout ends by rolling back)' : ''}`,
        { field: 'promotionId' },
      );
    }
    await closePending(d, tx, { promotion: p, status: 'cancelled', actor: principal.id, at: now, reason });
  });
  if (expired) throw expiredError(promotionId, pendingTtlMs(d));
}

/**
 * The `pending-promotion-expiry` job: pending promotions past their expiry, oldest first, at
 * most a batch per run, each in its own transaction with its `promotion.expired` event.
 */
export async function expirePending(d: PromotionDeps): Promise<{ expired: string[]; more: boolean }> {
  const now = d.clock.now();
  const cutoff = new Date(now.getTime() - pendingTtlMs(d));
  const batch = d.expiryBatch ?? DEFAULT_PENDING_EXPIRY_BATCH;
  const ids = await pendingSince(d.database.db, cutoff, batch + 1);
  const done: string[] = [];
  for (const id of ids.slice(0, batch)) {
    await d.database.db.transaction().execute(async (tx) => {
      const p = await lockPromotion(tx, id);
      if (!p || !expiredPending(d, p, now)) return;
      await closePending(d, tx, { promotion: p, status: 'expired', actor: 'system', at: now });
      done.push(id);
    });
  }
  return { expired: done, more: ids.length > batch };
}

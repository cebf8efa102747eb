/**
 * Aborting a rollout by hand (`POST /v1/promotions/{id}/abort`): the promotion's rollout is taken
 * over and rolled back the way a quarantine does it (lib/modules/quarantine/enforce.ts) — its
 * lease expired, the rollback state machine started with the cause — so the route returns to the
 * stable artifact: a canary's share goes back to 0, a shadow stops being mirrored, and a
 * blue-green in its hold switches back to blue (still the route's stable: no model load).
 */
import { AegisError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/identity.js';
import type { PromotionDeps } from './deps.js';
import { strategyOf } from '../rollout/domain.js';
import { lockPromotion } from './store.js';

/** The error a rollback execution is started with: the rollout's end event records its `Cause`. */
export const abortError = (principal: string, reason: string) => ({ Error: 'Aegis.Aborted', Cause: `aborted by ${principal}: ${reason}` });

/**
 * Aborts the rolling-out promotion `promotionId` for `principal`: audited first
 * (`promotion.abort_requested`, its actor the principal), then the rollout taken over and rolled
 * back. Only a promotion (not a rollback) that is rolling out: anything else is 409 naming its status.
 */
export async function abortRollout(d: PromotionDeps, promotionId: string, reason: string, principal: Principal): Promise<void> {
  const at = d.clock.now();
  const execution = `${promotionId}-abort-${at.getTime()}`;
  await d.database.db.transaction().execute(async (tx) => {
    const p = await lockPromotion(tx, promotionId);
    if (!p) throw new AegisError('NOT_FOUND', `no promotion ${promotionId}`, { field: 'promotionId' });
    if (p.kind !== 'promote')
      throw new AegisError('CONFLICT', `promotion ${promotionId} is a rollback (${p.status}): only a promotion's rollout can be aborted`, {
        field: 'promotionId',
      });
    if (p.status !== 'rolling_out')
      throw new AegisError('CONFLICT', `promotion ${promotionId} is ${p.status}: only a rolling_out promotion can be aborted`, {
        field: 'promotionId',
        details: { status: p.status },
      });
    await d.audit.append(tx, {
      type: 'promotion.abort_requested',
      actor: principal.id,
      subject: `promotion:${promotionId}`,
      payload: {
        promotionId,
        artifactId: p.artifactId,
        modelName: p.modelName,
        targetEnv: p.targetEnv,
        strategy: strategyOf(p.canary),
        reason,
        execution,
        at: at.toISOString(),
      },
    });
  });
  await d.rollout.expireLease(promotionId);
  await d.workflows.start('rollback', execution, { promotionId, error: abortError(principal.id, reason) });
}

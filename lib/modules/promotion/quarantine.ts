/**
 * What a quarantine asks of the promotions: the artifact's pending promotions cancelled (the
 * reason names the quarantine), its rollouts under way, what served an environment before it,
 * and the rollback away from it, requested like any rollback (policy, state machine).
 */
import type { Principal } from '../../kernel/identity.js';
import type { TargetEnv } from '../../kernel/policy.js';
import type { PromotionDeps } from './deps.js';
import { closePending } from './expiry.js';
import { requestPromotion } from './requests.js';
import { TARGET_ENVS } from '../../kernel/policy.js';
import { appliedTo, findInFlight, lockPromotion, promotionsOfArtifact, promotionsTo } from './store.js';

/** Cancels every pending multisig promotion of the artifact, each in its own transaction and audited; the ones cancelled. */
export async function cancelPendingOf(
  d: PromotionDeps,
  artifactId: string,
  q: { reason: string; actor: string },
): Promise<{ promotionId: string; targetEnv: string }[]> {
  const pending = (await promotionsOfArtifact(d.database.db, artifactId)).filter((p) => p.status === 'pending_multisig');
  const done: { promotionId: string; targetEnv: string }[] = [];
  for (const candidate of pending) {
    await d.database.db.transaction().execute(async (tx) => {
      const p = await lockPromotion(tx, candidate.promotionId);
      if (p?.status !== 'pending_multisig') return;
      await closePending(d, tx, { promotion: p, status: 'cancelled', actor: q.actor, at: d.clock.now(), reason: q.reason });
      done.push({ promotionId: p.promotionId, targetEnv: p.targetEnv });
    });
  }
  return done;
}

/** The artifact's promotions and rollbacks whose rollout is under way. */
export async function rollingOutOf(
  d: PromotionDeps,
  artifactId: string,
): Promise<{ promotionId: string; kind: string; targetEnv: string }[]> {
  return (await promotionsOfArtifact(d.database.db, artifactId))
    .filter((p) => p.status === 'rolling_out')
    .map((p) => ({ promotionId: p.promotionId, kind: p.kind, targetEnv: p.targetEnv }));
}

/** The artifacts promotions and rollbacks applied to the model in `env`, the most recent first (each once). */
export async function servedBefore(d: PromotionDeps, modelName: string, env: string): Promise<string[]> {
  const ids = (await appliedTo(d.database.db, modelName, env)).map((p) => p.artifactId);
  return [...new Set(ids)];
}

/** The promotion holding the model and environment now (undefined: none). */
export const inFlight = (d: PromotionDeps, modelName: string, env: string) => findInFlight(d.database.db, modelName, env);

/**
 * The rollback a quarantine starts away from the quarantined artifact to `toArtifactId`: the
 * same request as `POST /v1/registry/models/{model}/rollback` (verified, policy-checked with
 * `quarantineRollback`, run by the rollback state machine); it supersedes pending promotions of
 * other artifacts there. Its promotion id.
 */
export async function rollbackForQuarantine(
  d: PromotionDeps,
  q: { toArtifactId: string; targetEnv: TargetEnv; reason: string; principal: Principal },
): Promise<string> {
  const p = await requestPromotion(d, {
    kind: 'rollback',
    artifactId: q.toArtifactId,
    targetEnv: q.targetEnv,
    reason: q.reason,
    principal: q.principal,
    critical: false,
    quarantineRollback: true,
  });
  return p.promotionId;
}

/**
 * The rollbacks of the model already requested with exactly this reason, in any environment and
 * state: what a resumed quarantine enforcement finds its dead predecessor did.
 */
export async function rollbacksWithReason(
  d: PromotionDeps,
  modelName: string,
  reason: string,
): Promise<{ promotionId: string; artifactId: string; targetEnv: string }[]> {
  const found: { promotionId: string; artifactId: string; targetEnv: string }[] = [];
  for (const env of TARGET_ENVS)
    for (const p of await promotionsTo(d.database.db, modelName, env))
      if (p.kind === 'rollback' && p.reason === reason)
        found.push({ promotionId: p.promotionId, artifactId: p.artifactId, targetEnv: env });
  return found;
}

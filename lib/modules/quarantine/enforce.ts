/**
 * Enforcing an applied quarantine: the artifact's pending promotions cancelled, its canaries
 * rolled back (the rollback state machine takes each rollout over and rolls it back), and
 * wherever it is the stable artifact, a rollback to the last earlier artifact of that
 * environment that is not quarantined (requested like any rollback), or the environment
 * drained when there is none. What was done is stored and audited (`quarantine.enforced`).
 */
import { AegisError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/identity.js';
import { TARGET_ENVS, type TargetEnv } from '../../kernel/policy.js';
import type { QuarantineDeps } from './deps.js';
import type { QuarantineEffect, QuarantineRequest } from './domain.js';
import { saveEffects, unenforced } from './store.js';

/** Enforces the applied quarantine `q` for `principal`; the effects, also stored on the request and audited. */
export async function enforceQuarantine(d: QuarantineDeps, q: QuarantineRequest, principal: Principal): Promise<QuarantineEffect[]> {
  const cause = `artifact ${q.artifactId} quarantined by request ${q.requestId}: ${q.reason}`;
  const effects: QuarantineEffect[] = [];
  const f = d.promotions.forQuarantine;
  for (const p of await f.cancelPendingOf(q.artifactId, { reason: `cancelled: ${cause}`, actor: principal.id }))
    effects.push({
      kind: 'promotion-cancelled',
      env: p.targetEnv,
      promotionId: p.promotionId,
      detail: `pending promotion cancelled: ${cause}`,
    });
  for (const p of await f.rollingOutOf(q.artifactId)) {
    if (p.kind !== 'promote') continue; // a rollback to it fails at its route step, which refuses a quarantined artifact
    await d.rollout.expireLease(p.promotionId);
    await d.workflows.start('rollback', `${p.promotionId}-q-${q.requestId}`, {
      promotionId: p.promotionId,
      error: { Error: 'Aegis.Quarantined', Cause: cause },
    });
    effects.push({
      kind: 'canary-rolled-back',
      env: p.targetEnv,
      promotionId: p.promotionId,
      detail: `rollout taken over and rolled back: ${cause}`,
    });
  }
  // a resumed enforcement keeps the rollbacks its dead predecessor requested
  const requested = await f.rollbacksWithReason(q.modelName, `automatic rollback: ${cause}`);
  for (const r of requested)
    effects.push({
      kind: 'stable-rolled-back',
      env: r.targetEnv,
      promotionId: r.promotionId,
      toArtifactId: r.artifactId,
      detail: `rolling back to ${r.artifactId}: ${cause}`,
    });
  for (const dep of await d.rollout.deployments(q.artifactId))
    if (dep.role === 'stable' && !requested.some((r) => r.targetEnv === dep.env))
      effects.push(await replaceStable(d, q, dep.env, { cause, principal }));
  await d.database.db.transaction().execute(async (tx) => {
    await saveEffects(tx, q.requestId, effects);
    await d.audit.append(tx, {
      type: 'quarantine.enforced',
      actor: principal.id,
      subject: `artifact:${q.artifactId}`,
      payload: { requestId: q.requestId, artifactId: q.artifactId, effects: effects.map((e) => ({ ...e })) },
    });
  });
  return effects;
}

/**
 * Crash safety: an applied quarantine whose enforcement recorded no effects (its process died
 * after the commit) is enforced again, in the name of its requester, once it has been applied
 * for `graceMs` (so a request still enforcing elsewhere is left alone). Each step is safe to
 * repeat: only pending promotions are cancelled, only rollouts still under way are taken over
 * (the execution named after the promotion and the request), and an environment whose
 * rollback this quarantine already requested keeps that rollback (listed again in the effects;
 * a canary rolled back or an environment drained before the crash is not). Run at a local start, on the local
 * `quarantine-enforcement` schedule, and when the quarantine is requested again. The request ids enforced.
 */
export async function resumeEnforcement(d: QuarantineDeps, graceMs: number, only?: string): Promise<string[]> {
  const now = d.clock.now().getTime();
  const done: string[] = [];
  for (const q of await unenforced(d.database.db)) {
    if ((only && q.artifactId !== only) || now - (q.appliedAt ?? q.createdAt).getTime() < graceMs) continue;
    // released since: nothing to enforce any more
    if ((await d.reader.stateOf(q.artifactId))?.requestId !== q.requestId) continue;
    // the requester was held to its scope when it asked; finishing what it asked reaches only this artifact
    await enforceQuarantine(d, q, { id: q.requestedBy, role: 'security', scope: 'global' });
    done.push(q.requestId);
  }
  return done;
}

/** Where the quarantined artifact is the stable one: roll back to the last good earlier artifact, or drain. */
async function replaceStable(
  d: QuarantineDeps,
  q: QuarantineRequest,
  env: string,
  c: { cause: string; principal: Principal },
): Promise<QuarantineEffect> {
  const f = d.promotions.forQuarantine;
  const holder = await f.inFlight(q.modelName, env);
  if (holder?.status === 'rolling_out')
    return {
      kind: 'not-rolled-back',
      env,
      promotionId: holder.promotionId,
      detail: `promotion ${holder.promotionId} is rolling out in ${env}: roll back by hand once it ends (${c.cause})`,
    };
  const refused: string[] = [];
  for (const candidate of await f.servedBefore(q.modelName, env)) {
    if (candidate === q.artifactId || (await d.reader.stateOf(candidate))) continue;
    try {
      const promotionId = await f.rollback({
        toArtifactId: candidate,
        targetEnv: env as TargetEnv,
        reason: `automatic rollback: ${c.cause}`,
        principal: c.principal,
      });
      return { kind: 'stable-rolled-back', env, promotionId, toArtifactId: candidate, detail: `rolling back to ${candidate}: ${c.cause}` };
    } catch (e) {
      if (!(e instanceof AegisError) || e.status >= 500) throw e;
      refused.push(`${candidate}: ${e.message}`);
    }
  }
  if (!(TARGET_ENVS as readonly string[]).includes(env)) throw new Error(`unknown environment ${env}`);
  await d.rollout.drain({ modelName: q.modelName, env, artifactId: q.artifactId, reason: c.cause, actor: c.principal.id });
  const why = refused.length
    ? `no earlier artifact could take over (${refused.join('; ')})`
    : 'no earlier artifact that is not quarantined served there';
  return { kind: 'drained', env, detail: `drained: nothing serves ${q.modelName} in ${env} now; ${why}; ${c.cause}` };
}

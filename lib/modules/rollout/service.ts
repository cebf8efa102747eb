import { canonicalJson } from '../../kernel/canonical.js';
import type { DeploymentRole } from '../../kernel/lineage.js';
import { AegisError } from '../../kernel/errors.js';
import { stepState, WARM_UP_TASK_SECONDS, type CanaryConfig, type StepAction } from './domain.js';
import { acquireLease } from './fence.js';
import { LeaseLostError } from './lease.js';
import { expireLease, leaseExpiries, releaseLease } from './store-leases.js';
import { runStep, type RolloutDeps, type RolloutOptions, type StepOutput } from './steps.js';
import { routeSubject } from './events.js';
import {
  DRAINED_ROUTE,
  finishStep,
  insertNextStep,
  routedArtifact,
  routedStable,
  routeOf,
  routesServing,
  stableRoutes,
  stepsOf,
  upsertRoute,
  verdictsOf,
} from './store.js';
import { routesOfModels } from './store-routes.js';
import { traceStep, verdictViews, type CanaryVerdictView, type TraceStep } from './view.js';

export { LeaseLostError };

/** What serves a model in one environment now: its stable, canary or shadow artifact and the share of requests it gets. */
export interface ServingEntry {
  env: string;
  variant: DeploymentRole;
  artifactId: string;
  /** percent of the requests it answers (shadow: the percent mirrored to it, answering no caller) */
  traffic: number;
  /** the promotion that set the route */
  promotionId: string | null;
}
export type { CanaryVerdictView, RolloutDeps, RolloutOptions, StepOutput, TraceStep };

export interface StepEvent {
  action: StepAction;
  promotionId: string;
  /**
   * The runner (execution) taking the step: `$$.Execution.Id` in the state machines (the
   * execution ARN on AWS, an id per in-process execution locally). Only the holder of the
   * rollout's lease advances it.
   */
  runner: string;
  /** the execution's state (rollback and fail steps): `error` is set when a Catch led here */
  execution?: { error?: unknown };
}

/**
 * The rollout state machine's task: one function for every Task state (Lambda on AWS,
 * in-process locally). Each step is idempotent against the persisted rollout state, so a
 * retried or resumed step never jumps ahead: `start` on a rollout already under way returns
 * where it is instead of resetting it. The rollout owns the routes, the step trace, the judged
 * windows and the leases; the promotion it advances it reaches through {@link RolloutDeps.promotions}.
 */
export class RolloutService {
  readonly #d: RolloutDeps & { options: RolloutOptions };

  constructor(deps: RolloutDeps) {
    this.#d = { ...deps, options: deps.options ?? { leaseSeconds: 60 } };
  }

  async step(e: StepEvent): Promise<StepOutput> {
    if (typeof e.runner !== 'string' || e.runner.length === 0 || e.runner.length > 512)
      throw new AegisError('VALIDATION_FAILED', 'runner must be the execution id (1-512 characters)', { field: 'runner' });
    const d = this.#d;
    const db = d.database.db;
    const started = d.clock.now();
    const p = await d.promotions.load(e.promotionId);
    const lease = await acquireLease(d.database, {
      promotionId: p.promotionId,
      runner: e.runner,
      now: started,
      // a warm-up may take as long as its Task allows: nobody takes the rollout over meanwhile
      leaseSeconds: e.action === 'warmUp' ? Math.max(d.options.leaseSeconds, WARM_UP_TASK_SECONDS) : d.options.leaseSeconds,
    });
    const refused = lease instanceof LeaseLostError;
    const stepNo = await insertNextStep(db, {
      promotion_id: p.promotionId,
      state: stepState(p.kind, e.action),
      input: canonicalJson({ action: e.action, ...(e.execution?.error ? { error: e.execution.error } : {}) }),
      output: null,
      error: refused ? lease.message : null,
      entered_at: started,
      finished_at: refused ? started : null,
      runner: e.runner,
      lease_token: refused ? null : lease.token,
    });
    // refused before it began: recorded (with who holds the rollout), nothing else written
    if (refused) throw lease;
    try {
      const out = await runStep(d, e, p, lease);
      await finishStep(db, p.promotionId, stepNo, { output: canonicalJson(out) }, d.clock.now());
      return out;
    } catch (err) {
      await finishStep(db, p.promotionId, stepNo, { error: (err as Error).message }, d.clock.now());
      throw err;
    }
  }

  /**
   * Gives the lease up (a server shutting down gracefully): another runner may take the
   * rollout over at once, from its persisted state. The holder is marked released, so a step
   * of this runner still in flight can no longer write; only the runner's own lease is touched.
   */
  async release(promotionId: string, runner: string): Promise<void> {
    await releaseLease(this.#d.database.db, promotionId, runner, this.#d.clock.now());
  }

  /**
   * Takes the rollout away from whoever runs it (a quarantine aborting a canary): the lease
   * expires now, so the aborting execution takes it over with the next token and the old
   * runner's next step is refused (`Aegis.LeaseLost`: it ends quietly as Superseded).
   */
  async expireLease(promotionId: string): Promise<void> {
    await expireLease(this.#d.database.db, promotionId, this.#d.clock.now());
  }

  /**
   * Drains the model's route in `env`: nothing serves there (stable, canary and shadow cleared) until
   * a promotion applies. Audited as `route.drained` (subject `route:<model>/<env>`), which the
   * gates read after the last applied promotion, and a rebuild replays.
   */
  async drain(q: { modelName: string; env: string; artifactId: string; reason: string; actor: string }): Promise<void> {
    const now = this.#d.clock.now();
    await this.#d.database.db.transaction().execute(async (tx) => {
      await upsertRoute(tx, { modelName: q.modelName, env: q.env }, DRAINED_ROUTE, now);
      await this.#d.audit.append(tx, {
        type: 'route.drained',
        actor: q.actor,
        subject: routeSubject(q.modelName, q.env),
        payload: { modelName: q.modelName, env: q.env, artifactId: q.artifactId, reason: q.reason, at: now.toISOString() },
      });
    });
  }

  /** Every step the promotion's runners took, in order. */
  async trace(promotionId: string): Promise<TraceStep[]> {
    return (await stepsOf(this.#d.database.db, promotionId)).map(traceStep);
  }

  /** Every judged window of a promotion, oldest first. */
  async verdicts(promotionId: string, canary: CanaryConfig): Promise<CanaryVerdictView[]> {
    return verdictViews(await verdictsOf(this.#d.database.db, promotionId), canary);
  }

  /** Until when each of these rollouts' leases holds; a rollout nobody ever took a lease of is absent. */
  async leaseExpiries(promotionIds: readonly string[]): Promise<Map<string, Date>> {
    return leaseExpiries(this.#d.database.db, promotionIds);
  }

  /** The stable artifact the routes table names for the model in `env` (null: none); the gates compare it with the chain. */
  async routedStable(modelName: string, env: string): Promise<string | null> {
    return routedStable(this.#d.database.db, modelName, env);
  }

  /** The artifact serving `variant` (stable or canary) of the model in `env` now (null: none); what a worker pulls by environment. */
  async routedArtifact(modelName: string, env: string, variant: 'stable' | 'canary'): Promise<string | null> {
    return routedArtifact(this.#d.database.db, modelName, env, variant);
  }

  /**
   * The model's route in `env` as serving reads it: the stable and canary artifacts, the
   * canary's percent, the promotion that set it (the canary split's seed), and a shadow with
   * the share of requests mirrored to it. Nothing routed: all null.
   */
  async route(
    modelName: string,
    env: string,
  ): Promise<{
    modelName: string;
    env: string;
    stable: string | null;
    canary: string | null;
    percent: number;
    promotionId: string | null;
    shadow: string | null;
    shadowPercent: number;
  }> {
    const r = await routeOf(this.#d.database.db, modelName, env);
    return {
      modelName,
      env,
      stable: r?.stable_artifact_id ?? null,
      canary: r?.canary_artifact_id ?? null,
      percent: r?.canary_artifact_id ? r.canary_percent : 0,
      promotionId: r?.promotion_id ?? null,
      shadow: r?.shadow_artifact_id ?? null,
      shadowPercent: r?.shadow_artifact_id ? (r.shadow_percent ?? 0) : 0,
    };
  }

  /** Every deployment that serves now: the model, the environment and its stable artifact (the drift schedule's deployments). */
  async servedDeployments(): Promise<{ modelName: string; env: string; stable: string }[]> {
    const rows = await stableRoutes(this.#d.database.db);
    return rows.flatMap((r) => (r.stable_artifact_id ? [{ modelName: r.model_name, env: r.env, stable: r.stable_artifact_id }] : []));
  }

  /** What serves each of these models now, by model: per environment its stable, canary and shadow with their shares (one query). */
  async servingOf(modelNames: readonly string[]): Promise<Map<string, ServingEntry[]>> {
    const out = new Map<string, ServingEntry[]>();
    for (const r of await routesOfModels(this.#d.database.db, modelNames)) {
      const canary = r.canary_artifact_id ? r.canary_percent : 0;
      const entries: ServingEntry[] = [
        ...(r.stable_artifact_id ? [{ variant: 'stable' as const, artifactId: r.stable_artifact_id, traffic: 100 - canary }] : []),
        ...(r.canary_artifact_id ? [{ variant: 'canary' as const, artifactId: r.canary_artifact_id, traffic: canary }] : []),
        ...(r.shadow_artifact_id ? [{ variant: 'shadow' as const, artifactId: r.shadow_artifact_id, traffic: r.shadow_percent ?? 0 }] : []),
      ].map((e) => ({ env: r.env, ...e, promotionId: r.promotion_id }));
      out.set(r.model_name, [...(out.get(r.model_name) ?? []), ...entries]);
    }
    return out;
  }

  /**
   * Where the artifact serves: as stable (with the rest of the traffic), as canary (with its
   * percent), or as shadow (mirrored that percent of the requests, answering no caller), by environment.
   */
  async deployments(artifactId: string): Promise<{ env: string; role: DeploymentRole; percent: number }[]> {
    const rows = await routesServing(this.#d.database.db, artifactId);
    return rows.map((r) =>
      r.stable_artifact_id === artifactId
        ? { env: r.env, role: 'stable' as const, percent: 100 - r.canary_percent }
        : r.canary_artifact_id === artifactId
          ? { env: r.env, role: 'canary' as const, percent: r.canary_percent }
          : { env: r.env, role: 'shadow' as const, percent: r.shadow_percent ?? 0 },
    );
  }
}

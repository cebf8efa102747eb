/**
 * The models a serving process holds: each artifact loaded (verified, unpacked, parsed) once
 * and kept for the process, or its refusal remembered (audited once). Nothing is evicted for
 * being unrouted: an artifact that stops being routed (blue after a blue-green switch, a
 * rolled-back canary) stays loaded, so a route that names it again answers without a load.
 * Only a quarantine drops a model (it is refused until the quarantine is released).
 */
import type { RecordedVariant } from '../../kernel/canary-metrics.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { QuarantineLookup } from '../registry/verification.js';
import type { Refusal, ServingRoute } from './domain.js';
import { isRefusal, loadArtifact, type LoaderDeps, type ServedModel } from './loader.js';
import type { ServingObserver } from './observers.js';
import { recordRefusal } from './records.js';

/** Who needs a model: the variant it answers as (`warm-up` for a blue-green warm-up) and its deployment. */
export interface LoadContext {
  modelName: string;
  env: string;
  variant: RecordedVariant | 'warm-up';
}

export interface ModelCacheDeps extends LoaderDeps {
  database: Database;
  audit: AuditLog;
  clock: Clock;
  quarantine: QuarantineLookup;
  logger: { error(message: string, ...extra: Record<string, unknown>[]): void };
  observers?: readonly ServingObserver[];
}

export class ModelCache {
  readonly #d: ModelCacheDeps;
  readonly #models = new Map<string, Promise<ServedModel | Refusal>>();
  readonly #settled = new Set<string>();
  readonly #refusalsAudited = new Set<string>();
  /** artifacts refused because a quarantine was in force when the route was read: re-checked once it is released */
  readonly #quarantined = new Set<string>();
  #loads = 0;

  constructor(d: ModelCacheDeps) {
    this.#d = d;
  }

  /** Model loads this process started (each reads, verifies and parses an artifact): a test reads it, the observers count it. */
  get loads(): number {
    return this.#loads;
  }

  /** Whether the artifact's load (or refusal) is done: a request for it does not wait. */
  settled(artifactId: string): boolean {
    return this.#settled.has(artifactId);
  }

  /** The quarantine state of what the route names (stable, canary, shadow): a quarantined artifact's model is dropped and refused. */
  async checkQuarantine(route: ServingRoute): Promise<void> {
    for (const id of [route.stable, route.canary, route.shadow ?? null]) if (id) await this.checkQuarantineOf(id);
  }

  async checkQuarantineOf(id: string): Promise<void> {
    const q = await this.#d.quarantine.stateOf(id);
    if (!q) {
      // released: forget the refusal, so the next request loads and verifies the artifact again
      if (this.#quarantined.delete(id)) {
        this.#models.delete(id);
        this.#settled.delete(id);
        this.#refusalsAudited.delete(id);
      }
      return;
    }
    this.#quarantined.add(id);
    const previous = this.#models.get(id);
    this.#models.set(id, Promise.resolve({ code: 'ARTIFACT_UNVERIFIED', reason: `the artifact is quarantined: ${q.reason}` }));
    this.#settled.add(id);
    void previous?.then((m) => (isRefusal(m) ? undefined : m.model.close())).catch(() => undefined);
  }

  /** The artifact's model, loading it on first use (`onCold` is called when this call waits on a load); a refusal is audited once. */
  async use(artifactId: string, ctx: LoadContext, onCold: () => void = () => undefined): Promise<ServedModel | Refusal> {
    if (!this.#settled.has(artifactId)) onCold();
    const served = await this.#load(artifactId, ctx);
    if (isRefusal(served) && !this.#refusalsAudited.has(artifactId)) {
      this.#refusalsAudited.add(artifactId);
      await recordRefusal(this.#d, { artifactId, modelName: ctx.modelName, env: ctx.env, variant: ctx.variant, refusal: served });
    }
    return served;
  }

  /** Releases the loaded models (shutdown). */
  async close(): Promise<void> {
    const models = [...this.#models.values()];
    this.#models.clear();
    for (const m of await Promise.allSettled(models))
      if (m.status === 'fulfilled' && !isRefusal(m.value)) await m.value.model.close().catch(() => undefined);
  }

  /** The artifact's model or refusal, loaded once per process. */
  #load(artifactId: string, ctx: LoadContext): Promise<ServedModel | Refusal> {
    let p = this.#models.get(artifactId);
    if (!p) {
      this.#loads++;
      for (const o of this.#d.observers ?? []) {
        try {
          o.loaded?.({ ...ctx, artifactId });
        } catch (err) {
          this.#d.logger.error('serving observer failed', { error: (err as Error).message });
        }
      }
      p = loadArtifact(this.#d, artifactId);
      this.#models.set(artifactId, p);
      p.then(
        () => this.#settled.add(artifactId),
        () => this.#models.delete(artifactId), // a store or database outage is retried by the next request
      );
    }
    return p;
  }
}

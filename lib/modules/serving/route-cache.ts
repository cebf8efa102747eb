import type { Clock } from '../../platform/ports/clock.js';
import type { ServingRoute } from './domain.js';

/** Reads a model's route in an environment (the rollout service's routes table). */
export type RouteSource = (modelName: string, env: string) => Promise<ServingRoute>;

/**
 * The routes a process serves by, each kept for `ttlSeconds` (AEGIS_SERVING_ROUTE_CACHE_SECONDS)
 * after it was read. That TTL bounds how long a process keeps sending traffic to a canary
 * after a rollback (or to an artifact after a quarantine moved the route): at most
 * `ttlSeconds` past the route change. Concurrent misses share one read.
 */
export class RouteCache {
  readonly #entries = new Map<string, { route: Promise<ServingRoute>; expiresAt: number }>();

  constructor(
    private readonly source: RouteSource,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
  ) {}

  get(modelName: string, env: string): Promise<ServingRoute> {
    const key = `${modelName}/${env}`;
    const now = this.clock.now().getTime();
    const hit = this.#entries.get(key);
    if (hit && now < hit.expiresAt) return hit.route;
    const route = this.source(modelName, env);
    const entry = { route, expiresAt: now + this.ttlSeconds * 1000 };
    this.#entries.set(key, entry);
    // a failed read is not cached: the next request reads again
    route.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return route;
  }
}

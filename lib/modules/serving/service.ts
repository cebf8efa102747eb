import { canonicalJson } from '../../kernel/canonical.js';
import { latencyBucket, type Variant, type VariantMetrics } from '../../kernel/canary-metrics.js';
import { AegisError } from '../../kernel/errors.js';
import type { MetricsSource } from '../../platform/ports/canary-metrics.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { Prediction } from '../../platform/ports/model-runtime.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { QuarantineLookup } from '../registry/verification.js';
import { chooseVariant, toMatrix, type Refusal, type ServingRoute } from './domain.js';
import { ServingEventSink, type ServingEventRecorder } from './event-sink.js';
import { isRefusal, loadArtifact, servable, type LoaderDeps, type ServedModel } from './loader.js';
import { notifyServed, type ServedRequest, type ServingObserver } from './observers.js';
import { RouteCache, type RouteSource } from './route-cache.js';
import { deploymentsOf, metricsWindow } from './store.js';
import { recordRefusal, recordVerified } from './records.js';
export type { ServingRoute } from './domain.js';

export interface ServingOptions {
  /** AEGIS_SERVING_ROUTE_CACHE_SECONDS: how long a route is served from memory (default 5) */
  routeCacheSeconds: number;
  /** AEGIS_SERVING_TIMEOUT_MS: a prediction slower than this fails as an error of its variant */
  timeoutMs: number;
  /** serving events are inserted every `batchIntervalMs` or `batchRows` rows (250 ms, 500) */
  batchIntervalMs?: number;
  batchRows?: number;
}

export interface ServingDeps extends LoaderDeps {
  database: Database;
  audit: AuditLog;
  clock: Clock;
  /** the routes table, through the rollout service */
  routes: RouteSource;
  quarantine: QuarantineLookup;
  logger: { error(message: string, ...extra: Record<string, unknown>[]): void };
  options: ServingOptions;
  /**
   * Where serving events go; by default batched inserts through the store (local). Lambda
   * passes the log-line recorder (the `serving-ingest` function inserts them).
   */
  events?: ServingEventRecorder;
  /** milliseconds for latencies (tests pass a fake); `performance.now` by default */
  monotonic?: () => number;
  /** told of every served request after its event is buffered (telemetry: Prometheus, input segments); must not throw */
  observers?: readonly ServingObserver[];
}

export interface PredictRequest {
  modelName: string;
  env: string;
  /** the request's id: the routing key when there is no subject, and the serving event's key */
  requestId: string;
  /** sticky routing: the same subject gets the same variant for the whole canary */
  subjectId?: string | undefined;
  inputs: readonly unknown[];
}

export interface PredictResult {
  requestId: string;
  variant: Variant;
  artifactId: string;
  manifestSignatureId: string;
  promotionId: string | null;
  predictions: Prediction[];
  cold: boolean;
}

/**
 * Serving: routes a request to the stable or canary variant of a model's deployment, loads
 * (once per process) and answers with the verified artifact of that variant, and records one
 * serving event per request for the canary judge ({@link ServingService.metrics}).
 */
export class ServingService {
  readonly #d: ServingDeps;
  readonly #routes: RouteCache;
  readonly #sink: ServingEventRecorder;
  readonly #models = new Map<string, Promise<ServedModel | Refusal>>();
  readonly #settled = new Set<string>();
  readonly #refusalsAudited = new Set<string>();
  /** artifacts refused because a quarantine was in force when the route was read: re-checked once it is released */
  readonly #quarantined = new Set<string>();
  readonly #verified = new Map<string, Promise<void>>();
  readonly #now: () => number;

  constructor(d: ServingDeps) {
    this.#d = d;
    this.#now = d.monotonic ?? (() => performance.now());
    this.#routes = new RouteCache((m, e) => this.#readRoute(m, e), d.clock, d.options.routeCacheSeconds);
    this.#sink =
      d.events ??
      new ServingEventSink(d.database, {
        intervalMs: d.options.batchIntervalMs ?? 250,
        maxRows: d.options.batchRows ?? 500,
        onError: (e, lost) => d.logger.error('serving events not recorded', { lost, error: (e as Error).message }),
      });
  }

  /** The canary judge's metrics from the serving events (buffered ones written first), complete up to `settledUntil` (now locally, the ingest watermark on AWS). */
  readonly metrics: MetricsSource = {
    window: async (deploymentKey: string, variant: Variant, artifactId: string | null, from: Date, to: Date): Promise<VariantMetrics> => {
      await this.#sink.flush();
      const m = await metricsWindow(this.#d.database.db, { deploymentKey, variant, artifactId, from, to });
      for (const o of this.#d.observers ?? []) o.read?.(deploymentKey, variant, artifactId, m);
      return m;
    },
    settledUntil: (deploymentKey: string, now: Date): Promise<Date> => this.#sink.settledUntil(deploymentKey, now),
  };

  /**
   * Answers one request: the variant by the canary assignment, the model of that variant
   * (a refused canary falls back to the stable), the rows checked against its features.
   *
   * @throws AegisError NOT_FOUND (nothing serves there), VALIDATION_FAILED (inputs, naming the
   *   field), ARTIFACT_UNVERIFIED / UNSUPPORTED_FORMAT / ARTIFACT_UNLOADABLE (503: the artifact is
   *   refused), MODEL_ERROR, PREDICTION_TIMEOUT (errors of the variant).
   */
  async predict(req: PredictRequest): Promise<PredictResult> {
    const started = this.#now();
    const route = await this.#routes.get(req.modelName, req.env);
    if (!route.stable && !route.canary)
      throw new AegisError('NOT_FOUND', `nothing serves ${req.modelName} in ${req.env}`, { field: 'env' });
    let variant = chooseVariant(route, req.subjectId ?? req.requestId);
    let cold = false;
    let served = await this.#use(route, variant, () => (cold = true));
    if (isRefusal(served) && variant === 'canary' && route.stable) {
      variant = 'stable';
      served = await this.#use(route, variant, () => (cold = true));
    }
    if (isRefusal(served)) throw new AegisError(served.code, `${req.modelName} in ${req.env} is not served: ${served.reason}`);
    await this.#verifiedIn(served, req.env);
    const rows = toMatrix(req.inputs, served.model.features);
    const event = { route, req, variant, served, cold, started };
    let predictions: Prediction[];
    try {
      predictions = await this.#withTimeout(served.model.predict(rows));
    } catch (e) {
      this.#record(event, null);
      if (e instanceof AegisError && e.code === 'PREDICTION_TIMEOUT') throw e;
      this.#d.logger.error('model failed', { artifactId: served.artifactId, requestId: req.requestId, error: (e as Error).message });
      throw new AegisError('MODEL_ERROR', `the ${variant} model failed to predict`, { cause: e });
    }
    this.#record(event, predictions);
    return {
      requestId: req.requestId,
      variant,
      artifactId: served.artifactId,
      manifestSignatureId: served.manifestSignatureId,
      promotionId: route.promotionId,
      predictions,
      cold,
    };
  }

  /**
   * Whether serving would answer with the artifact: null when it loads, else the refusal
   * (unsupported format, failed verification). A check only: the model is released again and
   * nothing is cached or audited, so the first predict still verifies what storage holds then.
   * Unknown (a store outage): null.
   */
  async servable(artifactId: string): Promise<Refusal | { unchecked: string } | null> {
    return servable(this.#d, artifactId);
  }

  /** Where the artifact first verified and served, by environment (lineage). */
  async deployments(artifactId: string): Promise<{ env: string; manifestSignatureId: string; format: string; verifiedAt: string }[]> {
    return (await deploymentsOf(this.#d.database.db, artifactId)).map((r) => ({
      env: r.env,
      manifestSignatureId: r.manifest_signature_id,
      format: r.format,
      verifiedAt: new Date(r.verified_at).toISOString(),
    }));
  }

  /** Writes the buffered serving events, and what the observers buffer (input segments). */
  async flush(): Promise<void> {
    await this.#sink.flush();
    for (const o of this.#d.observers ?? []) await o.flush?.().catch(() => undefined);
  }

  /** At a Lambda invocation's end: writes what observers buffered past its interval (a frozen container runs no timer); never throws. */
  async flushDue(): Promise<void> {
    for (const o of this.#d.observers ?? []) await o.flushDue?.().catch(() => undefined);
  }

  /** Writes the buffered serving events and releases the loaded models (shutdown). */
  async close(): Promise<void> {
    await this.flush();
    const models = [...this.#models.values()];
    this.#models.clear();
    for (const m of await Promise.allSettled(models))
      if (m.status === 'fulfilled' && !isRefusal(m.value)) await m.value.model.close().catch(() => undefined);
  }

  /** The route, and the quarantine state of what it names: a quarantined artifact's model is dropped and refused. */
  async #readRoute(modelName: string, env: string): Promise<ServingRoute> {
    const route = await this.#d.routes(modelName, env);
    for (const id of [route.stable, route.canary]) {
      if (!id) continue;
      const q = await this.#d.quarantine.stateOf(id);
      if (!q) {
        // released: forget the refusal, so the next request loads and verifies the artifact again
        if (this.#quarantined.delete(id)) {
          this.#models.delete(id);
          this.#settled.delete(id);
          this.#refusalsAudited.delete(id);
        }
        continue;
      }
      this.#quarantined.add(id);
      const previous = this.#models.get(id);
      this.#models.set(id, Promise.resolve({ code: 'ARTIFACT_UNVERIFIED', reason: `the artifact is quarantined: ${q.reason}` }));
      this.#settled.add(id);
      void previous?.then((m) => (isRefusal(m) ? undefined : m.model.close())).catch(() => undefined);
    }
    return route;
  }

  /** The model of a variant, loading it on first use (`onCold` is called when this request waits on a load). */
  async #use(route: ServingRoute, variant: Variant, onCold: () => void): Promise<ServedModel | Refusal> {
    const artifactId = (variant === 'canary' ? route.canary : route.stable)!;
    if (!artifactId) return { code: 'ARTIFACT_UNVERIFIED', reason: `no ${variant} artifact` };
    if (!this.#settled.has(artifactId)) onCold();
    const served = await this.#load(artifactId);
    if (isRefusal(served) && !this.#refusalsAudited.has(artifactId)) {
      this.#refusalsAudited.add(artifactId);
      await recordRefusal(this.#d, { artifactId, modelName: route.modelName, env: route.env, variant, refusal: served });
    }
    return served;
  }

  /** The artifact's model or refusal, loaded once per process. */
  #load(artifactId: string): Promise<ServedModel | Refusal> {
    let p = this.#models.get(artifactId);
    if (!p) {
      p = loadArtifact(this.#d, artifactId);
      this.#models.set(artifactId, p);
      p.then(
        () => this.#settled.add(artifactId),
        () => this.#models.delete(artifactId), // a store or database outage is retried by the next request
      );
    }
    return p;
  }

  /** The first load of an artifact in an environment is recorded (once per process; once ever per the table). */
  #verifiedIn(served: ServedModel, env: string): Promise<void> {
    const key = `${served.artifactId}\u0000${env}`;
    let p = this.#verified.get(key);
    if (!p) {
      p = recordVerified(this.#d, served, env);
      this.#verified.set(key, p);
      p.catch(() => this.#verified.delete(key));
    }
    return p;
  }

  #withTimeout<T>(p: Promise<T>): Promise<T> {
    const ms = this.#d.options.timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AegisError('PREDICTION_TIMEOUT', `the model did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  #record(
    e: { route: ServingRoute; req: PredictRequest; variant: Variant; served: ServedModel; cold: boolean; started: number },
    predictions: Prediction[] | null,
  ): void {
    const latency = Math.max(0, this.#now() - e.started);
    const at = this.#d.clock.now();
    this.#sink.add({
      request_id: e.req.requestId,
      deployment_key: `${e.route.modelName}/${e.route.env}`,
      variant: e.variant,
      artifact_id: e.served.artifactId,
      promotion_id: e.route.promotionId,
      at,
      latency_ms: latency,
      latency_bucket: latencyBucket(latency),
      error: predictions === null,
      cold: e.cold,
      prediction: predictions === null ? null : canonicalJson(predictions),
    });
    const served: ServedRequest = {
      modelName: e.route.modelName,
      env: e.route.env,
      requestId: e.req.requestId,
      variant: e.variant,
      artifactId: e.served.artifactId,
      at,
      latencyMs: latency,
      cold: e.cold,
      inputs: e.req.inputs,
      predictions,
    };
    notifyServed(this.#d.observers ?? [], served, this.#d.logger);
  }
}

import { canonicalJson } from '../../kernel/canonical.js';
import { latencyBucket, type Variant } from '../../kernel/canary-metrics.js';
import { AegisError } from '../../kernel/errors.js';
import type { MetricsSource } from '../../platform/ports/canary-metrics.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { Prediction } from '../../platform/ports/model-runtime.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { ServingWarmer, WarmUpRequest, WarmUpResult } from '../../platform/ports/serving-warmer.js';
import type { QuarantineLookup } from '../registry/verification.js';
import { chooseVariant, mirrored, toMatrix, type Refusal, type ServingRoute } from './domain.js';
import { ServingEventSink, type ServingEventRecorder } from './event-sink.js';
import { isRefusal, servable, type LoaderDeps, type ServedModel } from './loader.js';
import { ModelCache } from './model-cache.js';
import { notifyServed, type ServedRequest, type ServingObserver } from './observers.js';
import { RouteCache, type RouteSource } from './route-cache.js';
import { DEFAULT_SHADOW_BUDGET_MS, ShadowMirror, withTimeout, type ShadowMode } from './shadow.js';
import { eventsMetricsSource } from './metrics-source.js';
import { deploymentsOf, labelsOf } from './store.js';
import { recordVerified } from './records.js';
import { warmUp } from './warm-up.js';
export type { ServingRoute } from './domain.js';
export type { ShadowMode } from './shadow.js';

export interface ServingOptions {
  /** AEGIS_SERVING_ROUTE_CACHE_SECONDS: how long a route is served from memory (default 5) */
  routeCacheSeconds: number;
  /** AEGIS_SERVING_TIMEOUT_MS: a prediction slower than this fails as an error of its variant */
  timeoutMs: number;
  /** serving events are inserted every `batchIntervalMs` or `batchRows` rows (250 ms, 500) */
  batchIntervalMs?: number;
  batchRows?: number;
  /** where a shadow runs: after the response (local server) or beside the stable prediction within a budget (Lambda, the default) */
  shadow?: ShadowMode;
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
export class ServingService implements ServingWarmer {
  readonly #d: ServingDeps;
  readonly #routes: RouteCache;
  readonly #sink: ServingEventRecorder;
  readonly #cache: ModelCache;
  readonly #shadow: ShadowMirror;
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
    this.#cache = new ModelCache(d);
    this.#shadow = new ShadowMirror({
      cache: this.#cache,
      sink: this.#sink,
      clock: d.clock,
      now: this.#now,
      logger: d.logger,
      timeoutMs: d.options.timeoutMs,
      mode: d.options.shadow ?? { kind: 'parallel', budgetMs: DEFAULT_SHADOW_BUDGET_MS },
    });
    this.metrics = eventsMetricsSource({
      database: this.#d.database,
      observers: this.#d.observers ?? [],
      written: async () => {
        await this.#shadow.settled();
        await this.#sink.flush();
      },
      settledUntil: async (deploymentKey, now) => {
        await this.#shadow.settled();
        return this.#sink.settledUntil(deploymentKey, now);
      },
    });
  }

  /** Model loads this process started (a rollback to a model still held needs none); `ai_infra_serving_model_loads_total` counts them too. */
  get modelLoads(): number {
    return this.#cache.loads;
  }

  /** The canary judge's metrics from the serving events (buffered ones written first), complete up to `settledUntil` (now locally, the ingest watermark on AWS). */
  readonly metrics: MetricsSource;

  /**
   * Loads the artifact as serving would (verified; kept in this process's models) and answers
   * `requests` synthetic predictions with it (see {@link warmUp}): a blue-green switch moves
   * traffic only to an artifact that answered here.
   */
  warmUp(w: WarmUpRequest): Promise<WarmUpResult> {
    return warmUp({ cache: this.#cache, timeoutMs: this.#d.options.timeoutMs }, w);
  }

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
    // a request the stable answers may be mirrored to the shadow: the caller never sees its answer
    const shadow = variant === 'stable' && mirrored(route, req.subjectId ?? req.requestId) ? this.#shadow.begin(route, req) : undefined;
    let predictions: Prediction[];
    try {
      predictions = await withTimeout(served.model.predict(rows), this.#d.options.timeoutMs);
    } catch (e) {
      this.#record(event, null);
      await shadow?.finish();
      if (e instanceof AegisError && e.code === 'PREDICTION_TIMEOUT') throw e;
      this.#d.logger.error('model failed', { artifactId: served.artifactId, requestId: req.requestId, error: (e as Error).message });
      throw new AegisError('MODEL_ERROR', `the ${variant} model failed to predict`, { cause: e });
    }
    // the stable's own latency is recorded first: a shadow's wait (Lambda, within its budget) is not the stable's
    this.#record(event, predictions);
    await shadow?.finish();
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

  /** The labels given through feedback for these requests of a deployment, by request id (drift windows join them). Read-only. */
  async labels(modelName: string, env: string, requestIds: readonly string[]): Promise<Map<string, string>> {
    return labelsOf(this.#d.database.db, `${modelName}/${env}`, requestIds);
  }

  /** Writes the buffered serving events, and what the observers buffer (input segments). */
  async flush(): Promise<void> {
    await this.#shadow.settled();
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
    await this.#cache.close();
  }

  /** The route, and the quarantine state of what it names: a quarantined artifact's model is dropped and refused. */
  async #readRoute(modelName: string, env: string): Promise<ServingRoute> {
    const route = await this.#d.routes(modelName, env);
    await this.#cache.checkQuarantine(route);
    return route;
  }

  /** The model of a variant, loading it on first use (`onCold` is called when this request waits on a load). */
  async #use(route: ServingRoute, variant: Variant, onCold: () => void): Promise<ServedModel | Refusal> {
    const artifactId = variant === 'canary' ? route.canary : route.stable;
    if (!artifactId) return { code: 'ARTIFACT_UNVERIFIED', reason: `no ${variant} artifact` };
    return this.#cache.use(artifactId, { modelName: route.modelName, env: route.env, variant }, onCold);
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

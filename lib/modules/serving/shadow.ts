/**
 * Shadow mirroring (strategy `shadow`): a sampled share of the requests the stable variant
 * answers is also answered by the route's shadow artifact. The caller gets only the stable
 * answer; the shadow's answer is recorded as a serving event of its own (variant `shadow`, the
 * same request id, the shadow artifact, its own latency, error and cold flags, its prediction
 * as canonical JSON), which the judge compares with the stable answer (agreement) and counts
 * like any variant (errors, latency, label quality).
 *
 * Two modes, by where serving runs:
 * - `after-response` (the local server): the shadow runs once the caller's response is
 *   written (the server's after-response hook; `setImmediate` outside a request), so it adds
 *   nothing to the caller's latency.
 * - `parallel` (Lambda, where nothing runs after the response is returned): the shadow starts
 *   beside the stable prediction, and the response waits for it at most until the budget
 *   (`AEGIS_SERVING_SHADOW_BUDGET_MS`, 100 ms by default) from its start. A shadow still
 *   predicting then is recorded as an error of the shadow (the reason is logged; its late
 *   answer is dropped), as is a shadow artifact that is refused or fails to load: never the
 *   caller's. A shadow still loading its model at the budget (the first requests a new
 *   instance mirrors) is not recorded at all: that request was not mirrored, the load goes on
 *   for the next ones, and a cold instance is not counted against the candidate.
 */
import { canonicalJson } from '../../kernel/canonical.js';
import { latencyBucket } from '../../kernel/canary-metrics.js';
import { AegisError } from '../../kernel/errors.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Prediction } from '../../platform/ports/model-runtime.js';
import { toMatrix, type ServingRoute } from './domain.js';
import type { ServingEventRecorder } from './event-sink.js';
import { isRefusal } from './loader.js';
import type { ModelCache } from './model-cache.js';

/** Where a shadow runs relative to the caller's response (see the module comment). */
export type ShadowMode = { kind: 'after-response'; defer(task: () => void): void } | { kind: 'parallel'; budgetMs: number };

/** The default budget of a shadow in `parallel` mode (`AEGIS_SERVING_SHADOW_BUDGET_MS`). */
export const DEFAULT_SHADOW_BUDGET_MS = 100;

export interface ShadowDeps {
  cache: ModelCache;
  sink: ServingEventRecorder;
  clock: Clock;
  now: () => number;
  logger: { error(message: string, ...extra: Record<string, unknown>[]): void };
  timeoutMs: number;
  mode: ShadowMode;
}

/** What the request asked, as the shadow needs it. */
export interface MirroredRequest {
  requestId: string;
  inputs: readonly unknown[];
}

interface Outcome {
  predictions: Prediction[] | null;
  reason?: string;
  latencyMs: number;
}

/** A model's answer, or PREDICTION_TIMEOUT after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AegisError('PREDICTION_TIMEOUT', `the model did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class ShadowMirror {
  /** shadows begun and not yet recorded */
  readonly #pending = new Set<Promise<void>>();

  constructor(private readonly d: ShadowDeps) {}

  /** Resolves once every shadow begun so far is recorded (the metrics source and shutdown wait for them). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /**
   * Mirrors one request the stable variant answers: in `parallel` mode the shadow starts now;
   * `finish()` (after the stable answer, whatever it was) waits for it at most the rest of the
   * budget, or in `after-response` mode hands the whole run to the deferral. Never throws.
   */
  begin(route: ServingRoute, req: MirroredRequest): { finish(): Promise<void> } {
    const state = { cold: false, loaded: false, started: this.d.now() };
    const mode = this.d.mode;
    if (mode.kind === 'after-response')
      return {
        finish: async () => {
          const done = new Promise<void>((resolve) =>
            mode.defer(() => {
              state.started = this.d.now();
              void this.#run(route, req, state)
                .then((o) => this.#record(route, req, state.cold, o))
                .finally(resolve);
            }),
          );
          this.#track(done);
        },
      };
    const run = this.#run(route, req, state);
    let release = () => undefined as void;
    this.#track(new Promise<void>((resolve) => (release = resolve)));
    return {
      finish: async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const left = Math.max(0, mode.budgetMs - (this.d.now() - state.started));
        const expired = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), left)));
        const o = await Promise.race([run, expired]).finally(() => clearTimeout(timer));
        if (o === null && !state.loaded) {
          release();
          return;
        }
        this.#record(
          route,
          req,
          state.cold,
          o ?? {
            predictions: null,
            reason: `the shadow did not answer within its budget of ${mode.budgetMs} ms (AEGIS_SERVING_SHADOW_BUDGET_MS)`,
            latencyMs: Math.max(0, this.d.now() - state.started),
          },
        );
        release();
      },
    };
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Loads (once) and asks the shadow artifact; any failure is an outcome with its reason, never thrown. */
  async #run(route: ServingRoute, req: MirroredRequest, state: { cold: boolean; loaded: boolean; started: number }): Promise<Outcome> {
    const latency = () => Math.max(0, this.d.now() - state.started);
    try {
      const ctx = { modelName: route.modelName, env: route.env, variant: 'shadow' as const };
      const served = await this.d.cache.use(route.shadow!, ctx, () => (state.cold = true));
      state.loaded = true;
      if (isRefusal(served))
        return { predictions: null, reason: `the shadow artifact is refused (${served.code}): ${served.reason}`, latencyMs: latency() };
      const rows = toMatrix(req.inputs, served.model.features);
      const predictions = await withTimeout(served.model.predict(rows), this.d.timeoutMs);
      return { predictions, latencyMs: latency() };
    } catch (e) {
      return { predictions: null, reason: (e as Error).message, latencyMs: latency() };
    }
  }

  #record(route: ServingRoute, req: MirroredRequest, cold: boolean, o: Outcome): void {
    if (o.reason)
      this.d.logger.error('shadow prediction failed', { requestId: req.requestId, artifactId: route.shadow!, reason: o.reason });
    this.d.sink.add({
      request_id: req.requestId,
      deployment_key: `${route.modelName}/${route.env}`,
      variant: 'shadow',
      artifact_id: route.shadow!,
      promotion_id: route.promotionId,
      at: this.d.clock.now(),
      latency_ms: o.latencyMs,
      latency_bucket: latencyBucket(o.latencyMs),
      error: o.predictions === null,
      cold,
      prediction: o.predictions === null ? null : canonicalJson(o.predictions),
    });
  }
}

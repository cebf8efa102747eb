/** What serving tells its telemetry (Prometheus series, input segments) about each request and each metrics read. */
import type { Variant, VariantMetrics } from '../../kernel/canary-metrics.js';
import type { Prediction } from '../../platform/ports/model-runtime.js';

/** One served request, as the observers see it. */
export interface ServedRequest {
  modelName: string;
  env: string;
  requestId: string;
  variant: Variant;
  artifactId: string;
  at: Date;
  latencyMs: number;
  cold: boolean;
  inputs: readonly unknown[];
  /** null when the model failed or timed out (an error of the variant) */
  predictions: Prediction[] | null;
}

/** A model load this process started (an artifact read, verified and parsed), and who needed it. */
export interface ModelLoad {
  modelName: string;
  env: string;
  /** the variant that needed it: `stable`, `canary`, `shadow`, or `warm-up` (a blue-green warm-up) */
  variant: string;
  artifactId: string;
}

export interface ServingObserver {
  served(r: ServedRequest): void;
  /** a model load started (counted: a switch back to a model still held needs none) */
  loaded?(l: ModelLoad): void;
  /** a variant's metrics were read (the judge, canary status) */
  read?(deploymentKey: string, variant: Variant, artifactId: string | null, m: VariantMetrics): void;
  /** writes what it buffers (shutdown) */
  flush?(): Promise<void>;
  /** writes what has waited long enough, and what is being written (the end of a Lambda invocation) */
  flushDue?(): Promise<void>;
}

/** Tells every observer of a served request; an observer that throws is logged, never the request's failure. */
export function notifyServed(
  observers: readonly ServingObserver[],
  served: ServedRequest,
  logger: { error(message: string, ...extra: Record<string, unknown>[]): void },
): void {
  for (const o of observers) {
    try {
      o.served(served);
    } catch (err) {
      logger.error('serving observer failed', { error: (err as Error).message });
    }
  }
}

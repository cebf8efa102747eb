/**
 * The canary metrics port: what the canary judge reads. Adapter:
 * `adapters/canary-metrics/recorded.ts` (recorded samples, for the local stack and tests);
 * serving will implement it from its request logs. Tested by `test/unit/canary-judge.test.ts`
 * and `test/promotion/judged.test.ts`. The metric types and the latency buckets are pure and
 * live in the kernel (`lib/kernel/canary-metrics.ts`).
 */
import type { RecordedVariant, VariantMetrics } from '../../kernel/canary-metrics.js';

/**
 * Serving metrics of one deployment, split by variant.
 *
 * @example
 * const stable = await metrics.window('churn/prod', 'stable', stableArtifactId, from, to);
 * const canary = await metrics.window('churn/prod', 'canary', canaryArtifactId, from, to);
 * const result = judgeCanary({ stable, canary, canaryPercent: 5 });
 */
export interface MetricsSource {
  /**
   * Metrics of requests that arrived in the half-open window `[from, to)`, so adjacent
   * windows never count a request twice. `artifactId` is the artifact the variant served
   * (a later canary reuses the variant name; null when nothing served that variant): a
   * source that records it counts only that artifact's requests.
   */
  window(deploymentKey: string, variant: RecordedVariant, artifactId: string | null, from: Date, to: Date): Promise<VariantMetrics>;
  /**
   * Up to when the source holds every request of the deployment, as of `now` (at most `now`):
   * a window ending later could miss requests that are still on their way. `now` for a source
   * written directly; on AWS, the serving ingest's watermark minus its grace.
   *
   * @example
   * const to = await metrics.settledUntil('churn/prod', now); // judge [from, to), not [from, now)
   */
  settledUntil(deploymentKey: string, now: Date): Promise<Date>;
  /**
   * How often the shadow's answer equals the stable one's: over requests in `[from, to)` that
   * the stable artifact answered without error and the shadow artifact answered too (joined
   * on the request id), `compared` of them and `agreed` with equal predictions.
   */
  agreement(deploymentKey: string, stableArtifactId: string | null, shadowArtifactId: string, from: Date, to: Date): Promise<Agreement>;
}

/** Shadow agreement over a window: mirrored requests compared with the stable answer, and how many agreed. */
export interface Agreement {
  compared: number;
  agreed: number;
}

/** The canary judge's {@link MetricsSource} over the serving events: the SQL of store.ts and store-agreement.ts, after what is buffered is written. */
import type { RecordedVariant, VariantMetrics } from '../../kernel/canary-metrics.js';
import type { Agreement, MetricsSource } from '../../platform/ports/canary-metrics.js';
import type { Database } from '../../platform/ports/database.js';
import { agreementWindow } from './store-agreement.js';
import type { ServingObserver } from './observers.js';
import { metricsWindow } from './store.js';

export function eventsMetricsSource(d: {
  database: Database;
  observers: readonly ServingObserver[];
  /** resolves once the events begun so far (shadows included) are written */
  written(): Promise<void>;
  settledUntil(deploymentKey: string, now: Date): Promise<Date>;
}): MetricsSource {
  return {
    async window(
      deploymentKey: string,
      variant: RecordedVariant,
      artifactId: string | null,
      from: Date,
      to: Date,
    ): Promise<VariantMetrics> {
      await d.written();
      const m = await metricsWindow(d.database.db, { deploymentKey, variant, artifactId, from, to });
      // the observers' gauges are per routed variant (the shadow answered no caller)
      if (variant !== 'shadow') for (const o of d.observers) o.read?.(deploymentKey, variant, artifactId, m);
      return m;
    },
    settledUntil: (deploymentKey: string, now: Date): Promise<Date> => d.settledUntil(deploymentKey, now),
    async agreement(
      deploymentKey: string,
      stableArtifactId: string | null,
      shadowArtifactId: string,
      from: Date,
      to: Date,
    ): Promise<Agreement> {
      await d.written();
      return agreementWindow(d.database.db, { deploymentKey, stableArtifactId, shadowArtifactId, from, to });
    },
  };
}

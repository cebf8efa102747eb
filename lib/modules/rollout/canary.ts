import { judgeCanary, judgementDetail } from '../../kernel/canary-judge.js';
import type { MetricsSource } from '../../platform/ports/canary-metrics.js';
import type { CanaryWindow, RolloutJudge, WindowVerdict } from '../../platform/ports/workflows.js';

/** Deployments are keyed `<model>/<env>`: the serving layer records per-variant metrics under it. */
export const deploymentKey = (modelName: string, env: string) => `${modelName}/${env}`;

/**
 * The production judge: per-variant metrics over the stage so far, quality over the whole
 * canary so far (labels arrive late), then the statistics in the core.
 */
export class MetricsRolloutJudge implements RolloutJudge {
  constructor(private readonly metrics: MetricsSource) {}

  /** Where the deployment's serving events are complete: now locally, the ingest watermark minus its grace on AWS. */
  settledUntil(modelName: string, env: string, now: Date): Promise<Date> {
    return this.metrics.settledUntil(deploymentKey(modelName, env), now);
  }

  async evaluate(w: CanaryWindow): Promise<WindowVerdict> {
    const key = deploymentKey(w.modelName, w.env);
    const sameSpan = w.canaryFrom.getTime() === w.from.getTime();
    const [stable, canary, stableSoFar, canarySoFar] = await Promise.all([
      this.metrics.window(key, 'stable', w.stableArtifactId, w.from, w.to),
      this.metrics.window(key, 'canary', w.canaryArtifactId, w.from, w.to),
      ...(sameSpan
        ? []
        : [
            this.metrics.window(key, 'stable', w.stableArtifactId, w.canaryFrom, w.to),
            this.metrics.window(key, 'canary', w.canaryArtifactId, w.canaryFrom, w.to),
          ]),
    ]);
    const { quality: _s, ...stableStage } = stable!;
    const { quality: _c, ...canaryStage } = canary!;
    const sq = (sameSpan ? stable : stableSoFar)!.quality,
      cq = (sameSpan ? canary : canarySoFar)!.quality;
    const j = judgeCanary({
      stable: { ...stableStage, ...(sq ? { quality: sq } : {}) },
      canary: { ...canaryStage, ...(cq ? { quality: cq } : {}) },
      canaryPercent: w.percent,
      config: { rollbackThreshold: w.rollbackThreshold, minRequests: w.minRequests },
    });
    return {
      verdict: j.verdict,
      reason: j.reason,
      detail: judgementDetail(j),
      requests: { stable: stable!.requests, canary: canary!.requests },
      errors: { stable: stable!.errors, canary: canary!.errors },
      judgement: j,
    };
  }
}

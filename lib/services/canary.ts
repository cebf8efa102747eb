import { judgeCanary } from '../core/canary-judge.js';
import type { MetricsSource } from '../core/canary-metrics.js';
import type { CanaryWindow, RolloutJudge } from '../ports.js';

/** Deployments are keyed `<model>/<env>`: the serving layer records per-variant metrics under it. */
export const deploymentKey = (modelName: string, env: string) => `${modelName}/${env}`;

/** The production judge: per-variant metrics over the window, then the statistics in the core. */
export class MetricsRolloutJudge implements RolloutJudge {
  constructor(private readonly metrics: MetricsSource) {}

  async evaluate(w: CanaryWindow) {
    const key = deploymentKey(w.modelName, w.env);
    const [stable, canary] = await Promise.all([this.metrics.window(key, 'stable', w.stableArtifactId, w.from, w.to), this.metrics.window(key, 'canary', w.canaryArtifactId, w.from, w.to)]);
    const j = judgeCanary({ stable, canary, config: { rollbackThreshold: w.rollbackThreshold } });
    return { verdict: j.verdict, detail: j.failed ? `${j.failed.metric}: ${j.failed.detail}` : j.reasons.join('; ') };
  }
}

import { judgeCanary, judgementDetail } from '../../kernel/canary-judge.js';
import type { CanaryJudgement } from '../../kernel/canary-judgement.js';
import type { VariantMetrics } from '../../kernel/canary-metrics.js';
import type { MetricsSource } from '../../platform/ports/canary-metrics.js';
import type { CanaryWindow, RolloutJudge, WindowVerdict } from '../../platform/ports/workflows.js';

/** Deployments are keyed `<model>/<env>`: the serving layer records per-variant metrics under it. */
export const deploymentKey = (modelName: string, env: string) => `${modelName}/${env}`;

/**
 * The production judge: per-variant metrics over the stage so far, quality over the whole
 * canary so far (labels arrive late), then the statistics in the core; a shadow window is
 * also judged on the agreement of the mirrored answers with the stable ones.
 */
export class MetricsRolloutJudge implements RolloutJudge {
  constructor(private readonly metrics: MetricsSource) {}

  /** Where the deployment's serving events are complete: now locally, the ingest watermark minus its grace on AWS. */
  settledUntil(modelName: string, env: string, now: Date): Promise<Date> {
    return this.metrics.settledUntil(deploymentKey(modelName, env), now);
  }

  async evaluate(w: CanaryWindow): Promise<WindowVerdict> {
    return w.arm === 'shadow' ? this.#shadow(w) : this.#canary(w);
  }

  async #canary(w: CanaryWindow): Promise<WindowVerdict> {
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
      config: {
        rollbackThreshold: w.rollbackThreshold,
        minRequests: w.minRequests,
        ...(w.minLabelled !== undefined && { minLabelled: w.minLabelled, qualityRequired: true }),
      },
    });
    return verdictOf(j, stable!, canary!);
  }

  /**
   * A shadow window: the stable answers against the mirrored ones over the same span (a shadow
   * of p % of the requests is p/(100+p) of the recorded events: the sample-ratio check's
   * share), then their agreement. Fewer than `minRequests` compared is at most inconclusive;
   * a rate under `minAgreement` fails with reason `agreement`, named before any failure of the
   * statistics (whose words stay in the detail).
   */
  async #shadow(w: CanaryWindow): Promise<WindowVerdict> {
    const key = deploymentKey(w.modelName, w.env);
    const [stable, shadow, agreement] = await Promise.all([
      this.metrics.window(key, 'stable', w.stableArtifactId, w.from, w.to),
      this.metrics.window(key, 'shadow', w.canaryArtifactId, w.from, w.to),
      this.metrics.agreement(key, w.stableArtifactId, w.canaryArtifactId, w.from, w.to),
    ]);
    const j = judgeCanary({
      stable,
      canary: shadow,
      canaryPercent: (100 * w.percent) / (100 + w.percent),
      config: { rollbackThreshold: w.rollbackThreshold, minRequests: w.minRequests },
    });
    const base = verdictOf(j, stable, shadow);
    const { compared, agreed } = agreement;
    const rate = compared > 0 ? agreed / compared : null;
    const said = `agreement: ${agreed} of ${compared} mirrored answers equal the stable one${rate === null ? '' : ` (${(rate * 100).toFixed(1)} %, at least ${((w.minAgreement ?? 0) * 100).toFixed(1)} % needed)`}`;
    // the judge's words name its second arm "canary": here that arm is the shadow
    const out = { ...base, agreement: { compared, agreed, rate }, detail: `${base.detail.replace(/\bcanary\b/g, 'shadow')}; ${said}` };
    // disagreement is named first: the shadow's answers are its own criterion, while its latency
    // (mirrored copies run after the caller's answer) is the first thing a busy host inflates
    if (rate !== null && compared >= w.minRequests && rate < (w.minAgreement ?? 0)) return { ...out, verdict: 'fail', reason: 'agreement' };
    if (base.verdict === 'fail') return out;
    if (compared < w.minRequests && base.verdict === 'pass') return { ...out, verdict: 'inconclusive', reason: 'insufficient-traffic' };
    return out;
  }
}

function verdictOf(j: CanaryJudgement, stable: VariantMetrics, canary: VariantMetrics): WindowVerdict {
  return {
    verdict: j.verdict,
    reason: j.reason,
    detail: judgementDetail(j),
    requests: { stable: stable.requests, canary: canary.requests },
    errors: { stable: stable.errors, canary: canary.errors },
    judgement: j,
  };
}

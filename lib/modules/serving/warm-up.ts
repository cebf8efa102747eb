/**
 * Blue-green warm-up: before a switch moves any traffic, serving loads the green artifact
 * through the same verified loader as a request would (a refusal ends the warm-up, naming
 * it), keeps it among the process's models (nothing is evicted for being unrouted, see
 * model-cache.ts), and answers `requests` predictions with it, every one of which must succeed.
 *
 * The inputs are synthetic: serving keeps no readable copy of a deployment's inputs (input
 * segments go to the drift store, write-only for the serving function), so each warm-up row
 * is the training baseline's feature means when the artifact carries `baseline.json`
 * (`aegis.baseline/v1`, as `aegis train` writes it), else zeros. Warm-up answers are not
 * serving events: no caller asked, and the judge must not count them.
 */
import { AegisError } from '../../kernel/errors.js';
import type { WarmUpRequest, WarmUpResult } from '../../platform/ports/serving-warmer.js';
import { isRefusal } from './loader.js';
import type { ModelCache } from './model-cache.js';
import { withTimeout } from './shadow.js';

/** The most warm-up requests one warm-up sends. */
export const MAX_WARM_UP_REQUESTS = 1000;

const invalid = (field: string, message: string) => new AegisError('VALIDATION_FAILED', `${field}: ${message}`, { field });

/** @throws AegisError VALIDATION_FAILED naming the field of a malformed request (`requests`, `artifactId`, …). */
export function checkWarmUp(w: WarmUpRequest): void {
  for (const f of ['modelName', 'env', 'artifactId'] as const)
    if (typeof w[f] !== 'string' || w[f] === '') throw invalid(f, 'a non-empty string is required');
  if (!Number.isInteger(w.requests) || w.requests < 1 || w.requests > MAX_WARM_UP_REQUESTS)
    throw invalid('requests', `a whole number from 1 to ${MAX_WARM_UP_REQUESTS} is required`);
}

export async function warmUp(d: { cache: ModelCache; timeoutMs: number }, w: WarmUpRequest): Promise<WarmUpResult> {
  checkWarmUp(w);
  const failed = (answered: number, reason: string): WarmUpResult => ({
    ok: false,
    answered,
    requests: w.requests,
    inputs: 'synthetic',
    reason,
  });
  let served;
  try {
    await d.cache.checkQuarantineOf(w.artifactId);
    served = await d.cache.use(w.artifactId, { modelName: w.modelName, env: w.env, variant: 'warm-up' });
  } catch (e) {
    return failed(0, `the load of artifact ${w.artifactId} failed: ${(e as Error).message}`);
  }
  if (isRefusal(served)) return failed(0, `artifact ${w.artifactId} is refused (${served.code}): ${served.reason}`);
  if (served.modelName !== w.modelName)
    return failed(0, `artifact ${w.artifactId} is a version of ${served.modelName}, not of ${w.modelName}`);
  const row = served.warmUpRow ?? served.model.features.map(() => 0);
  for (let i = 0; i < w.requests; i++) {
    try {
      const predictions = await withTimeout(served.model.predict([row]), d.timeoutMs);
      if (predictions.length !== 1) throw new Error(`${predictions.length} predictions for 1 row`);
    } catch (e) {
      return failed(i, `warm-up request ${i + 1} of ${w.requests} failed: ${(e as Error).message}`);
    }
  }
  return { ok: true, answered: w.requests, requests: w.requests, inputs: 'synthetic' };
}

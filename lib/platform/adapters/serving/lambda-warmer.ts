/**
 * The warm-up port on AWS: the rollout step invokes the serving function (its `live` alias
 * when provisioned concurrency is on: `AEGIS_SERVING_FUNCTION_NAME` holds that alias's ARN)
 * synchronously with the internal event `{ "aegisWarmUp": WarmUpRequest }`, which the serving
 * handler answers with a {@link WarmUpResult} instead of treating it as an API request.
 *
 * Lambda's `Invoke` through the shared signed helper (`adapters/shared/lambda-invoke.ts`).
 *
 * What it warms: the one execution environment the invocation reached. Other instances load
 * the artifact on their first request after the switch (see the README, blue-green).
 */
import { describeReply, LambdaInvoker, type LambdaInvokeOptions } from '../shared/lambda-invoke.js';
import type { ServingWarmer, WarmUpRequest, WarmUpResult } from '../../ports/serving-warmer.js';

import { WARM_UP_EVENT_FIELD } from './warm-up-event.js';

/** The serving function's name or ARN (the `live` alias's ARN with provisioned concurrency), and how to reach Lambda. */
export type LambdaWarmerOptions = LambdaInvokeOptions;

const isResult = (v: unknown): v is WarmUpResult =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as WarmUpResult).ok === 'boolean' &&
  typeof (v as WarmUpResult).answered === 'number' &&
  typeof (v as WarmUpResult).requests === 'number';

export class LambdaWarmer implements ServingWarmer {
  readonly #lambda: LambdaInvoker;

  /** Builds nothing that can fail: a container that never warms (most rollouts) is not refused for a missing region. */
  constructor(private readonly opts: LambdaWarmerOptions) {
    this.#lambda = new LambdaInvoker(opts);
  }

  /**
   * Invokes the serving function with the warm-up event and returns its result. A failed
   * invocation (the API refused it, the function threw or timed out) is a warm-up that is not
   * ok, with the reason; never thrown, so the rollout decides what a failed warm-up means.
   */
  async warmUp(w: WarmUpRequest): Promise<WarmUpResult> {
    const failed = (reason: string): WarmUpResult => ({ ok: false, answered: 0, requests: w.requests, inputs: 'synthetic', reason });
    try {
      const { status, functionError, text } = await this.#lambda.invoke({ [WARM_UP_EVENT_FIELD]: w });
      const said = describeReply(text);
      if (status < 200 || status >= 300) return failed(`invoking ${this.opts.functionName} failed (HTTP ${status}): ${said}`);
      if (functionError) return failed(`the serving function failed the warm-up (${functionError}): ${said}`);
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        reply = undefined;
      }
      if (!isResult(reply)) return failed(`the serving function answered the warm-up with no warm-up result: ${text.slice(0, 200)}`);
      return reply;
    } catch (e) {
      return failed(`invoking ${this.opts.functionName} failed: ${(e as Error).message}`);
    }
  }
}

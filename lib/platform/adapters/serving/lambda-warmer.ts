/**
 * The warm-up port on AWS: the rollout step invokes the serving function (its `live` alias
 * when provisioned concurrency is on: `AEGIS_SERVING_FUNCTION_NAME` holds that alias's ARN)
 * synchronously with the internal event `{ "aegisWarmUp": WarmUpRequest }`, which the serving
 * handler answers with a {@link WarmUpResult} instead of treating it as an API request.
 *
 * Lambda's `Invoke` over its REST API, signed with SigV4 (as secrets-manager.ts does for its
 * one call): no Lambda SDK client is a dependency for this one call.
 *
 * What it warms: the one execution environment the invocation reached. Other instances load
 * the artifact on their first request after the switch (see the README, blue-green).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { ServingWarmer, WarmUpRequest, WarmUpResult } from '../../ports/serving-warmer.js';

import { WARM_UP_EVENT_FIELD } from './warm-up-event.js';

export interface LambdaWarmerOptions {
  /** the serving function's name or ARN (the `live` alias's ARN with provisioned concurrency) */
  functionName: string;
  /** @default AWS_REGION, else the region of an ARN `functionName` */
  region?: string;
  /** @default `https://lambda.<region>.amazonaws.com` (`AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL` in the composition) */
  endpoint?: string;
  /** @default the SDK's default chain (the function's role in Lambda) */
  credentials?: AwsCredentialIdentityProvider;
}

const isResult = (v: unknown): v is WarmUpResult =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as WarmUpResult).ok === 'boolean' &&
  typeof (v as WarmUpResult).answered === 'number' &&
  typeof (v as WarmUpResult).requests === 'number';

export class LambdaWarmer implements ServingWarmer {
  #client: { url: URL; path: string; signer: SignatureV4 } | undefined;

  /** Builds nothing that can fail: a container that never warms (most rollouts) is not refused for a missing region. */
  constructor(private readonly opts: LambdaWarmerOptions) {}

  #invoker(): { url: URL; path: string; signer: SignatureV4 } {
    if (this.#client) return this.#client;
    const { functionName } = this.opts;
    const region = this.opts.region ?? process.env.AWS_REGION ?? functionName.split(':')[3];
    if (!region) throw new Error(`no region for ${functionName} (set AWS_REGION)`);
    const url = new URL(this.opts.endpoint ?? `https://lambda.${region}.amazonaws.com`);
    const path = `${url.pathname.replace(/\/$/, '')}/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
    const credentials = this.opts.credentials ?? fromNodeProviderChain();
    this.#client = { url, path, signer: new SignatureV4({ service: 'lambda', region, credentials, sha256: Sha256 }) };
    return this.#client;
  }

  /**
   * Invokes the serving function with the warm-up event and returns its result. A failed
   * invocation (the API refused it, the function threw or timed out) is a warm-up that is not
   * ok, with the reason; never thrown, so the rollout decides what a failed warm-up means.
   */
  async warmUp(w: WarmUpRequest): Promise<WarmUpResult> {
    const failed = (reason: string): WarmUpResult => ({ ok: false, answered: 0, requests: w.requests, inputs: 'synthetic', reason });
    const body = JSON.stringify({ [WARM_UP_EVENT_FIELD]: w });
    try {
      const { url, path, signer } = this.#invoker();
      const signed = await signer.sign({
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port && { port: Number(url.port) }),
        path,
        headers: { host: url.host, 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        body,
      });
      const res = await fetch(new URL(path, url), { method: 'POST', headers: signed.headers, body });
      const text = await res.text();
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        reply = undefined;
      }
      const message = (reply as { errorMessage?: unknown; message?: unknown; Message?: unknown } | undefined) ?? {};
      const said = String(message.errorMessage ?? message.message ?? message.Message ?? text.slice(0, 200));
      if (!res.ok) return failed(`invoking ${this.opts.functionName} failed (HTTP ${res.status}): ${said}`);
      const functionError = res.headers.get('x-amz-function-error');
      if (functionError) return failed(`the serving function failed the warm-up (${functionError}): ${said}`);
      if (!isResult(reply)) return failed(`the serving function answered the warm-up with no warm-up result: ${text.slice(0, 200)}`);
      return reply;
    } catch (e) {
      return failed(`invoking ${this.opts.functionName} failed: ${(e as Error).message}`);
    }
  }
}

/**
 * Lambda's `Invoke` over its REST API, signed with SigV4 (as secrets-manager.ts does for its one
 * call): no Lambda SDK client is a dependency for the two calls Aegis makes, the rollout step
 * warming the serving function (synchronous) and a commit waking the event dispatcher
 * (asynchronous, `X-Amz-Invocation-Type: Event`).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

export interface LambdaInvokeOptions {
  /** the function's name or ARN (with a qualifier: an alias's ARN) */
  functionName: string;
  /** @default AWS_REGION, else the region of an ARN `functionName` */
  region?: string;
  /** @default `https://lambda.<region>.amazonaws.com` (`AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL` in the composition) */
  endpoint?: string;
  /** @default the SDK's default chain (the function's role in Lambda) */
  credentials?: AwsCredentialIdentityProvider;
}

/** What Lambda answered: its HTTP status, the function's error header, the payload as text. */
export interface LambdaInvokeReply {
  status: number;
  functionError: string | null;
  text: string;
}

/** Invokes one function; builds its signer on the first call, so a container that never invokes needs no region. */
export class LambdaInvoker {
  #client: { url: URL; path: string; signer: SignatureV4 } | undefined;

  constructor(private readonly opts: LambdaInvokeOptions) {}

  get functionName(): string {
    return this.opts.functionName;
  }

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
   * `RequestResponse` waits for the function's result; `Event` queues the invocation (Lambda
   * answers 202 at once and runs it, retrying a failed run itself). Throws only when the call
   * could not be made (no region, no credentials, the network).
   */
  async invoke(payload: unknown, type: 'RequestResponse' | 'Event' = 'RequestResponse'): Promise<LambdaInvokeReply> {
    const body = JSON.stringify(payload);
    const { url, path, signer } = this.#invoker();
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port && { port: Number(url.port) }),
      path,
      headers: { host: url.host, 'content-type': 'application/json', 'x-amz-invocation-type': type },
      body,
    });
    const res = await fetch(new URL(path, url), { method: 'POST', headers: signed.headers, body });
    return { status: res.status, functionError: res.headers.get('x-amz-function-error'), text: await res.text() };
  }

  /** Queues an invocation (`Event`); throws unless Lambda accepted it (202). */
  async invokeAsync(payload: unknown): Promise<void> {
    const r = await this.invoke(payload, 'Event');
    if (r.status !== 202) throw new Error(`invoking ${this.opts.functionName} failed (HTTP ${r.status}): ${describeReply(r.text)}`);
  }
}

/** The message of Lambda's (or the function's) error reply, else the start of the text. */
export function describeReply(text: string): string {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    reply = undefined;
  }
  const message = (reply as { errorMessage?: unknown; message?: unknown; Message?: unknown } | undefined) ?? {};
  return String(message.errorMessage ?? message.message ?? message.Message ?? text.slice(0, 200));
}

import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Secrets } from '../../ports/secrets.js';

export interface SecretsManagerOptions {
  region: string;
  /** @default `https://secretsmanager.<region>.amazonaws.com` */
  endpoint?: string;
  /** @default the SDK's default chain (the function's role in Lambda) */
  credentials?: AwsCredentialIdentityProvider;
}

/**
 * AWS Secrets Manager's `GetSecretValue` over its JSON protocol, signed with SigV4: the one
 * call Aegis makes, without a whole SDK client for it.
 */
export class SecretsManagerSecrets implements Secrets {
  readonly #url: URL;
  readonly #signer: SignatureV4;

  constructor(opts: SecretsManagerOptions) {
    this.#url = new URL(opts.endpoint ?? `https://secretsmanager.${opts.region}.amazonaws.com`);
    this.#signer = new SignatureV4({
      service: 'secretsmanager',
      region: opts.region,
      credentials: opts.credentials ?? fromNodeProviderChain(),
      sha256: Sha256,
    });
  }

  async json(secretArn: string): Promise<Record<string, unknown>> {
    const body = JSON.stringify({ SecretId: secretArn });
    const signed = await this.#signer.sign({
      method: 'POST',
      protocol: this.#url.protocol,
      hostname: this.#url.hostname,
      ...(this.#url.port && { port: Number(this.#url.port) }),
      path: this.#url.pathname,
      headers: {
        host: this.#url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'secretsmanager.GetSecretValue',
      },
      body,
    });
    const res = await fetch(this.#url, { method: 'POST', headers: signed.headers, body });
    const reply = (await res.json().catch(() => ({}))) as { SecretString?: unknown; __type?: unknown };
    if (!res.ok) {
      const type = typeof reply.__type === 'string' ? reply.__type.split('#').pop() : `HTTP ${res.status}`;
      throw new Error(`secret ${secretArn}: GetSecretValue failed (${type})`);
    }
    let value: unknown;
    try {
      value = typeof reply.SecretString === 'string' ? JSON.parse(reply.SecretString) : undefined;
    } catch {
      value = undefined;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`secret ${secretArn} is not a JSON object`);
    return value as Record<string, unknown>;
  }
}

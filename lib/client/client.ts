import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

export interface ClientOptions {
  baseUrl: string;
  /** local bearer token */
  token?: string;
  /** sign with SigV4 for API Gateway IAM auth (AWS mode) */
  sigv4?: { region: string; credentials: AwsCredentialIdentityProvider };
}

/** An error reply from the API, with its stable code and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Progress = (sent: number, total: number) => void;

/** The Aegis HTTP API, for the CLI and for scripts: bearer token locally, SigV4 on AWS. */
export class AegisClient {
  readonly #signer: SignatureV4 | undefined;

  constructor(private readonly opts: ClientOptions) {
    this.#signer = opts.sigv4 ? new SignatureV4({ service: 'execute-api', region: opts.sigv4.region, credentials: opts.sigv4.credentials, sha256: Sha256 }) : undefined;
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : `${this.opts.baseUrl}/`);
    const text = body === undefined ? undefined : JSON.stringify(body);
    let h: Record<string, string> = { accept: 'application/json', ...headers };
    if (text !== undefined) h['content-type'] = 'application/json';
    if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    if (this.#signer) {
      const query: Record<string, string> = {};
      url.searchParams.forEach((v, k) => (query[k] = v));
      const signed = await this.#signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: { ...h, host: url.host },
        ...(text !== undefined ? { body: text } : {}),
      });
      h = signed.headers as Record<string, string>;
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers: h, ...(text !== undefined ? { body: text } : {}) });
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.opts.baseUrl}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`);
    }
    const raw = await res.text();
    let parsed: unknown;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const err = (parsed as { error?: { code?: string; message?: string; field?: string; requestId?: string } } | undefined)?.error;
      const msg = err?.message ?? (parsed as { message?: string } | undefined)?.message ?? (raw.slice(0, 200) || res.statusText);
      throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, msg, err?.field, err?.requestId);
    }
    return parsed as T;
  }

  /**
   * Streams a file to an upload URL, reporting progress. Uses node:http(s) with a pipeline
   * rather than fetch: undici's fetch keeps a streamed request body in memory
   * (nodejs/undici#4058), which for a large artifact means the whole file.
   */
  async uploadFile(url: string, headers: Record<string, string>, file: string, onProgress?: Progress): Promise<void> {
    const { size } = await stat(file);
    let sent = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        sent += chunk.length;
        onProgress?.(sent, size);
        cb(null, chunk);
      },
    });
    const target = new URL(url);
    const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, { method: 'PUT', headers: { ...headers, 'content-length': String(size) } });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    try {
      await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), meter, request);
    } catch (e) {
      // The server may answer (and close) before reading everything, e.g. a refused size.
      if (!request.writableFinished && !(await Promise.race([response.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]))) {
        throw new ApiError(0, 'UPLOAD_FAILED', `upload failed: ${(e as Error).message}`);
      }
    }
    const res = await response;
    let raw = '';
    for await (const chunk of res) raw += chunk;
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      let message = raw.slice(0, 300);
      let code = `HTTP_${status}`;
      try {
        const e = (JSON.parse(raw) as { error?: { code: string; message: string } }).error;
        if (e) ({ code, message } = e);
      } catch {
        /* S3 answers in XML */
      }
      throw new ApiError(status, code, `upload failed: ${message}`);
    }
  }
}

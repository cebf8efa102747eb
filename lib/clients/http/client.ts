import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

/** Client certificate and CA (PEM text) for a server that requires mutual TLS. */
export interface ClientTls {
  cert?: string;
  key?: string;
  ca?: string;
}

export interface ClientOptions {
  baseUrl: string;
  tls?: ClientTls;
  /** local bearer token */
  token?: string;
  /** sign with SigV4 for API Gateway IAM auth (AWS mode) */
  sigv4?: { region: string; credentials: AwsCredentialIdentityProvider };
  /** one attempt's time limit, connection to last byte (default 30 s) */
  timeoutMs?: number;
  /**
   * Attempts after the first for a call that is safe to repeat (GET, HEAD, or a write carrying
   * an `Idempotency-Key`) when the server answers 429, 500, 502, 503 or 504, or cannot be
   * reached, or the attempt times out (default 3).
   */
  retries?: number;
  /** the first backoff; each retry doubles it, with full jitter, capped at 10 s (default 250 ms) */
  backoffMs?: number;
}

/** Statuses a repeatable call is retried on: throttled, or a server-side fault. */
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const MAX_BACKOFF_MS = 10_000;

/** An error reply from the API, with its stable code and the field at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly requestId?: string,
    /** the answer's `Retry-After`, in seconds, when it gave one */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Progress = (sent: number, total: number) => void;

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The Aegis HTTP API, for the CLI and for scripts: bearer token locally, SigV4 on AWS. */
export class AegisClient {
  readonly #signer: SignatureV4 | undefined;

  constructor(private readonly opts: ClientOptions) {
    this.#signer = opts.sigv4
      ? new SignatureV4({ service: 'execute-api', region: opts.sigv4.region, credentials: opts.sigv4.credentials, sha256: Sha256 })
      : undefined;
  }

  /** The server this client calls. */
  get baseUrl(): string {
    return this.opts.baseUrl.replace(/\/+$/, '');
  }

  /** True when calls are signed with SigV4 (API Gateway) rather than a bearer token. */
  get signsWithSigv4(): boolean {
    return this.#signer !== undefined;
  }

  /**
   * One API call. A call that is safe to repeat (GET/HEAD, or a write with an
   * `Idempotency-Key` header) is retried with exponential backoff and full jitter on 429/5xx
   * answers, network errors and timeouts, honouring `Retry-After`; anything else is tried once.
   */
  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const repeatable = !WRITES.has(method) || Object.keys(headers).some((k) => k.toLowerCase() === 'idempotency-key');
    const retries = repeatable ? (this.opts.retries ?? 3) : 0;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#attempt<T>(method, path, body, headers);
      } catch (e) {
        const retryable = e instanceof ApiError && (e.status === 0 || RETRY_STATUSES.has(e.status));
        if (!retryable || attempt >= retries) throw e;
        const backoff = Math.random() * Math.min(MAX_BACKOFF_MS, (this.opts.backoffMs ?? 250) * 2 ** attempt);
        const after = e.retryAfterSeconds === undefined ? 0 : Math.min(MAX_BACKOFF_MS, e.retryAfterSeconds * 1000);
        await new Promise((r) => setTimeout(r, Math.max(backoff, after)));
      }
    }
  }

  async #attempt<T>(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.opts.baseUrl.endsWith('/') ? this.opts.baseUrl : `${this.opts.baseUrl}/`);
    // A write without a body still sends `{}`: API Gateway validates POST bodies as JSON objects.
    const text = body === undefined ? (WRITES.has(method) ? '{}' : undefined) : JSON.stringify(body);
    let h: Record<string, string> = { accept: 'application/json', ...headers };
    if (text !== undefined) h['content-type'] = 'application/json';
    if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    if (this.#signer) {
      // every value of a repeated key is signed, as API Gateway recomputes them
      const query: Record<string, string | string[]> = {};
      for (const k of new Set(url.searchParams.keys())) {
        const all = url.searchParams.getAll(k);
        query[k] = all.length === 1 ? all[0]! : all;
      }
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
    if (text !== undefined) h['content-length'] = String(Buffer.byteLength(text));
    let status: number;
    let raw: string;
    let retryAfter: string | undefined;
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    try {
      ({ status, raw, retryAfter } = await this.#send(url, method, h, text, timeoutMs));
    } catch (e) {
      const timedOut = (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
      throw timedOut
        ? new ApiError(0, 'TIMEOUT', `${method} ${url.pathname}: no complete answer from ${this.opts.baseUrl} within ${timeoutMs / 1000} s`)
        : new ApiError(0, 'UNREACHABLE', `cannot reach ${this.opts.baseUrl}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      parsed = undefined;
    }
    if (status < 200 || status >= 300) {
      const err = (parsed as { error?: { code?: string; message?: string; field?: string; requestId?: string } } | undefined)?.error;
      const msg = err?.message ?? (parsed as { message?: string } | undefined)?.message ?? (raw.slice(0, 200) || `HTTP ${status}`);
      const seconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
      throw new ApiError(status, err?.code ?? `HTTP_${status}`, msg, err?.field, err?.requestId, seconds);
    }
    return parsed as T;
  }

  /** node:http(s) rather than fetch: the same transport for uploads, and client certificates for mTLS. */
  #request(url: URL, method: string, headers: Record<string, string>, signal?: AbortSignal) {
    const t = this.opts.tls;
    const tls =
      url.protocol === 'https:' && t ? { ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}), ...(t.ca ? { ca: t.ca } : {}) } : {};
    return (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers, ...tls, ...(signal ? { signal } : {}) });
  }

  async #send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<{ status: number; raw: string; retryAfter: string | undefined }> {
    const req = this.#request(url, method, headers, AbortSignal.timeout(timeoutMs));
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
    let raw = '';
    for await (const chunk of res) raw += chunk;
    const retryAfter = res.headers['retry-after'];
    return { status: res.statusCode ?? 0, raw, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
  }

  /**
   * A request to a URL the API handed out (upload, download). Presigned S3 URLs are plain
   * https; client certificates go only to our own server.
   */
  openUrl(url: string, method: 'GET' | 'PUT', headers: Record<string, string>): ClientRequest {
    const target = new URL(url);
    if (target.origin === new URL(this.opts.baseUrl).origin) return this.#request(target, method, headers);
    return (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, { method, headers });
  }

  /**
   * Streams a file to an upload URL, reporting progress. Uses node:http(s) with a pipeline
   * rather than fetch: undici's fetch keeps a streamed request body in memory
   * (nodejs/undici#4058), which for a large artifact means the whole file.
   */
  async uploadFile(
    url: string,
    headers: Record<string, string>,
    file: string,
    onProgress?: Progress,
    /** only these bytes of the file (a part of a multipart upload): from `start`, `size` of them */
    range?: { start: number; size: number },
  ): Promise<void> {
    const size = range ? range.size : (await stat(file)).size;
    let sent = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        sent += chunk.length;
        onProgress?.(sent, size);
        cb(null, chunk);
      },
    });
    const request = this.openUrl(url, 'PUT', { ...headers, 'content-length': String(size) });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    // whether an answer came (a lost connection is reported below, where the answer is read)
    const answered = response.then(
      () => true,
      () => false,
    );
    try {
      const body = createReadStream(file, {
        highWaterMark: 1024 * 1024,
        ...(range && { start: range.start, end: range.start + range.size - 1 }),
      });
      await pipeline(body, meter, request);
    } catch (e) {
      // The server may answer (and close) before reading everything, e.g. a refused size.
      if (!request.writableFinished && !(await Promise.race([answered, new Promise((r) => setTimeout(() => r(false), 1000))]))) {
        throw new ApiError(0, 'UPLOAD_FAILED', `upload failed: ${(e as Error).message}`);
      }
    }
    let raw = '';
    let status: number;
    try {
      const res = await response;
      for await (const chunk of res) raw += chunk;
      status = res.statusCode ?? 0;
    } catch (e) {
      // the connection was lost before a whole answer came: a network failure, as above
      throw new ApiError(0, 'UPLOAD_FAILED', `upload failed: ${(e as Error).message}`);
    }
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

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
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

const WRITES = new Set(['POST', 'PUT', 'PATCH']);

/** The Aegis HTTP API, for the CLI and for scripts: bearer token locally, SigV4 on AWS. */
export class AegisClient {
  readonly #signer: SignatureV4 | undefined;

  constructor(private readonly opts: ClientOptions) {
    this.#signer = opts.sigv4
      ? new SignatureV4({ service: 'execute-api', region: opts.sigv4.region, credentials: opts.sigv4.credentials, sha256: Sha256 })
      : undefined;
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
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
    try {
      ({ status, raw } = await this.#send(url, method, h, text));
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.opts.baseUrl}: ${(e as Error).message}`);
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
      throw new ApiError(status, err?.code ?? `HTTP_${status}`, msg, err?.field, err?.requestId);
    }
    return parsed as T;
  }

  /** node:http(s) rather than fetch: the same transport for uploads, and client certificates for mTLS. */
  #request(url: URL, method: string, headers: Record<string, string>) {
    const t = this.opts.tls;
    const tls =
      url.protocol === 'https:' && t ? { ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}), ...(t.ca ? { ca: t.ca } : {}) } : {};
    return (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers, ...tls });
  }

  async #send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<{ status: number; raw: string }> {
    const req = this.#request(url, method, headers);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
    let raw = '';
    for await (const chunk of res) raw += chunk;
    return { status: res.statusCode ?? 0, raw };
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
    // presigned S3 URLs are plain https; client certificates go only to our own server
    const request =
      target.origin === new URL(this.opts.baseUrl).origin
        ? this.#request(target, 'PUT', { ...headers, 'content-length': String(size) })
        : (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, {
            method: 'PUT',
            headers: { ...headers, 'content-length': String(size) },
          });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      request.once('response', resolve);
      request.once('error', reject);
    });
    try {
      await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), meter, request);
    } catch (e) {
      // The server may answer (and close) before reading everything, e.g. a refused size.
      if (
        !request.writableFinished &&
        !(await Promise.race([response.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]))
      ) {
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

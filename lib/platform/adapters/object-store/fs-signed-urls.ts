/**
 * The filesystem store's own signed URLs, which the local server checks: uploads
 * (`PUT /v1/uploads/<key>`, whole objects and multipart parts) and downloads
 * (`GET /v1/downloads/<key>`), each an HMAC over its method, key, bounds and expiry. Each kind
 * signs a distinct first line, so no URL's signature passes as another kind's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DownloadUrlCheck, UploadUrlCheck, UploadUrlOptions } from '../../ports/object-store.js';

const HEX64 = /^[0-9a-f]{64}$/;
const EXPIRES = /^\d{1,12}$/;
const SIZE = /^\d{1,16}$/;

/**
 * The `expires` of a URL valid for at least `seconds` from now: whole seconds, rounded up (rounded
 * down, a one-second URL made late in a second lived only for the rest of that second).
 */
const expiresAfter = (seconds: number): string => String(Math.ceil((Date.now() + seconds * 1000) / 1000));

export class FsSignedUrls {
  readonly #baseUrl?: string;
  readonly #secret?: Buffer;

  constructor(baseUrl: string | undefined, secret: Buffer | string | undefined) {
    if (baseUrl !== undefined) this.#baseUrl = baseUrl.replace(/\/+$/, '');
    if (secret !== undefined) this.#secret = Buffer.from(secret);
  }

  /** Throws unless the store was given what it needs to sign URLs. */
  assertCanSign(what: 'upload' | 'download'): void {
    if (!this.#baseUrl || !this.#secret) throw new Error(`FsObjectStore needs uploadBaseUrl and uploadSecret to create ${what} URLs`);
  }

  upload(key: string, opts: UploadUrlOptions): string {
    this.assertCanSign('upload');
    const expires = expiresAfter(opts.expiresInSeconds);
    const query = new URLSearchParams({ expires, sig: this.#signPut(key, expires, opts.contentLength?.toString() ?? '', opts.sha256) });
    if (opts.contentLength !== undefined) query.set('size', String(opts.contentLength));
    if (opts.sha256 !== undefined) query.set('sha256', opts.sha256);
    return `${this.#baseUrl}/v1/uploads/${key}?${query}`;
  }

  part(key: string, p: { partNumber: number; contentLength: number; sha256?: string }, expiresInSeconds: number): string {
    this.assertCanSign('upload');
    const [part, expires, size] = [String(p.partNumber), expiresAfter(expiresInSeconds), String(p.contentLength)];
    const query = new URLSearchParams({ part, expires, size });
    if (p.sha256 !== undefined) query.set('sha256', p.sha256);
    query.set('sig', this.#signPart(key, part, expires, size, p.sha256 ?? ''));
    return `${this.#baseUrl}/v1/uploads/${key}?${query}`;
  }

  download(key: string, versionId: string, expiresInSeconds: number): string {
    this.assertCanSign('download');
    const expires = expiresAfter(expiresInSeconds);
    const query = new URLSearchParams({ version: versionId, expires, sig: this.#signGet(key, versionId, expires) });
    return `${this.#baseUrl}/v1/downloads/${key}?${query}`;
  }

  verifyDownload(key: string, query: URLSearchParams, now: Date): DownloadUrlCheck {
    this.#needSecret('download');
    const [versionId, expires, sig] = [query.get('version') ?? '', query.get('expires') ?? '', query.get('sig') ?? ''];
    if (!EXPIRES.test(expires) || !HEX64.test(sig) || versionId === '') return { ok: false, reason: 'bad-signature' };
    if (!this.#matches(sig, this.#signGet(key, versionId, expires))) return { ok: false, reason: 'bad-signature' };
    if (now.getTime() > Number(expires) * 1000) return { ok: false, reason: 'expired' };
    return { ok: true, versionId };
  }

  verifyUpload(key: string, query: URLSearchParams, now: Date): UploadUrlCheck {
    this.#needSecret('upload');
    const [part, size, sha256] = [query.get('part'), query.get('size'), query.get('sha256')];
    const [expires, sig] = [query.get('expires') ?? '', query.get('sig') ?? ''];
    if (
      (part !== null && !/^\d{1,5}$/.test(part)) ||
      !EXPIRES.test(expires) ||
      (size !== null && !SIZE.test(size)) ||
      (part !== null && size === null) ||
      (sha256 !== null && !HEX64.test(sha256)) ||
      !HEX64.test(sig)
    ) {
      return { ok: false, reason: 'bad-signature' };
    }
    const expected =
      part === null
        ? this.#signPut(key, expires, size ?? '', sha256 ?? undefined)
        : this.#signPart(key, part, expires, size ?? '', sha256 ?? '');
    if (!this.#matches(sig, expected)) return { ok: false, reason: 'bad-signature' };
    if (now.getTime() > Number(expires) * 1000) return { ok: false, reason: 'expired' };
    return {
      ok: true,
      ...(part !== null && { partNumber: Number(part) }),
      ...(size !== null && { contentLength: Number(size) }),
      ...(sha256 !== null && { sha256 }),
    };
  }

  #needSecret(what: string): void {
    if (!this.#secret) throw new Error(`FsObjectStore needs uploadSecret to verify ${what} URLs`);
  }

  #matches(sig: string, expected: string): boolean {
    return timingSafeEqual(Buffer.from(sig, 'hex'), Buffer.from(expected, 'hex'));
  }

  #hmac(message: string): string {
    return createHmac('sha256', this.#secret!).update(message).digest('hex');
  }

  // The sha256 line only when the URL binds one: URLs issued before it existed keep verifying.
  #signPut(key: string, expires: string, contentLength: string, sha256?: string): string {
    return this.#hmac(`PUT\n${key}\n${expires}\n${contentLength}${sha256 === undefined ? '' : `\n${sha256}`}`);
  }

  #signPart(key: string, part: string, expires: string, size: string, sha256: string): string {
    return this.#hmac(`PUT-PART\n${key}\n${part}\n${expires}\n${size}\n${sha256}`);
  }

  #signGet(key: string, versionId: string, expires: string): string {
    return this.#hmac(`GET\n${key}\n${versionId}\n${expires}`);
  }
}

/**
 * The object-store port's contract that every adapter enforces the same way: the key
 * alphabet and limits, option checks, and the metering of a body's size and sha256 on its
 * way to storage. Mode-neutral (no filesystem, no S3), shared by the fs and S3 stores.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { AegisError } from '../../../kernel/errors.js';
import { MULTIPART_LIMITS, type PutOptions, type UploadedPart, type UploadUrlOptions } from '../../ports/object-store.js';

const KEY_SEGMENT = /^[A-Za-z0-9._=-]+$/;
// Directory names are limited to 255 bytes (NAME_MAX), and each key segment is one directory.
const MAX_SEGMENT = 255;
const MAX_KEY = 1024;
// Presigned S3 URLs cannot outlive 7 days; the local store keeps the same limit.
const MAX_UPLOAD_URL_SECONDS = 7 * 24 * 3600;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Throws VALIDATION_FAILED (field `key`) unless `key` is a safe `/`-separated path. */
export function assertObjectKey(key: string): void {
  const bad = (why: string): never => {
    throw new AegisError('VALIDATION_FAILED', `invalid object key: ${why}`, { field: 'key' });
  };
  if (typeof key !== 'string' || key.length === 0) bad('empty');
  if (key.length > MAX_KEY) bad(`longer than ${MAX_KEY} characters`);
  for (const seg of key.split('/')) {
    if (seg === '') bad('empty segment');
    if (seg === '.' || seg === '..') bad(`segment "${seg}"`);
    if (seg.length > MAX_SEGMENT) bad(`segment longer than ${MAX_SEGMENT} characters`);
    if (!KEY_SEGMENT.test(seg)) bad('only A-Z a-z 0-9 . _ = - are allowed in a segment');
  }
}

/**
 * Counts and hashes bytes on their way through; fails as soon as the size cannot match, and
 * at the end when the sha256 is not the expected one: the stream then errors instead of
 * ending, so a store that commits only once it has ended writes nothing.
 */
export class HashMeter extends Transform {
  readonly #hash = createHash('sha256');
  // Not `size`/`length`: lib-storage reads those to guess a body's length up front.
  bytesSeen = 0;
  sha256 = '';

  constructor(
    private readonly expectedSize?: number,
    private readonly expectedSha256?: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytesSeen += chunk.length;
    if (this.expectedSize !== undefined && this.bytesSeen > this.expectedSize) return done(this.#mismatch());
    this.#hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.expectedSize !== undefined && this.bytesSeen !== this.expectedSize) return done(this.#mismatch());
    this.sha256 = this.#hash.digest('hex');
    if (this.expectedSha256 !== undefined && this.sha256 !== this.expectedSha256)
      return done(sha256Mismatch(this.expectedSha256, this.sha256));
    done();
  }

  #mismatch(): AegisError {
    return sizeMismatch(this.expectedSize!);
  }
}

const sizeMismatch = (expectedSize: number) =>
  new AegisError('SIZE_MISMATCH', `body is not the expected ${expectedSize} bytes`, { field: 'size', details: { expectedSize } });
const sha256Mismatch = (expected: string, actual: string) =>
  new AegisError('SHA256_MISMATCH', `body has sha256 ${actual}, not the expected ${expected}`, {
    field: 'sha256',
    details: { expected, actual },
  });

/** The size and sha256 of a body held in memory, checked as {@link HashMeter} checks a stream (same errors). */
export function meterBytes(bytes: Uint8Array, expectedSize?: number, expectedSha256?: string): { size: number; sha256: string } {
  if (expectedSize !== undefined && bytes.length !== expectedSize) throw sizeMismatch(expectedSize);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (expectedSha256 !== undefined && sha256 !== expectedSha256) throw sha256Mismatch(expectedSha256, sha256);
  return { size: bytes.length, sha256 };
}

export function toReadable(body: Readable | Uint8Array | string): Readable {
  // Wrapped in an array: Readable.from iterates a bare Uint8Array byte by byte.
  if (typeof body === 'string') return Readable.from([Buffer.from(body)]);
  if (body instanceof Uint8Array) return Readable.from([body]);
  return body;
}

/** Prefixes follow the key alphabet but may end anywhere, even mid-segment. */
export function assertListPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9._=/-]*$/.test(prefix)) throw new AegisError('VALIDATION_FAILED', 'invalid prefix', { field: 'prefix' });
}

export function assertPutOptions(opts: PutOptions, now: Date): void {
  if (opts.expectedSize !== undefined && !(Number.isSafeInteger(opts.expectedSize) && opts.expectedSize >= 0)) {
    throw new AegisError('VALIDATION_FAILED', 'expectedSize must be a non-negative integer', { field: 'expectedSize' });
  }
  if (opts.expectedSha256 !== undefined && !SHA256_HEX.test(opts.expectedSha256)) {
    throw new AegisError('VALIDATION_FAILED', 'expectedSha256 must be 64 lowercase hex characters', { field: 'expectedSha256' });
  }
  if (opts.retainUntil !== undefined) assertRetainUntil(opts.retainUntil, now);
}

export function assertRetainUntil(until: Date, now: Date): void {
  if (!(until instanceof Date) || Number.isNaN(until.getTime()) || until <= now) {
    throw new AegisError('VALIDATION_FAILED', 'retainUntil must be a date in the future', { field: 'retainUntil' });
  }
}

export function assertUploadUrlOptions(opts: UploadUrlOptions): void {
  if (!Number.isSafeInteger(opts.expiresInSeconds) || opts.expiresInSeconds < 1 || opts.expiresInSeconds > MAX_UPLOAD_URL_SECONDS) {
    throw new AegisError('VALIDATION_FAILED', `expiresInSeconds must be an integer from 1 to ${MAX_UPLOAD_URL_SECONDS}`, {
      field: 'expiresInSeconds',
    });
  }
  if (opts.contentLength !== undefined && !(Number.isSafeInteger(opts.contentLength) && opts.contentLength >= 0)) {
    throw new AegisError('VALIDATION_FAILED', 'contentLength must be a non-negative integer', { field: 'contentLength' });
  }
  if (opts.sha256 !== undefined && !SHA256_HEX.test(opts.sha256)) {
    throw new AegisError('VALIDATION_FAILED', 'sha256 must be 64 lowercase hex characters', { field: 'sha256' });
  }
}

export const noMultipart = (key: string): AegisError =>
  new AegisError('OBJECT_NOT_FOUND', `no multipart upload of ${key} is in progress`, { field: 'key' });

/** Throws VALIDATION_FAILED (field `partNumber`) unless `n` is a part number S3 would take. */
export function assertPartNumber(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > MULTIPART_LIMITS.maxParts)
    throw new AegisError('VALIDATION_FAILED', `partNumber must be an integer from 1 to ${MULTIPART_LIMITS.maxParts}`, {
      field: 'partNumber',
    });
}

/** Throws VALIDATION_FAILED (field `partBytes`) unless `n` is a part size S3 would take. */
export function assertPartBytes(n: number): void {
  if (!Number.isSafeInteger(n) || n < MULTIPART_LIMITS.minPartBytes || n > MULTIPART_LIMITS.maxPartBytes)
    throw new AegisError(
      'VALIDATION_FAILED',
      `partBytes must be an integer from ${MULTIPART_LIMITS.minPartBytes} to ${MULTIPART_LIMITS.maxPartBytes}`,
      { field: 'partBytes' },
    );
}

/** A part URL's request: its number, and its size (at most {@link MULTIPART_LIMITS.maxPartBytes}) and sha256 as a single upload's. */
export function assertPartUrlRequest(part: { partNumber: number; contentLength: number; sha256?: string }, expiresInSeconds: number): void {
  const { partNumber, contentLength, sha256 } = part;
  assertPartNumber(partNumber);
  assertUploadUrlOptions({ expiresInSeconds, contentLength, ...(sha256 !== undefined && { sha256 }) });
  if (contentLength > MULTIPART_LIMITS.maxPartBytes)
    throw new AegisError('VALIDATION_FAILED', `a part is at most ${MULTIPART_LIMITS.maxPartBytes} bytes`, { field: 'contentLength' });
}

/**
 * The parts 1..partCount of a multipart upload, in order, once all are there, every one but the
 * last at least the minimum part size, adding up to `expectedSize`: MULTIPART_INCOMPLETE naming the
 * first missing part (`details.missing`: up to 100 of them), VALIDATION_FAILED for a short one, SIZE_MISMATCH otherwise.
 */
export function assertPartsComplete(parts: readonly UploadedPart[], opts: { partCount: number; expectedSize: number }): UploadedPart[] {
  assertPartNumber(opts.partCount);
  const have = new Map(parts.map((p) => [p.partNumber, p]));
  const used: UploadedPart[] = [];
  const missing: number[] = [];
  for (let n = 1; n <= opts.partCount; n++) {
    const part = have.get(n);
    if (part) used.push(part);
    else missing.push(n);
  }
  if (missing.length)
    throw new AegisError(
      'MULTIPART_INCOMPLETE',
      `${missing.length} of ${opts.partCount} parts have not been received (first: ${missing[0]})`,
      {
        field: 'partNumber',
        details: { missing: missing.slice(0, 100) },
      },
    );
  const small = used.find((p) => p.partNumber < opts.partCount && p.size < MULTIPART_LIMITS.minPartBytes);
  if (small)
    throw new AegisError(
      'VALIDATION_FAILED',
      `part ${small.partNumber} has ${small.size} bytes; all but the last need at least ${MULTIPART_LIMITS.minPartBytes}`,
      { field: 'partNumber' },
    );
  const total = used.reduce((sum, p) => sum + p.size, 0);
  if (total !== opts.expectedSize)
    throw new AegisError('SIZE_MISMATCH', `the parts add up to ${total} bytes, not ${opts.expectedSize}`, { field: 'size' });
  return used;
}

/** The object store port (versioned, Object-Lock retention). Adapters: `adapters/object-store/{fs,s3}.ts`; contract suite: `test/contracts/object-store.contract.ts`. */
import type { Readable } from 'node:stream';

export interface PutOptions {
  /** Object-Lock-style retention: until then the version can be neither overwritten nor deleted. */
  retainUntil?: Date;
  contentType?: string;
  /** Refuse the write when the streamed bytes do not have this size (bytes). */
  expectedSize?: number;
  /** Refuse the write (SHA256_MISMATCH, field `sha256`) when the streamed bytes do not have this hex sha256. */
  expectedSha256?: string;
  /**
   * Mark the version as a pending upload: bytes no registration has claimed yet, which expire
   * (S3: the `aegis-upload=pending` tag a lifecycle rule expires). Upload URLs always set it.
   */
  pendingUpload?: boolean;
}

export interface ObjectInfo {
  key: string;
  versionId: string;
  size: number;
  /** hex sha256 of the bytes, when the store knows it */
  sha256?: string;
  /**
   * hex sha256 the store itself computed over the bytes while it received them, kept with the
   * version where no other writer can change it: what registration may trust instead of reading
   * the bytes again. The filesystem store records it for every version it writes. S3 does not
   * report one: its `sha256` is a tag other writers could set, and its SHA-256 checksums cannot
   * be shown to be enforced here (moto_server accepts bytes that differ from a signed checksum).
   */
  receivedSha256?: string;
  retainUntil?: Date;
  lastModified: Date;
  /** true while the version is a pending upload (see {@link PutOptions.pendingUpload}) */
  pendingUpload?: boolean;
}

/**
 * Write-only access to a store: new objects, nothing read, listed, tagged or deleted. What a
 * writer that may only `s3:PutObject` (the serving function's drift sink) can promise; every
 * {@link ObjectStore} is one.
 *
 * @example
 * await writer.put('serving-inputs/churn/prod/2026-11-30/07/20261130T070000Z-ab12.jsonl', lines, { contentType: 'application/x-ndjson' });
 */
export interface ObjectWriter {
  /** Writes a new object under `key` (VALIDATION_FAILED naming `key` when it is not a safe key). */
  put(key: string, body: Uint8Array | string, opts?: Pick<PutOptions, 'contentType'>): Promise<unknown>;
}

/**
 * A versioned object store with Object-Lock-style retention. Keys are `/`-separated paths
 * of safe segments. Bodies stream: no adapter holds a whole object in memory.
 *
 * @example
 * const { versionId } = await store.put('artifacts/m/1/artifact', createReadStream(file));
 * const body = await store.get('artifacts/m/1/artifact', { versionId });
 */
export interface ObjectStore {
  /** Writes a new version; under retention the key cannot be overwritten (RETENTION_LOCKED). */
  put(key: string, body: Readable | Uint8Array | string, opts?: PutOptions): Promise<ObjectInfo>;
  /**
   * Streams a version (the latest when no versionId), from byte `start` on when given (a
   * resumed download); OBJECT_NOT_FOUND when absent.
   */
  get(key: string, opts?: { versionId?: string; start?: number }): Promise<Readable>;
  /** Metadata of a version, or undefined when absent. */
  head(key: string, opts?: { versionId?: string }): Promise<ObjectInfo | undefined>;
  /** Deletes a version; RETENTION_LOCKED while it is under retention. */
  delete(key: string, opts?: { versionId?: string }): Promise<void>;
  /** Sets (or extends) retention on one version; retention can never be shortened. */
  retain(key: string, versionId: string, until: Date): Promise<void>;
  /** Latest versions of the keys under a prefix, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * A registration claiming one version's bytes: retains it until `retainUntil` (as {@link retain})
   * and clears its pending-upload mark, so nothing expires it. In one write where the store can
   * (the filesystem's metadata); S3 makes both calls at once. Idempotent.
   */
  claimUpload(key: string, versionId: string, retainUntil: Date): Promise<void>;
  /**
   * A URL a client can PUT the bytes of `key` to, without going through the API, sending
   * `headers` with it. What it writes is a pending upload. With `sha256` (hex) the store refuses
   * other bytes: the filesystem store checks them as they arrive; S3 checks the SHA-256
   * checksum the URL signs (`x-amz-checksum-sha256`, one of `headers`).
   */
  createUploadUrl(key: string, opts: UploadUrlOptions): Promise<{ url: string; headers: Record<string, string> }>;
  /**
   * Starts the multipart upload of `key`, or finds the one already started (a resumed upload):
   * its parts are PUT to {@link createPartUploadUrls} URLs, in any order and as often as
   * needed, then {@link completeMultipartUpload} joins them into one pending-upload version.
   * Parts are numbered from 1 (at most {@link MULTIPART_LIMITS.maxParts}); every part but the
   * last has at least {@link MULTIPART_LIMITS.minPartBytes} bytes (S3's rule, kept by both stores).
   * `partBytes`, the size of every part but the last, lets the filesystem store write each part
   * straight into one file at its offset (S3 needs none); a resumed upload keeps the part size it
   * was started with.
   */
  startMultipartUpload(key: string, opts?: { partBytes?: number }): Promise<void>;
  /**
   * URLs a client can PUT parts of `key`'s started multipart upload to, sending `headers`:
   * each takes exactly `contentLength` bytes, and with `sha256` (hex) only those bytes.
   * OBJECT_NOT_FOUND when no multipart upload of `key` is in progress.
   */
  createPartUploadUrls(
    key: string,
    parts: readonly { partNumber: number; contentLength: number; sha256?: string }[],
    opts: { expiresInSeconds: number },
  ): Promise<{ partNumber: number; url: string; headers: Record<string, string> }[]>;
  /** The parts received so far, by part number (what a resumed upload need not send again); undefined when none is in progress. */
  listUploadedParts(key: string): Promise<UploadedPart[] | undefined>;
  /**
   * Joins parts 1..`partCount` into a new pending-upload version of `key` of `expectedSize`
   * bytes and ends the multipart upload. MULTIPART_INCOMPLETE (field `partNumber`) when a part
   * is missing; SIZE_MISMATCH when the parts do not add up.
   */
  completeMultipartUpload(key: string, opts: { partCount: number; expectedSize: number }): Promise<ObjectInfo>;
  /** Drops a multipart upload in progress and its parts (nothing when there is none). */
  abortMultipartUpload(key: string): Promise<void>;
  /**
   * A URL a client can GET exactly this version of `key` from (byte ranges allowed), without
   * going through the API, until it expires: S3 presigns a GET pinned to the version id.
   */
  createDownloadUrl(key: string, opts: { versionId: string; expiresInSeconds: number }): Promise<{ url: string }>;
  /**
   * The bucket's Object Lock configuration, for the production startup checks (S3 only:
   * a store without it cannot show its retention is enforced by the storage itself).
   */
  describeObjectLock?(): Promise<ObjectLockStatus>;
}

/** S3's multipart rules, which both stores keep so a client works the same against either. */
export const MULTIPART_LIMITS = { maxParts: 10_000, minPartBytes: 5 * 1024 * 1024, maxPartBytes: 5 * 1024 ** 3 } as const;

/** One part a multipart upload has received. */
export interface UploadedPart {
  partNumber: number;
  size: number;
  /** hex sha256 of the part, when the store knows it */
  sha256?: string;
}

/** What an upload URL binds: its lifetime, and optionally the size and hex sha256 of the bytes it accepts. */
export interface UploadUrlOptions {
  expiresInSeconds: number;
  contentLength?: number;
  sha256?: string;
}

/** What checking an upload URL's query found: its signed size and sha256 (and part, for a part's URL), or why it is refused. */
export type UploadUrlCheck =
  { ok: true; contentLength?: number; sha256?: string; partNumber?: number } | { ok: false; reason: 'expired' | 'bad-signature' };

/**
 * Where the local server's `PUT /v1/uploads/<key>` writes: an object store that takes uploads
 * at URLs it signs itself (the filesystem store). S3 takes them at its presigned URLs, so a
 * container over S3 has none. The composition hands it over; nothing asks a store what it is.
 *
 * @example
 * const check = sink.verifyUploadUrl(key, url.searchParams);
 * if (check.ok) await sink.put(key, req, { pendingUpload: true, expectedSize: check.contentLength, expectedSha256: check.sha256 });
 */
export interface UploadSink {
  /** Checks the query of an upload URL made by the store's `createUploadUrl` for `key`. */
  verifyUploadUrl(key: string, query: URLSearchParams): UploadUrlCheck;
  put(key: string, body: Readable, opts: PutOptions): Promise<ObjectInfo>;
  /** Stores one part of `key`'s multipart upload (replacing an earlier copy of it); OBJECT_NOT_FOUND when none is in progress. */
  putPart(
    key: string,
    partNumber: number,
    body: Readable,
    opts: Pick<PutOptions, 'expectedSize' | 'expectedSha256'>,
  ): Promise<UploadedPart>;
}

/** What checking a download URL's query found: the version it names, or why it is refused. */
export type DownloadUrlCheck = { ok: true; versionId: string } | { ok: false; reason: 'expired' | 'bad-signature' };

/**
 * Where the local server's `GET /v1/downloads/<key>` reads: a store that serves downloads at
 * URLs it signs itself (the filesystem store). S3 serves its presigned URLs itself.
 *
 * @example
 * const check = source.verifyDownloadUrl(key, url.searchParams);
 * if (check.ok) (await source.get(key, { versionId: check.versionId })).pipe(res);
 */
export interface DownloadSource {
  /** Checks the query of a download URL made by the store's `createDownloadUrl` for `key`. */
  verifyDownloadUrl(key: string, query: URLSearchParams): DownloadUrlCheck;
  get(key: string, opts: { versionId: string; start?: number }): Promise<Readable>;
  head(key: string, opts: { versionId: string }): Promise<ObjectInfo | undefined>;
}

/** A bucket's Object Lock: on or off, and the retention new versions get by default. */
export interface ObjectLockStatus {
  enabled: boolean;
  defaultRetention?: { mode: string; days?: number; years?: number };
}

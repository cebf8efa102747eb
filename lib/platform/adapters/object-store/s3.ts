import {
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectRetentionCommand,
  PutObjectTaggingCommand,
  S3Client,
  paginateListObjectsV2,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { AegisError } from '../../../kernel/errors.js';
import type { ObjectInfo, ObjectLockStatus, ObjectStore, PutOptions, UploadedPart, UploadUrlOptions } from '../../ports/object-store.js';
import { PENDING_UPLOAD_TAG } from './pending-upload-tag.js';
import { errorName, inEffect, isAccessDenied, isNotFound, locked, notFound, toAegis } from './s3-errors.js';
import { clearPendingUpload, presignDownload, presignUpload, streamUpload } from './s3-uploads.js';
import { abortMultipart, completeMultipart, listParts, presignParts, readObjectLock, startMultipart } from './s3-multipart.js';
import { assertListPrefix, assertObjectKey, assertPutOptions, assertRetainUntil, assertUploadUrlOptions } from './rules.js';

export interface S3ObjectStoreOptions {
  /** A bucket created with Object Lock enabled (which implies versioning). */
  bucket: string;
  /** @default new S3Client({}) */
  client?: S3Client;
  /** Mode for retention this store sets. @default 'COMPLIANCE' */
  retentionMode?: 'COMPLIANCE' | 'GOVERNANCE';
}

/**
 * An S3 client for the stores. `forcePathStyle` addresses buckets as `endpoint/bucket/key`,
 * which S3-compatible endpoints and emulators (set with `AWS_ENDPOINT_URL_S3`) need.
 */
export const s3Client = (opts: { forcePathStyle?: boolean } = {}): S3Client =>
  new S3Client({ forcePathStyle: opts.forcePathStyle ?? false });

/** Tag holding the hex sha256 of a version's bytes (see `put` for why a tag). */
const SHA256_TAG = 'sha256';
const LIST_HEAD_CONCURRENCY = 8;

/**
 * The AWS {@link ObjectStore}: a versioned S3 bucket with Object Lock. S3 enforces retention
 * on delete and on shortening; this adapter additionally refuses to put a new version over
 * a locked one, which S3 would allow, because the port promises locked keys stay as written.
 *
 * @example
 * const store = new S3ObjectStore({ bucket: 'aegis-artifacts-prod' });
 * const { versionId, sha256 } = await store.put(key, createReadStream(file), { retainUntil });
 */
export class S3ObjectStore implements ObjectStore {
  readonly #bucket: string;
  readonly #client: S3Client;
  readonly #mode: 'COMPLIANCE' | 'GOVERNANCE';

  constructor(opts: S3ObjectStoreOptions) {
    if (!opts.bucket) throw new Error('S3ObjectStore needs a bucket');
    this.#bucket = opts.bucket;
    this.#client = opts.client ?? new S3Client({});
    this.#mode = opts.retentionMode ?? 'COMPLIANCE';
  }

  /**
   * Streams the body through a hashing meter into a (multipart when large) upload. The
   * sha256 is only known once the last byte has passed, after S3 has already received the
   * object's metadata, so it is stored as a version tag instead: tagging does not create a
   * new version, copying the object to add metadata would.
   */
  async put(key: string, body: Readable | Uint8Array | string, opts: PutOptions = {}): Promise<ObjectInfo> {
    assertObjectKey(key);
    assertPutOptions(opts, new Date());
    await this.#assertWritable(key);
    const { versionId, sha256 } = await streamUpload(this.#client, { bucket: this.#bucket, key, mode: this.#mode }, body, opts);
    try {
      await this.#client.send(
        new PutObjectTaggingCommand({
          Bucket: this.#bucket,
          Key: key,
          VersionId: versionId,
          Tagging: {
            TagSet: [
              { Key: SHA256_TAG, Value: sha256 },
              ...(opts.pendingUpload ? [{ Key: PENDING_UPLOAD_TAG.key, Value: PENDING_UPLOAD_TAG.value }] : []),
            ],
          },
        }),
      );
      let head = await this.#head(key, versionId);
      if (!head) throw new AegisError('INTERNAL', `version ${versionId} of ${key} vanished right after upload`);
      if (opts.retainUntil && !head.ObjectLockRetainUntilDate) {
        // S3 applies lock headers on CreateMultipartUpload; emulators may drop them, so make sure.
        await this.#putRetention(key, versionId, opts.retainUntil, this.#mode);
        head = { ...head, ObjectLockRetainUntilDate: opts.retainUntil };
      }
      return { ...toInfo(key, head), sha256, ...(opts.pendingUpload && { pendingUpload: true }) };
    } catch (e) {
      throw toAegis(e, 'put');
    }
  }

  async get(key: string, opts: { versionId?: string; start?: number } = {}): Promise<Readable> {
    assertObjectKey(key);
    try {
      const range = opts.start ? { Range: `bytes=${opts.start}-` } : {};
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key, VersionId: opts.versionId, ...range }));
      // In Node the SDK body is an http.IncomingMessage (a Readable) mixed with SDK helpers.
      return out.Body as Readable;
    } catch (e) {
      // 405 is the answer for a delete marker left by a client other than this store.
      if (isNotFound(e, opts.versionId) || errorName(e) === 'MethodNotAllowed') throw notFound(key, opts.versionId);
      throw toAegis(e, 'get');
    }
  }

  async head(key: string, opts: { versionId?: string } = {}): Promise<ObjectInfo | undefined> {
    assertObjectKey(key);
    return this.#info(key, opts.versionId);
  }

  async delete(key: string, opts: { versionId?: string } = {}): Promise<void> {
    assertObjectKey(key);
    // Head first: S3 answers 204 for a version that does not exist, and a delete without
    // a version id would only add a delete marker.
    const head = await this.#head(key, opts.versionId);
    if (!head?.VersionId) throw notFound(key, opts.versionId);
    if (inEffect(head.ObjectLockRetainUntilDate)) throw locked(key, head.ObjectLockRetainUntilDate);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key, VersionId: head.VersionId }));
    } catch (e) {
      if (isAccessDenied(e) && (head.ObjectLockMode || head.ObjectLockLegalHoldStatus === 'ON'))
        throw locked(key, head.ObjectLockRetainUntilDate);
      if (isNotFound(e, head.VersionId)) throw notFound(key, head.VersionId);
      throw toAegis(e, 'delete');
    }
  }

  async retain(key: string, versionId: string, until: Date): Promise<void> {
    assertObjectKey(key);
    // HeadObject rather than GetObjectRetention: it carries the same fields and works everywhere.
    const head = await this.#head(key, versionId);
    if (!head) throw notFound(key, versionId);
    const current = head.ObjectLockRetainUntilDate;
    if (inEffect(current) && until < current) throw locked(key, current);
    assertRetainUntil(until, new Date());
    // COMPLIANCE cannot be turned into GOVERNANCE, so keep whatever mode the version has.
    await this.#putRetention(key, versionId, until, head.ObjectLockMode ?? this.#mode);
  }

  async claimUpload(key: string, versionId: string, retainUntil: Date): Promise<void> {
    assertObjectKey(key);
    await Promise.all([
      this.retain(key, versionId, retainUntil),
      clearPendingUpload(this.#client, { bucket: this.#bucket, key, versionId }),
    ]);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertListPrefix(prefix);
    try {
      // ListObjectsV2 returns keys in UTF-8 byte order, which is key order for our charset.
      for await (const page of paginateListObjectsV2({ client: this.#client }, { Bucket: this.#bucket, Prefix: prefix })) {
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
        for (let i = 0; i < keys.length; i += LIST_HEAD_CONCURRENCY) {
          const infos = await Promise.all(keys.slice(i, i + LIST_HEAD_CONCURRENCY).map((k) => this.#info(k)));
          for (const info of infos) if (info) yield info; // deleted between list and head
        }
      }
    } catch (e) {
      throw toAegis(e, 'list');
    }
  }

  async createUploadUrl(key: string, opts: UploadUrlOptions): Promise<{ url: string; headers: Record<string, string> }> {
    assertObjectKey(key);
    assertUploadUrlOptions(opts);
    // The URL bypasses put(), so the overwrite rule is applied when the URL is issued.
    await this.#assertWritable(key);
    return presignUpload(this.#client, this.#bucket, key, opts);
  }

  async startMultipartUpload(key: string): Promise<void> {
    assertObjectKey(key);
    // The parts bypass put(), so the overwrite rule is applied when the upload starts.
    await this.#assertWritable(key);
    await startMultipart(this.#target(key));
  }

  async createPartUploadUrls(
    key: string,
    parts: readonly { partNumber: number; contentLength: number; sha256?: string }[],
    opts: { expiresInSeconds: number },
  ): Promise<{ partNumber: number; url: string; headers: Record<string, string> }[]> {
    assertObjectKey(key);
    return presignParts(this.#target(key), parts, opts);
  }

  async listUploadedParts(key: string): Promise<UploadedPart[] | undefined> {
    assertObjectKey(key);
    return listParts(this.#target(key));
  }

  async completeMultipartUpload(key: string, opts: { partCount: number; expectedSize: number }): Promise<ObjectInfo> {
    assertObjectKey(key);
    const versionId = await completeMultipart(this.#target(key), opts);
    return (await this.#info(key, versionId)) ?? Promise.reject(new AegisError('INTERNAL', `version ${versionId} of ${key} vanished`));
  }

  async abortMultipartUpload(key: string): Promise<void> {
    assertObjectKey(key);
    await abortMultipart(this.#target(key));
  }

  #target = (key: string) => ({ client: this.#client, bucket: this.#bucket, key });

  async createDownloadUrl(key: string, opts: { versionId: string; expiresInSeconds: number }): Promise<{ url: string }> {
    assertObjectKey(key);
    if (!(await this.#head(key, opts.versionId))) throw notFound(key, opts.versionId);
    return presignDownload(this.#client, this.#bucket, key, opts);
  }

  /** See {@link readObjectLock}. */
  async describeObjectLock(): Promise<ObjectLockStatus> {
    return readObjectLock(this.#client, this.#bucket);
  }

  async #assertWritable(key: string): Promise<void> {
    const latest = await this.#head(key);
    if (inEffect(latest?.ObjectLockRetainUntilDate)) throw locked(key, latest.ObjectLockRetainUntilDate);
  }

  async #head(key: string, versionId?: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key, VersionId: versionId }));
    } catch (e) {
      if (isNotFound(e, versionId)) return undefined;
      throw toAegis(e, 'head');
    }
  }

  async #info(key: string, versionId?: string): Promise<ObjectInfo | undefined> {
    const head = await this.#head(key, versionId);
    if (!head?.VersionId) return undefined;
    const info = toInfo(key, head);
    try {
      const tags = await this.#client.send(new GetObjectTaggingCommand({ Bucket: this.#bucket, Key: key, VersionId: head.VersionId }));
      const sha256 = tags.TagSet?.find((t) => t.Key === SHA256_TAG)?.Value;
      if (sha256) info.sha256 = sha256;
      if (tags.TagSet?.some((t) => t.Key === PENDING_UPLOAD_TAG.key && t.Value === PENDING_UPLOAD_TAG.value)) info.pendingUpload = true;
    } catch (e) {
      if (isNotFound(e, head.VersionId)) return undefined;
      throw toAegis(e, 'head');
    }
    return info;
  }

  async #putRetention(key: string, versionId: string, until: Date, mode: 'COMPLIANCE' | 'GOVERNANCE'): Promise<void> {
    try {
      await this.#client.send(
        new PutObjectRetentionCommand({
          Bucket: this.#bucket,
          Key: key,
          VersionId: versionId,
          Retention: { Mode: mode, RetainUntilDate: until },
        }),
      );
    } catch (e) {
      // S3 answers AccessDenied when COMPLIANCE retention would be shortened.
      if (isAccessDenied(e)) throw locked(key);
      if (isNotFound(e, versionId)) throw notFound(key, versionId);
      throw toAegis(e, 'retain');
    }
  }
}

function toInfo(key: string, head: HeadObjectCommandOutput): ObjectInfo {
  const info: ObjectInfo = {
    key,
    versionId: head.VersionId!,
    size: head.ContentLength ?? 0,
    lastModified: head.LastModified ?? new Date(0),
  };
  if (head.ObjectLockRetainUntilDate) info.retainUntil = head.ObjectLockRetainUntilDate;
  return info;
}

import { randomUUID } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';
import { LIMITS } from '../../kernel/manifest.js';
import type { Principal } from '../../kernel/identity.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ObjectInfo, ObjectStore } from '../../platform/ports/object-store.js';
import {
  DEFAULT_MULTIPART_PART_BYTES,
  DEFAULT_PENDING_UPLOAD_TTL_SECONDS,
  multipartPlan,
  pendingUntil,
  planPartSize,
  SINGLE_PUT_MAX_BYTES,
  uploadKey,
  uploadPlan,
  type Upload,
} from './domain.js';
import type { ReceivedBytes } from './registration-types.js';
import { deleteUnregisteredUpload, findExpiringUploads, findUpload, insertUpload, markUploadExpired } from './store-uploads.js';

export interface UploadOptions {
  /** how long an upload URL accepts bytes */
  uploadTtlSeconds: number;
  /**
   * How long after its creation an upload may still be registered; then the expiry job
   * removes its bytes and its row. At least {@link uploadTtlSeconds}. @default 86400
   */
  pendingUploadTtlSeconds?: number;
  /**
   * Who removes an expired upload's bytes: this service (`delete`, locally), or the bucket's
   * lifecycle rule on the pending tag (`lifecycle`, on AWS, where no function may delete objects).
   * @default 'delete'
   */
  pendingUploadBytes?: 'delete' | 'lifecycle';
  /**
   * The part size of new multipart uploads (bytes, 5 MiB to 5 GiB): larger when an upload would
   * need more than 10,000 parts (see {@link multipartPlan}). Each upload stores the part size it
   * was created with; this applies only to uploads that stored none (created before migration 0018).
   * @default 67108864 (64 MiB)
   */
  multipartPartBytes?: number;
}

/** One part a client is about to send: its number, its size and the hex sha256 of its bytes. */
export interface PartRequest {
  partNumber: number;
  size: number;
  sha256: string;
}

export interface UploadExpiryResult {
  /** upload ids expired in this run (bytes removed, row deleted) */
  expired: string[];
  /** object versions deleted */
  versionsRemoved: number;
  /** uploads whose bytes a registration attempt had claimed (retained): left in storage, where parity reports them */
  kept: { uploadId: string; key: string; reason: string }[];
}

const EXPIRY_BATCH = 500;

/**
 * The version a registration checks when the upload's key has none yet: a multipart upload's
 * parts joined by the upload's plan (its stored part size: what the parts route handed out;
 * `partBytes`, the current setting, for an upload that stored none). A retried registration
 * finds the version the first one completed, so completing is done once; a part missing is
 * MULTIPART_INCOMPLETE (409, field `partNumber`) and nothing is written. No multipart upload in
 * progress either: nothing was uploaded (UPLOAD_NOT_FOUND).
 */
export async function completeMultipart(store: ObjectStore, upload: Upload, partBytes: number | undefined): Promise<ObjectInfo> {
  const { partCount } = uploadPlan(upload, partBytes ?? DEFAULT_MULTIPART_PART_BYTES);
  try {
    return await store.completeMultipartUpload(upload.storageKey, { partCount, expectedSize: upload.maxSize });
  } catch (e) {
    if (!(e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND')) throw e;
    // a concurrent registration may have completed it meanwhile
    const info = await store.head(upload.storageKey);
    if (info) return info;
    throw new AegisError('UPLOAD_NOT_FOUND', `nothing was uploaded for ${upload.uploadId}`, { field: 'uploadId' });
  }
}

/** Pending uploads: where an artifact's bytes go before registration, and their expiry when never registered. */
export class PendingUploads {
  constructor(
    private readonly database: Database,
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly opts: UploadOptions,
  ) {}

  /**
   * Reserves a storage key for an artifact and returns where to PUT its bytes: exactly `size`
   * bytes, and when `sha256` (hex) is given, only the bytes with that sha256. With `multipart`
   * (required over {@link SINGLE_PUT_MAX_BYTES}) it starts a multipart upload instead and returns
   * its plan: the client asks {@link parts} for part URLs, and registration completes it (and
   * checks the whole object's sha256: a multipart upload binds each part's, not `sha256`).
   */
  async create(
    input: { modelName: string; size: number; sha256?: string | undefined; multipart?: boolean | undefined },
    principal: Principal,
  ) {
    if (input.size > LIMITS.artifactBytes)
      throw new AegisError('PAYLOAD_TOO_LARGE', `artifacts are limited to ${LIMITS.artifactBytes} bytes`, { field: 'size' });
    if (input.size > SINGLE_PUT_MAX_BYTES && !input.multipart)
      throw new AegisError(
        'VALIDATION_FAILED',
        `an upload of more than ${SINGLE_PUT_MAX_BYTES} bytes (a single PUT's limit on S3) must be multipart: send multipart: true`,
        { field: 'multipart' },
      );
    const uploadId = randomUUID();
    const key = uploadKey(input.modelName, uploadId);
    const now = this.clock.now();
    const row = { uploadId, modelName: input.modelName, storageKey: key, createdBy: principal.id, createdAt: now, maxSize: input.size };
    if (input.multipart) {
      // the upload's deadline is its registration's: part URLs are handed out until then
      const expiresAt = pendingUntil(now.toISOString(), this.opts.pendingUploadTtlSeconds);
      // the plan is fixed now: stored, so a later change of the setting leaves this upload's parts as they were
      const plan = multipartPlan(input.size, this.#partBytes());
      await this.store.startMultipartUpload(key, { partBytes: plan.partSize });
      await insertUpload(this.database.db, { ...row, expiresAt, partBytes: plan.partSize });
      return { uploadId, multipart: true as const, ...plan, expiresAt: expiresAt.toISOString() };
    }
    const expiresAt = new Date(now.getTime() + this.opts.uploadTtlSeconds * 1000);
    const target = await this.store.createUploadUrl(key, {
      expiresInSeconds: this.opts.uploadTtlSeconds,
      contentLength: input.size,
      ...(input.sha256 !== undefined && { sha256: input.sha256 }),
    });
    await insertUpload(this.database.db, { ...row, expiresAt, partBytes: null });
    return { uploadId, method: 'PUT' as const, url: target.url, headers: target.headers, expiresAt: expiresAt.toISOString() };
  }

  /**
   * The upload of bytes that came in the request itself (a one-request registration), checked
   * against the manifest already (so `expectedSha256`, which the store checks again as it writes):
   * nothing is written here. The registration writes the bytes beside its sidecars, retained and
   * never pending, and inserts the upload's row, registered, in its statement; a failure between
   * leaves retained bytes no row names, which storage parity reports as it does orphaned sidecars.
   */
  receive(input: { uploadId: string; modelName: string; bytes: Uint8Array; sha256: string }, principal: Principal): ReceivedBytes {
    const { uploadId, modelName, bytes } = input;
    const storageKey = uploadKey(modelName, uploadId);
    const now = this.clock.now();
    // no URL takes bytes for it (expiresAt): they are here
    const newUpload = {
      uploadId,
      modelName,
      storageKey,
      createdBy: principal.id,
      createdAt: now,
      expiresAt: now,
      maxSize: bytes.length,
      partBytes: null,
    };
    let written: Promise<ObjectInfo> | undefined;
    const write = (retainUntil: Date) =>
      (written ??= this.store.put(storageKey, bytes, { retainUntil, expectedSize: bytes.length, expectedSha256: input.sha256 }));
    return { write, newUpload };
  }

  /**
   * URLs for the asked parts of a multipart upload (each bound to its size and sha256), and the
   * parts the store has already received: what a resumed client need not send again. Only the
   * upload's creator (or an admin with a global scope) sees it: 404 for anyone else, 410 once
   * it expired, 409 once registered or when it is not a multipart upload. Each asked part must
   * be one of the plan's, with the plan's size for it (400 naming `parts.<i>.partNumber` or `.size`).
   */
  async parts(uploadId: string, asked: readonly PartRequest[], principal: Principal) {
    const upload = await findUpload(this.database.db, uploadId);
    const mayUse = upload && (upload.createdBy === principal.id || (principal.role === 'admin' && principal.scope === 'global'));
    if (!upload || !mayUse) throw new AegisError('UPLOAD_NOT_FOUND', `no upload ${uploadId}`, { field: 'uploadId' });
    if (upload.registered)
      throw new AegisError('CONFLICT', `upload ${uploadId} is registered: it takes no more parts`, { field: 'uploadId' });
    const until = pendingUntil(upload.createdAt, this.opts.pendingUploadTtlSeconds);
    if (upload.expiredAt !== null || this.clock.now() >= until)
      throw new AegisError('UPLOAD_EXPIRED', `upload ${uploadId} expired at ${until.toISOString()}; upload the bytes again`, {
        field: 'uploadId',
      });
    const plan = uploadPlan(upload, this.#partBytes());
    asked.forEach((p, i) => {
      if (p.partNumber > plan.partCount)
        throw new AegisError('VALIDATION_FAILED', `upload ${uploadId} has ${plan.partCount} parts of ${plan.partSize} bytes`, {
          field: `parts.${i}.partNumber`,
        });
      const size = planPartSize(plan, upload.maxSize, p.partNumber);
      if (p.size !== size)
        throw new AegisError('VALIDATION_FAILED', `part ${p.partNumber} of upload ${uploadId} has ${size} bytes, not ${p.size}`, {
          field: `parts.${i}.size`,
          details: { partNumber: p.partNumber, expectedSize: size },
        });
    });
    const uploaded = await this.store.listUploadedParts(upload.storageKey);
    if (!uploaded) throw new AegisError('CONFLICT', `upload ${uploadId} is not a multipart upload in progress`, { field: 'uploadId' });
    const parts = asked.length
      ? await this.store.createPartUploadUrls(
          upload.storageKey,
          asked.map((p) => ({ partNumber: p.partNumber, contentLength: p.size, sha256: p.sha256 })),
          { expiresInSeconds: this.opts.uploadTtlSeconds },
        )
      : [];
    return {
      ...plan,
      uploaded: uploaded.map((p) => ({ partNumber: p.partNumber, size: p.size, ...(p.sha256 !== undefined && { sha256: p.sha256 }) })),
      parts,
    };
  }

  #partBytes(): number {
    return this.opts.multipartPartBytes ?? DEFAULT_MULTIPART_PART_BYTES;
  }

  /**
   * Expires uploads never registered within their TTL (refused, replayed under another
   * upload, abandoned): marks each expired (registration then refuses it), deletes the
   * unretained versions at its key and aborts its unfinished multipart upload (unless the
   * bucket's lifecycle rules do) and then its row. A run that fails half way is finished
   * by the next one. The scheduler runs it (`pending-upload-expiry`).
   */
  async expire(): Promise<UploadExpiryResult> {
    const now = this.clock.now();
    const cutoff = new Date(now.getTime() - (this.opts.pendingUploadTtlSeconds ?? DEFAULT_PENDING_UPLOAD_TTL_SECONDS) * 1000);
    const db = this.database.db;
    const rows = await findExpiringUploads(db, { cutoff, limit: EXPIRY_BATCH });
    const result: UploadExpiryResult = { expired: [], versionsRemoved: 0, kept: [] };
    for (const row of rows) {
      // not yet marked, and registered meanwhile: not ours to expire
      if (!row.expired && !(await markUploadExpired(db, row.uploadId, now))) continue;
      let kept: string | undefined;
      // On AWS the artifact bucket's lifecycle rules expire the tagged bytes and abort unfinished multipart uploads.
      if (this.opts.pendingUploadBytes !== 'lifecycle') {
        await this.store.abortMultipartUpload(row.storageKey);
        kept = await this.#removeUnclaimedVersions(row.storageKey, (n) => (result.versionsRemoved += n));
      }
      if (kept) result.kept.push({ uploadId: row.uploadId, key: row.storageKey, reason: kept });
      await deleteUnregisteredUpload(db, row.uploadId);
      result.expired.push(row.uploadId);
    }
    return result;
  }

  /** Deletes the key's versions, newest first, until none is left or one is retained; says why it stopped early. */
  async #removeUnclaimedVersions(key: string, removed: (n: number) => void): Promise<string | undefined> {
    for (let i = 0; i < 1000; i++) {
      const info = await this.store.head(key);
      if (!info) return undefined;
      if (info.retainUntil && info.retainUntil > new Date())
        return `version ${info.versionId} is retained until ${info.retainUntil.toISOString()} (a registration attempt claimed it)`;
      try {
        await this.store.delete(key, { versionId: info.versionId });
      } catch (e) {
        if (e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND') continue;
        if (e instanceof AegisError && e.code === 'RETENTION_LOCKED') return e.message;
        throw e;
      }
      removed(1);
    }
    return 'more than 1000 versions';
  }
}

import { randomUUID } from 'node:crypto';
import { AegisError } from '../../kernel/errors.js';
import { LIMITS } from '../../kernel/manifest.js';
import type { Principal } from '../../kernel/identity.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import { artifactPrefix, DEFAULT_PENDING_UPLOAD_TTL_SECONDS } from './domain.js';
import { deleteUnregisteredUpload, findExpiringUploads, insertUpload, markUploadExpired } from './store-uploads.js';

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
   * bytes, and when `sha256` (hex) is given, only the bytes with that sha256.
   */
  async create(input: { modelName: string; size: number; sha256?: string | undefined }, principal: Principal) {
    if (input.size > LIMITS.artifactBytes)
      throw new AegisError('PAYLOAD_TOO_LARGE', `artifacts are limited to ${LIMITS.artifactBytes} bytes`, { field: 'size' });
    const uploadId = randomUUID();
    const key = `${artifactPrefix(input.modelName, uploadId)}/artifact`;
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.opts.uploadTtlSeconds * 1000);
    const target = await this.store.createUploadUrl(key, {
      expiresInSeconds: this.opts.uploadTtlSeconds,
      contentLength: input.size,
      ...(input.sha256 !== undefined && { sha256: input.sha256 }),
    });
    await insertUpload(this.database.db, {
      uploadId,
      modelName: input.modelName,
      storageKey: key,
      createdBy: principal.id,
      createdAt: now,
      expiresAt,
      maxSize: input.size,
    });
    return { uploadId, method: 'PUT' as const, url: target.url, headers: target.headers, expiresAt: expiresAt.toISOString() };
  }

  /**
   * Expires uploads never registered within their TTL (refused, replayed under another
   * upload, abandoned): marks each expired (registration then refuses it), deletes the
   * unretained versions at its key (unless the bucket's lifecycle rule does) and then its row. A run that fails half way is finished
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
      const kept =
        this.opts.pendingUploadBytes === 'lifecycle'
          ? undefined
          : await this.#removeUnclaimedVersions(row.storageKey, (n) => (result.versionsRemoved += n));
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

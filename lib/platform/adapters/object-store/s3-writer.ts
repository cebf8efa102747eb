import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ObjectWriter, PutOptions } from '../../ports/object-store.js';
import { toAegis } from './s3-errors.js';
import { assertObjectKey } from './rules.js';

export interface S3ObjectWriterOptions {
  bucket: string;
  /** @default new S3Client({}) */
  client?: S3Client;
}

/**
 * The write-only S3 {@link ObjectWriter}: one PutObject per object and nothing else, so the
 * role may hold `s3:PutObject` on its prefix alone (no HeadObject before the write, no tagging
 * after it, as {@link S3ObjectStore} does). The bucket's default encryption applies (SSE-KMS:
 * S3 asks the key for a data key, the role's `kms:GenerateDataKey`).
 *
 * @example
 * const drift = new S3ObjectWriter({ bucket: process.env.DRIFT_S3_BUCKET! });
 * await drift.put('serving-inputs/churn/prod/2026-11-30/07/x.jsonl', '{"requestId":"r-1"}\n', { contentType: 'application/x-ndjson' });
 */
export class S3ObjectWriter implements ObjectWriter {
  readonly #bucket: string;
  readonly #client: S3Client;

  constructor(opts: S3ObjectWriterOptions) {
    if (!opts.bucket) throw new Error('S3ObjectWriter needs a bucket');
    this.#bucket = opts.bucket;
    this.#client = opts.client ?? new S3Client({});
  }

  async put(
    key: string,
    body: Uint8Array | string,
    opts: Pick<PutOptions, 'contentType'> = {},
  ): Promise<{ key: string; versionId?: string }> {
    assertObjectKey(key);
    try {
      const out = await this.#client.send(
        new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, ...(opts.contentType && { ContentType: opts.contentType }) }),
      );
      return { key, ...(out.VersionId && { versionId: out.VersionId }) };
    } catch (e) {
      throw toAegis(e, 'put');
    }
  }
}

import { GetObjectCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { errorName, isNotFound, notFound, toAegis } from './s3-errors.js';
import { assertListPrefix, assertObjectKey } from './rules.js';

export interface S3ObjectReaderOptions {
  bucket: string;
  /** @default new S3Client({}) */
  client?: S3Client;
}

/**
 * The read-only S3 reader of a prefix: ListObjectsV2 (keys and sizes, no HeadObject per key as
 * {@link S3ObjectStore} does) and GetObject of the latest version, nothing else, so the role may
 * hold `s3:ListBucket` and `s3:GetObject` alone. Drift detection reads serving's input segments
 * from `DRIFT_S3_BUCKET` with it.
 *
 * @example
 * const reader = new S3ObjectReader({ bucket: process.env.DRIFT_S3_BUCKET! });
 * for await (const o of reader.list('serving-inputs/churn/prod/2026-11-30/07/')) console.log(o.key, o.size);
 */
export class S3ObjectReader {
  readonly #bucket: string;
  readonly #client: S3Client;

  constructor(opts: S3ObjectReaderOptions) {
    if (!opts.bucket) throw new Error('S3ObjectReader needs a bucket');
    this.#bucket = opts.bucket;
    this.#client = opts.client ?? new S3Client({});
  }

  /** The keys under a prefix, in key order (UTF-8 byte order, which is key order for safe keys), with their sizes. */
  async *list(prefix: string): AsyncIterable<{ key: string; size: number; lastModified?: Date }> {
    assertListPrefix(prefix);
    try {
      for await (const page of paginateListObjectsV2({ client: this.#client }, { Bucket: this.#bucket, Prefix: prefix }))
        for (const o of page.Contents ?? [])
          if (o.Key) yield { key: o.Key, size: o.Size ?? 0, ...(o.LastModified && { lastModified: o.LastModified }) };
    } catch (e) {
      throw toAegis(e, 'list');
    }
  }

  /** Streams the latest version of a key; OBJECT_NOT_FOUND when absent. */
  async get(key: string): Promise<Readable> {
    assertObjectKey(key);
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return out.Body as Readable;
    } catch (e) {
      if (isNotFound(e) || errorName(e) === 'MethodNotAllowed') throw notFound(key);
      throw toAegis(e, 'get');
    }
  }
}

/**
 * How bytes get into the S3 store: streamed through a hashing meter into a (multipart when
 * large) upload, or PUT by a client to a presigned URL; and out of it at a presigned GET.
 */
import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  type UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AegisError, isAegisError } from '../../../kernel/errors.js';
import type { PutOptions, UploadUrlOptions } from '../../ports/object-store.js';
import { PENDING_UPLOAD_TAG } from './pending-upload-tag.js';
import { HashMeter, toReadable } from './rules.js';
import { isNotFound, notFound, toAegis } from './s3-errors.js';

/** Streams `body` into a new version of `key`; its version id and the sha256 of the bytes that passed. */
export async function streamUpload(
  client: S3Client,
  target: { bucket: string; key: string; mode: 'COMPLIANCE' | 'GOVERNANCE' },
  body: Readable | Uint8Array | string,
  opts: PutOptions,
): Promise<{ versionId: string; sha256: string }> {
  const meter = new HashMeter(opts.expectedSize, opts.expectedSha256);
  const upload = new Upload({
    client,
    leavePartsOnError: false,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: meter,
      ChecksumAlgorithm: 'SHA256',
      // A known length lets lib-storage size parts for objects beyond 10,000 × 5 MiB.
      ...(opts.expectedSize !== undefined && { ContentLength: opts.expectedSize }),
      ...(opts.contentType && { ContentType: opts.contentType }),
      ...(opts.retainUntil && { ObjectLockMode: target.mode, ObjectLockRetainUntilDate: opts.retainUntil }),
    },
  });
  // Both settle before we answer, so an aborted multipart upload is gone when we throw.
  const [uploaded, pumped] = await Promise.allSettled([
    upload.done().catch((e: unknown) => {
      meter.destroy(e as Error); // unblocks the pipeline, which would otherwise wait for a reader
      throw e;
    }),
    pipeline(toReadable(body), meter),
  ]);
  if (pumped.status === 'rejected' && isAegisError(pumped.reason)) throw pumped.reason;
  if (uploaded.status === 'rejected') throw toAegis(uploaded.reason, 'upload');
  if (pumped.status === 'rejected') throw toAegis(pumped.reason, 'upload');
  const versionId = uploaded.value.VersionId;
  if (!versionId) throw new AegisError('INTERNAL', `bucket ${target.bucket} is not versioned`);
  return { versionId, sha256: meter.sha256 };
}

export const PENDING_TAGGING = `${PENDING_UPLOAD_TAG.key}=${PENDING_UPLOAD_TAG.value}`;

const CHECKSUM_HEADER = 'x-amz-checksum-sha256';

/** The base64 SHA-256 checksum S3 takes, of a hex sha256. */
export const sha256Checksum = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');

/**
 * Makes a presigned command sign no checksum but `checksum` (base64 SHA-256), when given. With
 * the SDK's default checksums the URL would carry the CRC32 of an empty body
 * (x-amz-checksum-crc32=AAAAAA==) and S3 would reject every real upload with BadDigest.
 */
export function signOnlyChecksum(command: PutObjectCommand | UploadPartCommand, checksum: string | undefined): void {
  const dropChecksum =
    <A extends { request?: unknown }, R>(next: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      const headers = (args.request as { headers?: Record<string, string> } | undefined)?.headers ?? {};
      for (const h of Object.keys(headers)) if (/^x-amz-(checksum-|sdk-checksum-algorithm)/i.test(h)) delete headers[h];
      if (checksum !== undefined) headers[CHECKSUM_HEADER] = checksum;
      return next(args);
    };
  (command.middlewareStack as PutObjectCommand['middlewareStack']).addRelativeTo(dropChecksum, {
    name: 'aegisDropPresignChecksum',
    relation: 'after',
    toMiddleware: 'flexibleChecksumsMiddleware',
  });
}

/** The presign options that keep `x-amz-tagging` and the checksum signed headers (S3 ignores them in a query string). */
export const signedHeaders = (checksum: string | undefined, tagging: boolean) =>
  new Set([...(tagging ? ['x-amz-tagging'] : []), ...(checksum === undefined ? [] : [CHECKSUM_HEADER])]);

export const checksumHeaders = (checksum: string | undefined): Record<string, string> =>
  checksum === undefined ? {} : { [CHECKSUM_HEADER]: checksum };

/**
 * A URL that PUTs `key` with the pending-upload tag. The tag is a signed header the client
 * must send (S3 ignores tagging in a query string), so what it writes is expired by the
 * lifecycle rule until registered; content-length is signed too when given, so S3 refuses a
 * body of any other size; and with a sha256, its SHA-256 checksum (base64) is a signed header
 * too, so S3 refuses other bytes (BadDigest).
 */
export async function presignUpload(
  client: S3Client,
  bucket: string,
  key: string,
  opts: UploadUrlOptions,
): Promise<{ url: string; headers: Record<string, string> }> {
  const checksum = opts.sha256 === undefined ? undefined : sha256Checksum(opts.sha256);
  const command = new PutObjectCommand({
    Bucket: bucket,
    Key: key,
    ContentLength: opts.contentLength,
    Tagging: PENDING_TAGGING,
    ...(checksum !== undefined && { ChecksumSHA256: checksum }),
  });
  signOnlyChecksum(command, checksum);
  try {
    const url = await getSignedUrl(client, command, {
      expiresIn: opts.expiresInSeconds,
      unhoistableHeaders: signedHeaders(checksum, true),
    });
    return { url, headers: { 'x-amz-tagging': PENDING_TAGGING, ...checksumHeaders(checksum) } };
  } catch (e) {
    throw toAegis(e, 'presign');
  }
}

/** A URL that GETs exactly `versionId` of `key` (a later version at the same key is not what it serves). */
export async function presignDownload(
  client: S3Client,
  bucket: string,
  key: string,
  opts: { versionId: string; expiresInSeconds: number },
): Promise<{ url: string }> {
  try {
    const command = new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: opts.versionId });
    return { url: await getSignedUrl(client, command, { expiresIn: opts.expiresInSeconds }) };
  } catch (e) {
    throw toAegis(e, 'presign');
  }
}

/**
 * Re-tags a pending upload's version `registered` (the lifecycle rule expires only `pending`),
 * rather than untagging it: PutObjectTagging is the permission registration already has (no
 * DeleteObjectTagging).
 */
export async function clearPendingUpload(client: S3Client, at: { bucket: string; key: string; versionId: string }): Promise<void> {
  const { bucket, key, versionId } = at;
  try {
    const tags = await client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
    const set = tags.TagSet ?? [];
    if (!set.some((t) => t.Key === PENDING_UPLOAD_TAG.key && t.Value === PENDING_UPLOAD_TAG.value)) return;
    const kept = set.filter((t) => t.Key !== PENDING_UPLOAD_TAG.key);
    await client.send(
      new PutObjectTaggingCommand({
        Bucket: bucket,
        Key: key,
        VersionId: versionId,
        Tagging: { TagSet: [...kept, { Key: PENDING_UPLOAD_TAG.key, Value: 'registered' }] },
      }),
    );
  } catch (e) {
    if (isNotFound(e, versionId)) throw notFound(key, versionId);
    throw toAegis(e, 'untag');
  }
}

/**
 * The S3 store's bucket-level requests beside its objects: multipart uploads and the Object Lock configuration.
 *
 * Multipart uploads are S3's own S3's own (CreateMultipartUpload with SHA-256 part checksums
 * and the pending-upload tag, presigned UploadPart URLs, ListParts, CompleteMultipartUpload).
 * The multipart upload id is found again by key (ListMultipartUploads), so nothing else needs
 * to remember it between requests.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectLockConfigurationCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AegisError } from '../../../kernel/errors.js';
import type { ObjectLockStatus, UploadedPart } from '../../ports/object-store.js';
import { errorName, toAegis } from './s3-errors.js';
import { checksumHeaders, PENDING_TAGGING, sha256Checksum, signedHeaders, signOnlyChecksum } from './s3-uploads.js';
import { assertPartsComplete, assertPartUrlRequest, noMultipart } from './rules.js';

interface Target {
  client: S3Client;
  bucket: string;
  key: string;
}

/** The id of the newest multipart upload of exactly `key` in progress, if any. */
async function findUploadId({ client, bucket, key }: Target): Promise<string | undefined> {
  try {
    const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
    const mine = (out.Uploads ?? []).filter((u) => u.Key === key && u.UploadId);
    mine.sort((a, b) => (a.Initiated?.getTime() ?? 0) - (b.Initiated?.getTime() ?? 0));
    return mine.at(-1)?.UploadId;
  } catch (e) {
    throw toAegis(e, 'list-multipart');
  }
}

async function uploadIdOf(t: Target): Promise<string> {
  const id = await findUploadId(t);
  if (!id) throw noMultipart(t.key);
  return id;
}

export async function startMultipart(t: Target): Promise<void> {
  if (await findUploadId(t)) return;
  try {
    await t.client.send(
      new CreateMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, ChecksumAlgorithm: 'SHA256', Tagging: PENDING_TAGGING }),
    );
  } catch (e) {
    throw toAegis(e, 'start-multipart');
  }
}

export async function presignParts(
  t: Target,
  parts: readonly { partNumber: number; contentLength: number; sha256?: string }[],
  opts: { expiresInSeconds: number },
): Promise<{ partNumber: number; url: string; headers: Record<string, string> }[]> {
  for (const part of parts) assertPartUrlRequest(part, opts.expiresInSeconds);
  const uploadId = await uploadIdOf(t);
  try {
    return await Promise.all(
      parts.map(async ({ partNumber, contentLength, sha256 }) => {
        const checksum = sha256 === undefined ? undefined : sha256Checksum(sha256);
        const command = new UploadPartCommand({
          Bucket: t.bucket,
          Key: t.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          ContentLength: contentLength,
          ...(checksum !== undefined && { ChecksumSHA256: checksum }),
        });
        signOnlyChecksum(command, checksum);
        const url = await getSignedUrl(t.client, command, {
          expiresIn: opts.expiresInSeconds,
          unhoistableHeaders: signedHeaders(checksum, false),
        });
        return { partNumber, url, headers: checksumHeaders(checksum) };
      }),
    );
  } catch (e) {
    throw toAegis(e, 'presign');
  }
}

async function listWithEtags(t: Target, uploadId: string): Promise<(UploadedPart & { etag: string; checksum?: string })[]> {
  const out: (UploadedPart & { etag: string; checksum?: string })[] = [];
  let marker: string | undefined;
  try {
    for (;;) {
      const page = await t.client.send(
        new ListPartsCommand({ Bucket: t.bucket, Key: t.key, UploadId: uploadId, ...(marker && { PartNumberMarker: marker }) }),
      );
      for (const p of page.Parts ?? []) {
        if (p.PartNumber === undefined || !p.ETag) continue;
        out.push({
          partNumber: p.PartNumber,
          size: p.Size ?? 0,
          etag: p.ETag,
          ...(p.ChecksumSHA256 && { sha256: Buffer.from(p.ChecksumSHA256, 'base64').toString('hex'), checksum: p.ChecksumSHA256 }),
        });
      }
      if (!page.IsTruncated || !page.NextPartNumberMarker) return out;
      marker = page.NextPartNumberMarker;
    }
  } catch (e) {
    throw toAegis(e, 'list-parts');
  }
}

export async function listParts(t: Target): Promise<UploadedPart[] | undefined> {
  const uploadId = await findUploadId(t);
  if (!uploadId) return undefined;
  return (await listWithEtags(t, uploadId)).map(({ etag: _e, checksum: _c, ...part }) => part);
}

/** Completes the upload from its parts 1..partCount; the new version's id. */
export async function completeMultipart(t: Target, opts: { partCount: number; expectedSize: number }): Promise<string> {
  const uploadId = await uploadIdOf(t);
  const parts = await listWithEtags(t, uploadId);
  const used = assertPartsComplete(parts, opts) as typeof parts;
  try {
    const done = await t.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: t.bucket,
        Key: t.key,
        UploadId: uploadId,
        MultipartUpload: {
          Parts: used.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag, ...(p.checksum && { ChecksumSHA256: p.checksum }) })),
        },
      }),
    );
    if (!done.VersionId) throw new AegisError('INTERNAL', `bucket ${t.bucket} is not versioned`);
    return done.VersionId;
  } catch (e) {
    throw toAegis(e, 'complete-multipart');
  }
}

export async function abortMultipart(t: Target): Promise<void> {
  for (let id = await findUploadId(t); id; id = await findUploadId(t)) {
    try {
      await t.client.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: id }));
    } catch (e) {
      throw toAegis(e, 'abort-multipart');
    }
  }
}

/**
 * GetObjectLockConfiguration (`s3:GetBucketObjectLockConfiguration`). A bucket without
 * Object Lock answers ObjectLockConfigurationNotFoundError; other errors (a missing
 * bucket, access denied, a network fault) are thrown as the SDK gives them.
 */
export async function readObjectLock(client: S3Client, bucket: string): Promise<ObjectLockStatus> {
  try {
    const out = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    const c = out.ObjectLockConfiguration;
    const r = c?.Rule?.DefaultRetention;
    return {
      enabled: c?.ObjectLockEnabled === 'Enabled',
      ...(r?.Mode && { defaultRetention: { mode: r.Mode, ...(r.Days ? { days: r.Days } : {}), ...(r.Years ? { years: r.Years } : {}) } }),
    };
  } catch (e) {
    if (errorName(e) === 'ObjectLockConfigurationNotFoundError') return { enabled: false };
    throw e;
  }
}

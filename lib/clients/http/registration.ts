import { stat } from 'node:fs/promises';
import type { AegisClient, Progress } from './client.js';
import type { DatasetCreateReply, RegisterReply, SingleUploadReply } from '../../platform/http/schemas.js';
import { forgetUpload, uploadParts, type MultipartUploads } from './multipart-upload.js';

/** Upload target, streamed upload, then registration: the one way clients register an artifact. */
export async function registerArtifact(
  api: AegisClient,
  o: {
    modelName: string;
    artifactPath: string;
    manifest: Record<string, unknown>;
    /** the team label a new model gets (a later registration must name the same team, or none) */
    team?: string | undefined;
    idempotencyKey?: string | undefined;
    onProgress?: Progress | undefined;
    /**
     * Files larger than `threshold` bytes (or any, with `uploadId`) go as a resumable multipart
     * upload (see {@link uploadParts}); the manifest's artifactSha256 keys what is remembered.
     */
    multipart?: MultipartUploads | undefined;
  },
): Promise<RegisterReply> {
  const { size } = await stat(o.artifactPath);
  // The manifest's sha256 (hashed from the file by every caller) binds the upload URL to these
  // bytes: a file changed or corrupted on the way is refused by the store, not at registration.
  const raw = o.manifest.artifactSha256;
  const sha256 = typeof raw === 'string' && /^[0-9a-f]{64}$/.test(raw) ? raw : undefined;
  const mp = o.multipart;
  let uploadId: string;
  if (mp && sha256 && (size > mp.threshold || mp.uploadId)) {
    uploadId = await uploadParts(api, {
      ...mp,
      modelName: o.modelName,
      file: o.artifactPath,
      size,
      sha256,
      team: o.team,
      onProgress: o.onProgress,
    });
  } else {
    const upload = await api.request<SingleUploadReply>('POST', '/v1/registry/uploads', {
      modelName: o.modelName,
      size,
      ...(o.team ? { team: o.team } : {}),
      ...(sha256 ? { sha256 } : {}),
    });
    await api.uploadFile(upload.url, upload.headers, o.artifactPath, o.onProgress);
    uploadId = upload.uploadId;
  }
  const registered = await api.request<RegisterReply>(
    'POST',
    '/v1/registry/register',
    { uploadId, manifest: o.manifest, ...(o.team ? { team: o.team } : {}) },
    o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
  );
  if (mp && sha256) await forgetUpload(mp, sha256);
  return registered;
}

/** Registers each dataset version (idempotent: an identical record replays, another checksum is a 409). */
export async function registerDatasets(
  api: AegisClient,
  refs: readonly { id: string; version: string; checksum: string; uri: string; schema?: Record<string, unknown> }[],
) {
  const out: { id: string; version: string; replayed: boolean }[] = [];
  for (const r of refs) {
    const res = await api.request<DatasetCreateReply>('POST', '/v1/datasets', r);
    out.push({ id: r.id, version: r.version, replayed: res.replayed });
  }
  return out;
}

import { stat } from 'node:fs/promises';
import type { AegisClient, Progress } from './client.js';
import type { DatasetCreateReply, RegisterReply, UploadCreateReply } from '../../platform/http/schemas.js';

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
  },
): Promise<RegisterReply> {
  const { size } = await stat(o.artifactPath);
  // The manifest's sha256 (hashed from the file by every caller) binds the upload URL to these
  // bytes: a file changed or corrupted on the way is refused by the store, not at registration.
  const sha256 = o.manifest.artifactSha256;
  const upload = await api.request<UploadCreateReply>('POST', '/v1/registry/uploads', {
    modelName: o.modelName,
    size,
    ...(o.team ? { team: o.team } : {}),
    ...(typeof sha256 === 'string' && /^[0-9a-f]{64}$/.test(sha256) ? { sha256 } : {}),
  });
  await api.uploadFile(upload.url, upload.headers, o.artifactPath, o.onProgress);
  return api.request<RegisterReply>(
    'POST',
    '/v1/registry/register',
    { uploadId: upload.uploadId, manifest: o.manifest, ...(o.team ? { team: o.team } : {}) },
    o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {},
  );
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

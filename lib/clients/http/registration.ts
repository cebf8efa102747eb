import { readFile, stat } from 'node:fs/promises';
import { LIMITS } from '../../kernel/manifest.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, type AegisClient, type Progress } from './client.js';
import type {
  DatasetCreateReply,
  RegisterPendingReply,
  RegisterReply,
  RegistrationStatusReply,
  SingleUploadReply,
} from '../../platform/http/schemas.js';
import { forgetUpload, uploadParts, type MultipartUploads } from './multipart-upload.js';

/**
 * The one way clients register an artifact: a small one (at most `LIMITS.inlineArtifactBytes`)
 * in one request, its bytes beside the manifest; a larger one through an upload target, a
 * streamed upload (in resumable parts when large), then the registration.
 */
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
    /**
     * A large artifact registers asynchronously (202): told the registration's progress while
     * it is polled until it ends (interrupted, it keeps running; the same call picks it up again).
     */
    onVerifying?: ((registrationId: string, bytesHashed: number, totalBytes: number) => void) | undefined;
    /** the longest wait between polls of an asynchronous registration (ms) @default 2000 */
    pollMaxMs?: number | undefined;
  },
): Promise<RegisterReply> {
  const { size } = await stat(o.artifactPath);
  // The manifest's sha256 (hashed from the file by every caller) binds the upload URL to these
  // bytes: a file changed or corrupted on the way is refused by the store, not at registration.
  const raw = o.manifest.artifactSha256;
  const sha256 = typeof raw === 'string' && /^[0-9a-f]{64}$/.test(raw) ? raw : undefined;
  const mp = o.multipart;
  const headers: Record<string, string> = o.idempotencyKey ? { 'idempotency-key': o.idempotencyKey } : {};
  // A small artifact goes in one request, its bytes beside the manifest (no upload to resume).
  if (size <= LIMITS.inlineArtifactBytes && !mp?.uploadId) {
    const artifact = (await readFile(o.artifactPath)).toString('base64');
    const answer = await api.request<RegisterReply>(
      'POST',
      '/v1/registry/artifacts',
      { manifest: o.manifest, artifact, ...(o.team ? { team: o.team } : {}) },
      headers,
    );
    o.onProgress?.(size, size);
    return answer;
  }
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
  const answer = await api.request<RegisterReply | RegisterPendingReply>(
    'POST',
    '/v1/registry/register',
    { uploadId, manifest: o.manifest, ...(o.team ? { team: o.team } : {}) },
    headers,
  );
  // the registration holds the upload now (a re-run with the same manifest finds the registration)
  if (mp && sha256) await forgetUpload(mp, sha256);
  return 'registrationId' in answer ? awaitRegistration(api, answer, o) : answer;
}

/**
 * Polls an asynchronous registration until it ends: its result once registered (what the
 * synchronous path answers), its error (an ApiError with its code) once failed.
 */
export async function awaitRegistration(
  api: AegisClient,
  pending: RegisterPendingReply,
  o: { onVerifying?: ((id: string, done: number, total: number) => void) | undefined; pollMaxMs?: number | undefined } = {},
): Promise<RegisterReply> {
  const id = pending.registrationId;
  o.onVerifying?.(id, 0, pending.totalBytes);
  for (let wait = 100; ; wait = Math.min(wait * 2, o.pollMaxMs ?? 2000)) {
    await sleep(wait);
    const s = await api.request<RegistrationStatusReply>('GET', `/v1/registry/registrations/${encodeURIComponent(id)}`);
    o.onVerifying?.(id, s.bytesHashed, s.totalBytes);
    if (s.status === 'registered' && s.result) return s.result;
    if (s.status === 'failed') {
      const e = s.error ?? { code: 'REGISTRATION_FAILED', message: 'the registration failed' };
      throw new ApiError(422, e.code, `registration ${id} failed: ${e.message}`, 'registrationId');
    }
  }
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

/** Reports an asynchronous registration on a CLI reporter: announced once, then its hashing's progress. */
export function verifyingReporter(r: { step(message: string): void; bytes(label: string, done: number, total: number): void }) {
  let announced = false;
  return (id: string, done: number, total: number) => {
    if (!announced)
      r.step(`registration ${id} is verifying asynchronously (Ctrl-C leaves it running: run the same command again to pick it up)`);
    announced = true;
    r.bytes('verifying', done, total);
  };
}

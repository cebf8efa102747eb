/**
 * A multipart upload from a file, resumable: the upload's id is remembered in a small JSON file
 * (keyed by the artifact's sha256, under the CLI's state folder) until the artifact is
 * registered, so running the same command again after an interruption asks the API which
 * parts were received and sends only the others.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError, type AegisClient, type Progress } from './client.js';
import { sendParts, type PartSending } from './part-sender.js';
import type { MultipartUploadReply, UploadPartsReply } from '../../platform/http/schemas.js';

export interface MultipartOptions extends PartSending {
  /** the folder remembering uploads in progress (one `<sha256>.json` each) */
  stateDir: string;
  /** the API the upload was made on: a remembered upload of another API is not resumed */
  apiUrl: string;
  /** resume this upload instead of the remembered one (or a new one) */
  uploadId?: string | undefined;
  /** one line per step worth telling (resuming, parts left) */
  onStep?: ((message: string) => void) | undefined;
}

/** When to upload in parts, and how: what `registerArtifact` takes. */
export type MultipartUploads = MultipartOptions & { threshold: number };

interface Remembered {
  apiUrl: string;
  modelName: string;
  size: number;
  uploadId: string;
}

const statePath = (dir: string, sha256: string) => join(dir, `${sha256}.json`);

async function remembered(o: MultipartOptions, sha256: string, modelName: string, size: number): Promise<string | undefined> {
  try {
    const r = JSON.parse(await readFile(statePath(o.stateDir, sha256), 'utf8')) as Remembered;
    return r.apiUrl === o.apiUrl && r.modelName === modelName && r.size === size ? r.uploadId : undefined;
  } catch {
    return undefined;
  }
}

async function remember(o: MultipartOptions, sha256: string, r: Remembered): Promise<void> {
  await mkdir(o.stateDir, { recursive: true });
  const part = `${statePath(o.stateDir, sha256)}.${process.pid}.part`;
  await writeFile(part, `${JSON.stringify(r)}\n`);
  await rename(part, statePath(o.stateDir, sha256));
}

/** Forgets the upload of these bytes (registered, or no longer usable). */
export async function forgetUpload(o: MultipartOptions, sha256: string): Promise<void> {
  await rm(statePath(o.stateDir, sha256), { force: true });
}

const partsOf = (api: AegisClient, uploadId: string, parts: { partNumber: number; size: number; sha256: string }[]) =>
  api.request<UploadPartsReply>('POST', `/v1/registry/uploads/${encodeURIComponent(uploadId)}/parts`, { parts });

/**
 * Sends the file's parts that the upload lacks (all of them for a new upload) and returns the
 * upload's id, ready for registration. A remembered upload that is gone, expired or registered
 * is forgotten and a new one started; an explicit `uploadId` is never replaced.
 */
export async function uploadParts(
  api: AegisClient,
  o: MultipartOptions & {
    modelName: string;
    file: string;
    size: number;
    sha256: string;
    team?: string | undefined;
    onProgress?: Progress | undefined;
  },
): Promise<string> {
  let uploadId = o.uploadId ?? (await remembered(o, o.sha256, o.modelName, o.size));
  let status: Pick<UploadPartsReply, 'partSize' | 'partCount' | 'uploaded'> | undefined;
  if (uploadId) {
    try {
      status = await partsOf(api, uploadId, []);
      o.onStep?.(`resuming upload ${uploadId}: ${status.uploaded.length} of ${status.partCount} parts already received`);
    } catch (e) {
      if (o.uploadId || !(e instanceof ApiError && [404, 409, 410].includes(e.status))) throw e;
      o.onStep?.(`upload ${uploadId} cannot be resumed (${e.code}): starting a new one`);
      uploadId = undefined;
    }
  }
  if (!uploadId || !status) {
    const up = await api.request<MultipartUploadReply>('POST', '/v1/registry/uploads', {
      modelName: o.modelName,
      size: o.size,
      multipart: true,
      sha256: o.sha256,
      ...(o.team ? { team: o.team } : {}),
    });
    uploadId = up.uploadId;
    status = { partSize: up.partSize, partCount: up.partCount, uploaded: [] };
    await remember(o, o.sha256, { apiUrl: o.apiUrl, modelName: o.modelName, size: o.size, uploadId });
  }
  const { partSize, partCount } = status;
  const sizeOf = (n: number) => (n < partCount ? partSize : o.size - partSize * (partCount - 1));
  // a part received with another size than the plan's is sent again (the store replaces it)
  const received = new Set(status.uploaded.filter((p) => p.size === sizeOf(p.partNumber)).map((p) => p.partNumber));
  const missing = Array.from({ length: partCount }, (_, i) => i + 1).filter((n) => !received.has(n));
  const alreadySent = [...received].reduce((sum, n) => sum + sizeOf(n), 0);
  if (received.size && missing.length) o.onStep?.(`sending ${missing.length} missing part(s)`);
  o.onProgress?.(alreadySent, o.size);
  // The state file names the upload only: which parts arrived is asked from the server, so
  // parts finishing out of order (or a run cut in the middle of some) leave nothing to correct.
  await sendParts(api, {
    ...o,
    uploadId,
    alreadySent,
    partCount,
    parts: missing.map((partNumber) => ({ partNumber, start: (partNumber - 1) * partSize, size: sizeOf(partNumber) })),
  });
  return uploadId;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { AegisError } from '../../kernel/errors.js';
import type { DownloadSource } from '../ports/object-store.js';

/** `bytes=N-` (a resumed download) as its start; any other Range is ignored and the whole object served. */
function rangeStart(header: string | undefined): number | undefined {
  const m = header === undefined ? null : /^bytes=(\d{1,16})-$/.exec(header.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * Serves a local download URL (`GET /v1/downloads/<key>?version&expires&sig`, made by the
 * filesystem store's `createDownloadUrl`): the signed version of `key`, whole or from the byte
 * a `Range: bytes=N-` names (206), so an interrupted download resumes.
 */
export async function serveDownload(
  source: DownloadSource | undefined,
  key: string,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  requestId: string,
): Promise<void> {
  if (!source) throw new AegisError('ROUTE_NOT_FOUND', 'downloads come from the presigned S3 URL');
  if (req.method !== 'GET') throw new AegisError('METHOD_NOT_ALLOWED', 'downloads are GET');
  const check = source.verifyDownloadUrl(key, query);
  if (!check.ok) {
    throw check.reason === 'expired'
      ? new AegisError('DOWNLOAD_EXPIRED', 'download URL has expired: ask the API for a new one', { field: 'url' })
      : new AegisError('FORBIDDEN', 'download URL signature is invalid', { field: 'url' });
  }
  const info = await source.head(key, { versionId: check.versionId });
  if (!info) throw new AegisError('OBJECT_NOT_FOUND', `no version ${check.versionId} of ${key}`, { field: 'key' });
  const start = rangeStart(req.headers.range);
  if (start !== undefined && start >= info.size && !(start === 0 && info.size === 0))
    throw new AegisError('RANGE_NOT_SATISFIABLE', `range starts at ${start}, past the ${info.size} bytes of the object`, {
      field: 'Range',
    });
  const body = await source.get(key, { versionId: check.versionId, ...(start ? { start } : {}) });
  const headers = {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    'x-request-id': requestId,
    'content-length': String(info.size - (start ?? 0)),
  };
  if (start) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${info.size - 1}/${info.size}` });
  else res.writeHead(200, headers);
  await pipeline(body, res);
}

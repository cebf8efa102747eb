import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, truncate } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError, type AegisClient, type Progress } from './client.js';

/** Hashes what a partial file already holds: a resumed download's hash covers every byte. */
async function hashExisting(file: string, h: Hash): Promise<number> {
  const size = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  if (size > 0) for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
  return size;
}

async function failure(res: IncomingMessage): Promise<ApiError> {
  let raw = '';
  for await (const chunk of res) if (raw.length < 4096) raw += chunk;
  const status = res.statusCode ?? 0;
  let code = `HTTP_${status}`;
  let message = raw.slice(0, 300);
  try {
    const e = (JSON.parse(raw) as { error?: { code: string; message: string } }).error;
    if (e) ({ code, message } = e);
  } catch {
    /* S3 answers in XML */
  }
  return new ApiError(status, code, `download failed: ${message}`);
}

/**
 * Streams a download URL into `part`, hashing as it goes. When `part` already holds the start
 * of the object (an interrupted download), asks only for the rest (`Range`) and hashes the
 * whole; a server that answers with the whole object instead starts the file over. Never
 * holds more than a chunk in memory.
 *
 * @example
 * const { sha256, size } = await downloadFile(api, ticket.url, `${out}.part`, { expectedSize: ticket.artifact.size });
 */
export async function downloadFile(
  api: AegisClient,
  url: string,
  part: string,
  opts: { expectedSize: number; onProgress?: Progress | undefined },
): Promise<{ sha256: string; size: number }> {
  let h = createHash('sha256');
  let have = await hashExisting(part, h);
  if (have > opts.expectedSize) {
    await truncate(part, 0);
    [h, have] = [createHash('sha256'), 0];
  }
  if (have === opts.expectedSize && have > 0) return { sha256: h.digest('hex'), size: have };
  const req = api.openUrl(url, 'GET', have > 0 ? { range: `bytes=${have}-` } : {});
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
  if (res.statusCode === 200 && have > 0) [h, have] = [createHash('sha256'), 0];
  else if (res.statusCode !== 200 && res.statusCode !== 206) throw await failure(res);
  let size = have;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      h.update(chunk);
      opts.onProgress?.(size, opts.expectedSize);
      cb(null, chunk);
    },
  });
  await pipeline(res, meter, createWriteStream(part, { flags: have > 0 ? 'a' : 'w', highWaterMark: 1024 * 1024 }));
  return { sha256: h.digest('hex'), size };
}

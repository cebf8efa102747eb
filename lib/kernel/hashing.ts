import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** sha256 (hex) and byte count of a stream, consumed chunk by chunk. */
export async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Buffer;
    size += buf.length;
    h.update(buf);
  }
  return { sha256: h.digest('hex'), size };
}

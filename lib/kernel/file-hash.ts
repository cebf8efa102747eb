/**
 * The sha256 of a file: on the user's machine an artifact before it is sent, the parts of a
 * multipart upload, a folder's files; in the local object store a multipart upload's assembled
 * bytes. Read through two buffers it reuses: the next read runs on the thread pool while this
 * thread hashes the last one. A read stream allocates a new buffer for every chunk, and on a
 * 1 GiB file that allocation (and the collection after it) costs more than the hashing: see
 * `npm run bench` (BENCH_ONLY=artifact and multipart).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Bytes per read: 1 MiB. */
export const HASH_CHUNK_BYTES = 1024 * 1024;

export interface FileRange {
  /** the first byte hashed @default 0 */
  start?: number | undefined;
  /** how many bytes from `start` (the file must hold them all); absent: to the end of the file */
  size?: number | undefined;
  /** called with the bytes of each chunk once it is hashed */
  onBytes?: ((n: number) => void) | undefined;
  /** bytes per read @default {@link HASH_CHUNK_BYTES} */
  chunkBytes?: number | undefined;
}

/**
 * The hex sha256 and byte count of `path`, or of `size` bytes from `start`. Throws when the
 * file ends before the range does (it was truncated, or the range is wrong).
 */
export async function hashFile(path: string, range: FileRange = {}): Promise<{ sha256: string; size: number }> {
  const chunk = range.chunkBytes ?? HASH_CHUNK_BYTES;
  const start = range.start ?? 0;
  const end = range.size === undefined ? Infinity : start + range.size;
  const fh = await open(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)] as const;
    const h = createHash('sha256');
    let position = start;
    let size = 0;
    const readInto = (i: 0 | 1) => fh.read(buffers[i], 0, Math.min(chunk, end - position), position);
    let i: 0 | 1 = 0;
    let pending = position < end ? readInto(i) : undefined;
    while (pending) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const filled = buffers[i];
      position += bytesRead;
      i = i === 0 ? 1 : 0;
      // the next read goes into the other buffer while this one is hashed
      pending = position < end ? readInto(i) : undefined;
      h.update(filled.subarray(0, bytesRead));
      size += bytesRead;
      range.onBytes?.(bytesRead);
    }
    if (range.size !== undefined && size !== range.size)
      throw new Error(`${path} ends at byte ${start + size}, before the ${range.size} bytes from ${start} asked for`);
    return { sha256: h.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

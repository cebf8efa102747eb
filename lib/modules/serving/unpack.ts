/**
 * Unpacking an artifact's `.tar.gz` in memory, defensively: the archive verified, but its
 * contents still must not escape (absolute paths, `..`), link elsewhere (symlinks, hard
 * links) or exhaust memory (a gzip bomb, millions of entries).
 */
import { Readable } from 'node:stream';
import { Gunzip } from 'fflate';
import { extract } from 'tar-stream';
import { SERVING_LIMITS } from './domain.js';

/** Why an archive was not unpacked (the loader turns it into an ARTIFACT_UNLOADABLE refusal). */
export class UnpackError extends Error {}

function gunzipBounded(bytes: Uint8Array, limit: number): Buffer {
  const parts: Uint8Array[] = [];
  let size = 0;
  const gz = new Gunzip((chunk) => {
    size += chunk.length;
    if (size > limit) throw new UnpackError(`the archive unpacks to more than ${limit} bytes`);
    parts.push(chunk);
  });
  try {
    // in 1 MiB slices, so a bomb is stopped after at most one slice past the limit
    for (let i = 0; i < bytes.length; i += 1024 * 1024) gz.push(bytes.subarray(i, i + 1024 * 1024), i + 1024 * 1024 >= bytes.length);
    if (bytes.length === 0) gz.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof UnpackError) throw e;
    throw new UnpackError(`not a gzip archive: ${(e as Error).message}`);
  }
  return Buffer.concat(parts);
}

/** A POSIX path inside the archive without a leading `./`; refuses anything that could escape. */
export function entryPath(name: string): string {
  const path = name.replace(/^(\.\/)+/, '');
  const segments = path.split('/');
  if (path === '' || path.startsWith('/') || segments.some((s) => s === '..') || path.includes('\\') || path.includes('\0'))
    throw new UnpackError(`unsafe path in the archive: ${JSON.stringify(name)}`);
  return path;
}

/**
 * The regular files of a `.tar.gz`, path → bytes. Directories are skipped; any other entry
 * type (symlink, hard link, device) refuses the archive.
 *
 * @throws UnpackError naming what was wrong.
 */
export async function unpackTarGz(bytes: Uint8Array): Promise<Map<string, Uint8Array>> {
  const tar = gunzipBounded(bytes, SERVING_LIMITS.maxUnpackedBytes);
  const files = new Map<string, Uint8Array>();
  const ex = extract();
  try {
    Readable.from([tar]).pipe(ex);
    for await (const entry of ex) {
      const { name, type } = entry.header;
      if (type === 'directory') {
        const dir = name.replace(/\/+$/, '');
        if (dir !== '' && dir !== '.') entryPath(dir);
        entry.resume();
        continue;
      }
      if (type !== 'file') throw new UnpackError(`the archive holds a ${type} entry (${JSON.stringify(name)}); only files are served`);
      const path = entryPath(name);
      if (files.has(path)) throw new UnpackError(`the archive holds ${path} twice`);
      if (files.size >= SERVING_LIMITS.maxFiles) throw new UnpackError(`the archive holds more than ${SERVING_LIMITS.maxFiles} files`);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.set(path, new Uint8Array(Buffer.concat(chunks)));
    }
  } catch (e) {
    ex.destroy();
    if (e instanceof UnpackError) throw e;
    throw new UnpackError(`not a tar archive: ${(e as Error).message}`);
  }
  return files;
}

/**
 * Deterministic `.tar.gz` of a folder: the same names and bytes give the same archive bytes on
 * every machine, so an archive's sha256 can stand in a training record for the folder itself.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { Gzip } from 'fflate';
import { pack as tarPack, type Header, type Pack } from 'tar-stream';
import { AegisError } from '../../kernel/errors.js';
import { lstatOrFail, progressReporter, READ_CHUNK, walkTree, type ProgressCallback, type TreeEntry } from './dataset-checksum.js';

/**
 * fflate's streaming output depends on how its input is split into `push` calls, so the tar
 * stream is re-cut into chunks of exactly this size before compression; 1 MiB matches the reads.
 */
const GZIP_CHUNK = 1024 * 1024;
const EPOCH = new Date(0);

export interface PackResult {
  /** Lowercase hex SHA-256 of the `.tar.gz` bytes, computed while writing them. */
  readonly sha256: string;
  readonly size: number;
  /** Tar entries written: files and directories, not the folder itself. */
  readonly entries: number;
}

const fail = (message: string, cause?: unknown) => new AegisError('VALIDATION_FAILED', message, { field: 'out', cause });

/**
 * Packs `dir` into a deterministic gzip-compressed ustar archive at `outFile`. Why each choice:
 *
 * - Entries are sorted by the UTF-8 bytes of their relative path (not readdir or locale order,
 *   which differ between machines); a directory is its own entry, named with a trailing '/' but
 *   sorted by its path without it, so it precedes its contents (a prefix sorts first), e.g.
 *   `w/`, `w-notes.txt`, `w/a.bin`. The folder itself is not an entry.
 * - mtime 0, uid/gid 0, empty uname/gname: build time and account must not change the bytes.
 * - Mode 0o755 for directories and for files with any execute bit, else 0o644: the only
 *   permission that matters after extraction is "executable"; umask and chmod noise must not.
 * - ustar headers via tar-stream; a name that does not fit ustar (non-ASCII or too long) gets a
 *   pax `path` record, itself built from the same fixed fields. Symlinks and special files are
 *   refused: their meaning depends on the machine.
 * - gzip by fflate (pure JS) at level 6 and memory level 8, both explicit, with mtime 0 and no
 *   file name: node:zlib output depends on the zlib build and CPU features, fflate's only on
 *   its version (pinned by the lockfile) and on the chunking, which is fixed (see GZIP_CHUNK).
 * - Streamed end to end with backpressure: memory stays a few MiB whatever the folder's size.
 * - Written to `outFile + '.tmp'`, fsynced, then renamed, so `outFile` is never a partial archive.
 *
 * @throws AegisError `VALIDATION_FAILED`, field `out`, for a missing folder, a symlink or special
 *   file in it, an output inside the folder, or a file changing size while packed.
 * @example
 * const { sha256, size } = await packDirectory('runs/42/model', 'runs/42/model.tar.gz');
 */
export async function packDirectory(dir: string, outFile: string, opts: { onProgress?: ProgressCallback } = {}): Promise<PackResult> {
  const root = resolve(dir);
  const out = resolve(outFile);
  if (!(await lstatOrFail(root, 'out', 'folder to pack', dir)).isDirectory()) throw fail(`folder to pack is not a directory: ${dir}`);
  const rel = relative(root, out);
  // An archive inside its own folder would end up in the next archive of that folder.
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)))
    throw fail(`the archive ${outFile} must not be inside the folder it packs (${dir})`);
  const entries = await walkTree(root, 'out', 'packed folder');
  const progress = progressReporter(
    entries.reduce((s, e) => s + (e.type === 'file' ? e.size : 0), 0),
    opts.onProgress,
  );

  const tmp = `${out}.tmp`;
  const sink = createWriteStream(tmp, { flush: true });
  const archive = tarPack();
  let sinkError: Error | undefined;
  // Without a listener a write error would crash the process; with it, the archive side stops too.
  sink.on('error', (e: NodeJS.ErrnoException) => {
    // A bad output path is the caller's to fix; anything else (a full disk) is not a validation error.
    sinkError ??= ['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EROFS'].includes(e.code ?? '')
      ? fail(`cannot write the archive ${tmp}: ${e.message}`, e)
      : e;
    archive.destroy(sinkError);
  });
  // Failures reach the caller through the awaited promises; this only keeps a late one from crashing the process.
  archive.on('error', () => {});
  const hash = createHash('sha256');
  let size = 0;
  try {
    await Promise.all([
      writeEntries(archive, entries, progress.add),
      compress(archive, sink, (bytes) => {
        hash.update(bytes);
        size += bytes.length;
      }),
    ]);
    if (sinkError) throw sinkError;
    await rename(tmp, out);
  } catch (err) {
    const e = sinkError ?? err;
    // Destroying with the error wakes whichever side is still waiting, so no file stays open.
    archive.destroy(e as Error);
    sink.destroy();
    await rm(tmp, { force: true });
    throw e;
  }
  progress.end();
  return { sha256: hash.digest('hex'), size, entries: entries.length };
}

/** The tar header of an entry: only its name, type, size and executable bit come from disk. */
function headerFor(e: TreeEntry): Partial<Header> & Pick<Header, 'name'> {
  const executable = e.type === 'directory' || (e.mode & 0o111) !== 0;
  return {
    name: e.type === 'directory' ? `${e.rel}/` : e.rel,
    type: e.type,
    size: e.type === 'file' ? e.size : 0,
    mode: executable ? 0o755 : 0o644,
    mtime: EPOCH,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
  };
}

/** Adds entries one at a time: tar-stream would queue later ones, but there is no point opening files early. */
async function writeEntries(archive: Pack, entries: readonly TreeEntry[], onBytes: (n: number) => void): Promise<void> {
  for (const e of entries) {
    await new Promise<void>((done, reject) => {
      // streamx streams are node EventEmitters with node's write/end/destroy contract; their
      // typings just lack node's Writable members, which events.once needs.
      const entry = archive.entry(headerFor(e), (err) => (err ? reject(err) : done())) as unknown as Writable;
      entry.on('error', reject); // the callback gets the same error; the listener stops it being thrown
      // A directory entry has no body; tar-stream finishes it on its own.
      if (e.type === 'file') copyFile(e, entry, onBytes).catch(reject);
    });
  }
  archive.finalize();
}

async function copyFile(e: TreeEntry, entry: Writable, onBytes: (n: number) => void): Promise<void> {
  let read = 0;
  try {
    for await (const chunk of createReadStream(e.abs, { highWaterMark: READ_CHUNK })) {
      read += (chunk as Buffer).length;
      // The header already declared the size: more bytes would corrupt the archive.
      if (read > e.size) break;
      if (!entry.write(chunk)) await once(entry, 'drain');
      onBytes((chunk as Buffer).length);
    }
  } catch (err) {
    const wrapped = fail(`could not read ${e.abs} while packing: ${(err as Error).message}`, err);
    entry.destroy(wrapped);
    throw wrapped;
  }
  if (read !== e.size) {
    const changed = fail(`${e.abs} changed size while being packed (${e.size} bytes when listed)`);
    entry.destroy(changed);
    throw changed;
  }
  entry.end();
}

/** Tar bytes → fixed-size chunks → fflate Gzip → file, waiting for the file whenever it is behind. */
async function compress(archive: Pack, sink: WriteStream, onOutput: (bytes: Uint8Array) => void): Promise<void> {
  const ready: Uint8Array[] = [];
  // Gzip calls back synchronously from push(); the output is collected and written after it.
  const gzip = new Gzip({ level: 6, mem: 8, mtime: 0 }, (data) => ready.push(data));
  const drainOutput = async () => {
    for (const data of ready.splice(0)) {
      onOutput(data);
      if (!sink.write(data)) await once(sink, 'drain');
    }
  };
  // fflate copies each pushed chunk into its own window, so one buffer can be reused.
  const buf = Buffer.allocUnsafe(GZIP_CHUNK);
  let fill = 0;
  for await (const item of archive) {
    const chunk = item as Buffer;
    for (let off = 0; off < chunk.length;) {
      const n = Math.min(GZIP_CHUNK - fill, chunk.length - off);
      chunk.copy(buf, fill, off, off + n);
      fill += n;
      off += n;
      if (fill === GZIP_CHUNK) {
        gzip.push(buf);
        fill = 0;
        await drainOutput();
      }
    }
  }
  gzip.push(buf.subarray(0, fill), true);
  await drainOutput();
  sink.end();
  await once(sink, 'close'); // after the fsync that `flush: true` asks for, so the rename is of a durable file
}

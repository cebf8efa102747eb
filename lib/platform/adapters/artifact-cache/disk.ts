import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactCache, CachedArtifact } from '../../ports/artifact-cache.js';

const SHA256 = /^[0-9a-f]{64}$/;
const INDEX = 'index.json';
const TEMP_PREFIX = '.tmp-';
/** A temp dir this old is a write that died (Lambda's longest invocation is 15 minutes). */
const STALE_TEMP_MS = 15 * 60_000;

interface Index {
  v: 1;
  sha256: string;
  artifactId: string;
  /** file i of the entry is `files/<i>` */
  files: { path: string; size: number; sha256: string }[];
  bytes: number;
}

export interface DiskArtifactCacheOptions {
  /** A directory private to this process (the Lambda container's `/tmp/…`). */
  dir: string;
  /** Entries are evicted, least recently used first, to keep the files within this many bytes; a larger artifact is not cached. */
  budgetBytes: number;
  /** A failed read or write, or an entry dropped because it no longer matches its index (logged; the load goes on uncached). */
  onError?: (what: string, e: unknown) => void;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * The {@link ArtifactCache} on a local disk: `<dir>/<sha256>/index.json` lists each file's
 * path, size and sha256 (taken from the verified unpacking), the files are `files/<i>`. An
 * entry is written in a temp dir and renamed into place, so a crash mid-write leaves no entry.
 * A hit re-hashes every file against the index (about as costly as reading them; no download,
 * no gunzip): a truncated, altered or missing file drops the entry. The index is trusted as
 * written: the directory is private to the container, and what this guards against is a
 * partial write or a damaged disk, not code running in the container (which could alter the
 * loaded model in memory just as well). Recency is the entry directory's mtime, touched on a hit.
 *
 * @example
 * const cache = new DiskArtifactCache({ dir: '/tmp/aegis-artifacts', budgetBytes: 512 * 2 ** 20 });
 */
export class DiskArtifactCache implements ArtifactCache {
  readonly #dir: string;
  readonly #budget: number;
  readonly #onError: (what: string, e: unknown) => void;

  constructor(opts: DiskArtifactCacheOptions) {
    if (!opts.dir) throw new Error('DiskArtifactCache needs a directory');
    if (!(Number.isSafeInteger(opts.budgetBytes) && opts.budgetBytes >= 0))
      throw new Error('budgetBytes must be a whole number of bytes >= 0');
    this.#dir = opts.dir;
    this.#budget = opts.budgetBytes;
    this.#onError = opts.onError ?? (() => undefined);
  }

  async get(sha256: string): Promise<CachedArtifact | undefined> {
    if (!SHA256.test(sha256)) return undefined;
    const entry = join(this.#dir, sha256);
    let index: Index;
    try {
      index = JSON.parse(await readFile(join(entry, INDEX), 'utf8')) as Index;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return this.#drop(entry, 'unreadable index', e);
    }
    try {
      if (index.v !== 1 || index.sha256 !== sha256 || !Array.isArray(index.files))
        return await this.#drop(entry, 'index does not match its key');
      const files = new Map<string, Uint8Array>();
      for (const [i, f] of index.files.entries()) {
        const bytes = await readFile(join(entry, 'files', String(i)));
        if (bytes.length !== f.size || sha(bytes) !== f.sha256) return await this.#drop(entry, `${f.path} differs from what was written`);
        files.set(f.path, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
      }
      const now = new Date();
      await utimes(entry, now, now).catch(() => undefined);
      return { files, artifactId: index.artifactId };
    } catch (e) {
      return this.#drop(entry, 'unreadable entry', e);
    }
  }

  async put(sha256: string, entry: { artifactId: string; files: ReadonlyMap<string, Uint8Array> }): Promise<void> {
    if (!SHA256.test(sha256)) return;
    const files = [...entry.files.entries()];
    const bytes = files.reduce((n, [, b]) => n + b.length, 0);
    if (bytes > this.#budget) return;
    const target = join(this.#dir, sha256);
    const temp = join(this.#dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      if (await exists(join(target, INDEX))) return;
      await this.#makeRoom(bytes);
      await mkdir(join(temp, 'files'), { recursive: true, mode: 0o700 });
      for (const [i, [, b]] of files.entries()) await writeFile(join(temp, 'files', String(i)), b);
      const index: Index = {
        v: 1,
        sha256,
        artifactId: entry.artifactId,
        files: files.map(([path, b]) => ({ path, size: b.length, sha256: sha(b) })),
        bytes,
      };
      await writeFile(join(temp, INDEX), JSON.stringify(index));
      try {
        await rename(temp, target);
      } catch (e) {
        // another load of the same bytes won the rename: its entry is as good as ours
        if (!['ENOTEMPTY', 'EEXIST'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      }
    } catch (e) {
      this.#onError('artifact cache write failed', e);
    } finally {
      await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Evicts least recently used entries until `incoming` more bytes fit the budget; removes dead temp dirs. */
  async #makeRoom(incoming: number): Promise<void> {
    const entries: { path: string; bytes: number; used: number }[] = [];
    for (const name of await readdir(this.#dir)) {
      const path = join(this.#dir, name);
      const s = await stat(path).catch(() => undefined);
      if (!s) continue;
      if (name.startsWith(TEMP_PREFIX)) {
        if (Date.now() - s.mtimeMs > STALE_TEMP_MS) await rm(path, { recursive: true, force: true });
        continue;
      }
      if (!SHA256.test(name)) continue;
      const index = await readFile(join(path, INDEX), 'utf8')
        .then((t) => JSON.parse(t) as Index)
        .catch(() => undefined);
      // an entry without a readable index cannot be used: it goes first
      entries.push({ path, bytes: index?.bytes ?? 0, used: index ? s.mtimeMs : -1 });
    }
    entries.sort((a, b) => a.used - b.used);
    let used = entries.reduce((n, e) => n + e.bytes, 0);
    for (const e of entries) {
      if (used + incoming <= this.#budget && e.used >= 0) break;
      await rm(e.path, { recursive: true, force: true });
      used -= e.bytes;
    }
  }

  async #drop(entry: string, why: string, e?: unknown): Promise<undefined> {
    this.#onError(`artifact cache entry dropped: ${why}`, e ?? new Error(why));
    await rm(entry, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

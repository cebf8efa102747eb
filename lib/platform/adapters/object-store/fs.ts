import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, rename, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AegisError } from '../../../kernel/errors.js';
import {
  HashMeter,
  assertListPrefix,
  assertObjectKey,
  assertPutOptions,
  assertRetainUntil,
  assertUploadUrlOptions,
  toReadable,
} from './rules.js';
import type {
  DownloadSource,
  DownloadUrlCheck,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  UploadSink,
  UploadUrlCheck,
  UploadUrlOptions,
} from '../../ports/object-store.js';
import { DurableFileWriter } from './fs-durable-writer.js';
import { collectKeys, isEnoent, newVersionId, readSidecar, toInfo, versionsDir, writeSidecar, type Sidecar } from './fs-versions.js';

export interface FsObjectStoreOptions {
  /** Folder holding every object version; created on first write. */
  root: string;
  /** Origin of the local server that accepts upload URLs, e.g. `http://127.0.0.1:8080`. */
  uploadBaseUrl?: string;
  /** HMAC key for upload URLs; required together with `uploadBaseUrl`. */
  uploadSecret?: Buffer | string;
}

const locked = (key: string, until: Date): AegisError =>
  new AegisError('RETENTION_LOCKED', `${key} is under retention until ${until.toISOString()}`, {
    field: 'key',
    details: { retainUntil: until.toISOString() },
  });
const notFound = (key: string, versionId?: string): AegisError =>
  new AegisError('OBJECT_NOT_FOUND', versionId ? `no version ${versionId} of ${key}` : `no object ${key}`, { field: 'key' });

/**
 * The local {@link ObjectStore}: every version of every key kept on disk, with
 * Object-Lock-style retention enforced here (S3 COMPLIANCE semantics: a locked version
 * can be neither deleted nor overwritten, and its retention only ever grows).
 *
 * Layout: `<root>/keys/<segment>/…/<segment>/@v/<versionId>.{bin,json}`. Bodies stream to
 * `<root>/tmp` and are renamed into place, so a reader never sees a partial version; the
 * JSON sidecar is written last and is what makes a version exist.
 *
 * @example
 * const store = new FsObjectStore({ root: '/var/aegis/objects' });
 * const info = await store.put('artifacts/m/1/artifact', createReadStream(file), { retainUntil });
 * (await store.get(info.key, { versionId: info.versionId })).pipe(process.stdout);
 */
export class FsObjectStore implements ObjectStore, UploadSink, DownloadSource {
  readonly #root: string;
  readonly #uploadBaseUrl?: string;
  readonly #uploadSecret?: Buffer;
  // Serialises check-then-write per key inside this process (retention check vs. commit).
  readonly #locks = new Map<string, Promise<void>>();

  constructor(opts: FsObjectStoreOptions) {
    this.#root = opts.root;
    if (opts.uploadBaseUrl !== undefined) this.#uploadBaseUrl = opts.uploadBaseUrl.replace(/\/+$/, '');
    if (opts.uploadSecret !== undefined) this.#uploadSecret = Buffer.from(opts.uploadSecret);
  }

  async put(key: string, body: Readable | Uint8Array | string, opts: PutOptions = {}): Promise<ObjectInfo> {
    assertObjectKey(key);
    assertPutOptions(opts, new Date());
    // Refuse early so a locked key does not cost a whole upload; re-checked at commit.
    await this.#assertWritable(key);
    const tmpDir = join(this.#root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${randomBytes(12).toString('hex')}.part`);
    try {
      const meter = new HashMeter(opts.expectedSize, opts.expectedSha256);
      // Open (create) the temp file before streaming: a lazily opened write stream could
      // create it after a failed pipeline's cleanup already ran, leaving it behind.
      const out = await open(tmp, 'wx');
      // ends once the bytes are durable, and closes the handle either way
      await pipeline(toReadable(body), meter, new DurableFileWriter(out));
      await chmod(tmp, 0o444);
      return await this.#withKeyLock(key, async () => {
        const latest = await this.#assertWritable(key);
        // Named at commit, not at start, so "latest" means the last write to finish, as on S3.
        const versionId = newVersionId(latest?.versionId);
        const dir = this.#versionsDir(key);
        await mkdir(dir, { recursive: true });
        await rename(tmp, join(dir, `${versionId}.bin`));
        const meta: Sidecar = { key, versionId, size: meter.bytesSeen, sha256: meter.sha256, lastModified: new Date().toISOString() };
        if (opts.retainUntil) meta.retainUntil = opts.retainUntil.toISOString();
        if (opts.contentType) meta.contentType = opts.contentType;
        if (opts.pendingUpload) meta.pendingUpload = true;
        await this.#writeSidecar(key, meta);
        return toInfo(meta);
      });
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async get(key: string, opts: { versionId?: string; start?: number } = {}): Promise<Readable> {
    const meta = await this.#resolve(key, opts.versionId);
    if (!meta) throw notFound(key, opts.versionId);
    try {
      // Open before returning so a concurrent delete cannot turn into a stream error later.
      const fh = await open(join(this.#versionsDir(key), `${meta.versionId}.bin`), 'r');
      return fh.createReadStream({ highWaterMark: 1024 * 1024, ...(opts.start ? { start: opts.start } : {}) }); // 1 MiB reads: ~2× the hashing throughput of 64 KiB
    } catch (e) {
      if (isEnoent(e)) throw notFound(key, opts.versionId);
      throw e;
    }
  }

  async head(key: string, opts: { versionId?: string } = {}): Promise<ObjectInfo | undefined> {
    const meta = await this.#resolve(key, opts.versionId);
    return meta && toInfo(meta);
  }

  async delete(key: string, opts: { versionId?: string } = {}): Promise<void> {
    await this.#withKeyLock(key, async () => {
      const meta = await this.#resolve(key, opts.versionId);
      if (!meta) throw notFound(key, opts.versionId);
      if (meta.retainUntil && new Date(meta.retainUntil) > new Date()) throw locked(key, new Date(meta.retainUntil));
      const dir = this.#versionsDir(key);
      await unlink(join(dir, `${meta.versionId}.json`));
      await unlink(join(dir, `${meta.versionId}.bin`)).catch((e) => (isEnoent(e) ? undefined : Promise.reject(e)));
      // Only the key's own folder: parent folders may be mid-mkdir for another key.
      await rmdir(dir).catch(() => undefined);
    });
  }

  async retain(key: string, versionId: string, until: Date): Promise<void> {
    await this.#withKeyLock(key, async () => {
      const meta = await this.#resolve(key, versionId);
      if (!meta) throw notFound(key, versionId);
      const now = new Date();
      const current = meta.retainUntil ? new Date(meta.retainUntil) : undefined;
      if (current && current > now && until < current) throw locked(key, current);
      assertRetainUntil(until, now);
      await this.#writeSidecar(key, { ...meta, retainUntil: until.toISOString() });
    });
  }

  async clearPendingUpload(key: string, versionId: string): Promise<void> {
    await this.#withKeyLock(key, async () => {
      const meta = await this.#resolve(key, versionId);
      if (!meta) throw notFound(key, versionId);
      if (!meta.pendingUpload) return;
      const { pendingUpload: _, ...rest } = meta;
      await this.#writeSidecar(key, rest);
    });
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertListPrefix(prefix);
    const dirPart = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const segments = dirPart.split('/').slice(0, -1);
    // A prefix naming `..` could otherwise walk outside the store.
    if (segments.some((s) => s === '' || s === '.' || s === '..')) return;
    const keys: string[] = [];
    await collectKeys(join(this.#root, 'keys', ...segments), segments, keys);
    // Sorted after the walk: `a.c` sorts before `a/b`, which a depth-first walk would not give.
    keys.sort();
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const meta = await this.#resolve(key);
      if (meta) yield toInfo(meta);
    }
  }

  async createUploadUrl(key: string, opts: UploadUrlOptions): Promise<{ url: string; headers: Record<string, string> }> {
    assertObjectKey(key);
    if (!this.#uploadBaseUrl || !this.#uploadSecret)
      throw new Error('FsObjectStore needs uploadBaseUrl and uploadSecret to create upload URLs');
    assertUploadUrlOptions(opts);
    await this.#assertWritable(key);
    const expires = Math.floor(Date.now() / 1000) + opts.expiresInSeconds;
    const query = new URLSearchParams({
      expires: String(expires),
      sig: this.#sign(key, String(expires), opts.contentLength?.toString() ?? '', opts.sha256),
    });
    if (opts.contentLength !== undefined) query.set('size', String(opts.contentLength));
    if (opts.sha256 !== undefined) query.set('sha256', opts.sha256);
    return { url: `${this.#uploadBaseUrl}/v1/uploads/${key}?${query}`, headers: {} };
  }

  async createDownloadUrl(key: string, opts: { versionId: string; expiresInSeconds: number }): Promise<{ url: string }> {
    if (!this.#uploadBaseUrl || !this.#uploadSecret)
      throw new Error('FsObjectStore needs uploadBaseUrl and uploadSecret to create download URLs');
    if (!(await this.#resolve(key, opts.versionId))) throw notFound(key, opts.versionId);
    const expires = String(Math.floor(Date.now() / 1000) + opts.expiresInSeconds);
    const query = new URLSearchParams({ version: opts.versionId, expires, sig: this.#signGet(key, opts.versionId, expires) });
    return { url: `${this.#uploadBaseUrl}/v1/downloads/${key}?${query}` };
  }

  /** Checks the query of a download URL made by {@link createDownloadUrl} for `key`. */
  verifyDownloadUrl(key: string, query: URLSearchParams, now = new Date()): DownloadUrlCheck {
    if (!this.#uploadSecret) throw new Error('FsObjectStore needs uploadSecret to verify download URLs');
    const [versionId, expires, sig] = [query.get('version') ?? '', query.get('expires') ?? '', query.get('sig') ?? ''];
    if (!/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(sig) || versionId === '') return { ok: false, reason: 'bad-signature' };
    const expected = Buffer.from(this.#signGet(key, versionId, expires), 'hex');
    if (!timingSafeEqual(Buffer.from(sig, 'hex'), expected)) return { ok: false, reason: 'bad-signature' };
    if (now.getTime() > Number(expires) * 1000) return { ok: false, reason: 'expired' };
    return { ok: true, versionId };
  }

  // A distinct first line: an upload URL's signature never passes as a download's, nor back.
  #signGet(key: string, versionId: string, expires: string): string {
    return createHmac('sha256', this.#uploadSecret!).update(`GET\n${key}\n${versionId}\n${expires}`).digest('hex');
  }

  /** Checks the query of an upload URL made by {@link createUploadUrl} for `key`. */
  verifyUploadUrl(key: string, query: URLSearchParams, now = new Date()): UploadUrlCheck {
    if (!this.#uploadSecret) throw new Error('FsObjectStore needs uploadSecret to verify upload URLs');
    const expires = query.get('expires') ?? '';
    const size = query.get('size');
    const sha256 = query.get('sha256');
    const sig = query.get('sig') ?? '';
    if (
      !/^\d{1,12}$/.test(expires) ||
      (size !== null && !/^\d{1,16}$/.test(size)) ||
      (sha256 !== null && !/^[0-9a-f]{64}$/.test(sha256)) ||
      !/^[0-9a-f]{64}$/.test(sig)
    ) {
      return { ok: false, reason: 'bad-signature' };
    }
    const expected = Buffer.from(this.#sign(key, expires, size ?? '', sha256 ?? undefined), 'hex');
    if (!timingSafeEqual(Buffer.from(sig, 'hex'), expected)) return { ok: false, reason: 'bad-signature' };
    if (now.getTime() > Number(expires) * 1000) return { ok: false, reason: 'expired' };
    return { ok: true, ...(size !== null && { contentLength: Number(size) }), ...(sha256 !== null && { sha256 }) };
  }

  // The sha256 line only when the URL binds one: URLs issued before it existed keep verifying.
  #sign(key: string, expires: string, contentLength: string, sha256?: string): string {
    const message = `PUT\n${key}\n${expires}\n${contentLength}${sha256 === undefined ? '' : `\n${sha256}`}`;
    return createHmac('sha256', this.#uploadSecret!).update(message).digest('hex');
  }

  #versionsDir(key: string): string {
    return versionsDir(this.#root, key);
  }

  /** Refuses when the latest version is under retention; returns that version otherwise. */
  async #assertWritable(key: string): Promise<Sidecar | undefined> {
    const latest = await this.#resolve(key);
    if (latest?.retainUntil && new Date(latest.retainUntil) > new Date()) throw locked(key, new Date(latest.retainUntil));
    return latest;
  }

  /** The sidecar of a version (the latest when no id), or undefined. */
  async #resolve(key: string, versionId?: string): Promise<Sidecar | undefined> {
    assertObjectKey(key);
    return readSidecar(this.#versionsDir(key), versionId);
  }

  async #writeSidecar(key: string, meta: Sidecar): Promise<void> {
    await writeSidecar(this.#versionsDir(key), meta);
  }

  async #withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const mine = previous.then(() => gate);
    this.#locks.set(key, mine);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(key) === mine) this.#locks.delete(key);
    }
  }
}

import { chmod, link, mkdir, open, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  assertListPrefix,
  assertObjectKey,
  assertPutOptions,
  assertRetainUntil,
  assertUploadUrlOptions,
  assertPartUrlRequest,
  assertPartBytes,
  noMultipart,
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
  UploadedPart,
} from '../../ports/object-store.js';
import { FsMultipartParts } from './fs-multipart.js';
import { FsSignedUrls } from './fs-signed-urls.js';
import { writeTemp } from './fs-temp.js';
import {
  KeyLocks,
  collectKeys,
  isEnoent,
  locked,
  newVersionId,
  notFound,
  publishVersion,
  type Placement,
  readSidecar,
  toInfo,
  versionsDir,
  writeSidecar,
  type Sidecar,
} from './fs-versions.js';

export interface FsObjectStoreOptions {
  /** Folder holding every object version; created on first write. */
  root: string;
  /** Origin of the local server that accepts upload URLs, e.g. `http://127.0.0.1:8080`. */
  uploadBaseUrl?: string;
  /** HMAC key for upload URLs; required together with `uploadBaseUrl`. */
  uploadSecret?: Buffer | string;
}

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
  readonly #urls: FsSignedUrls;
  // Serialises check-then-write per key inside this process (retention check vs. commit).
  readonly #locks = new KeyLocks();
  readonly #parts: FsMultipartParts;

  constructor(opts: FsObjectStoreOptions) {
    this.#root = opts.root;
    this.#parts = new FsMultipartParts(opts.root);
    this.#urls = new FsSignedUrls(opts.uploadBaseUrl, opts.uploadSecret);
  }

  async put(key: string, body: Readable | Uint8Array | string, opts: PutOptions = {}): Promise<ObjectInfo> {
    assertObjectKey(key);
    assertPutOptions(opts, new Date());
    // Refuse a stream early so a locked key does not cost a whole upload; re-checked at commit.
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) await this.#assertWritable(key);
    const temp = await writeTemp(join(this.#root, 'tmp'), body, opts);
    try {
      // the bytes' last fsync runs beside the sidecar's
      return await this.#commit(key, { ...opts, size: temp.size, sha256: temp.sha256 }, temp);
    } finally {
      await temp.release();
    }
  }

  /** Bytes become a version ({@link publishVersion}: made durable, placed, sidecar last); the lock check repeated. */
  async #commit(key: string, m: PutOptions & { size: number; sha256: string }, bytes: Placement): Promise<ObjectInfo> {
    return this.#locks.run(key, async () => {
      const latest = await this.#assertWritable(key);
      const versionId = newVersionId(latest?.versionId); // named at commit: "latest" is the last write to finish, as on S3
      const dir = this.#versionsDir(key);
      await mkdir(dir, { recursive: true });
      const meta: Sidecar = { key, versionId, size: m.size, sha256: m.sha256, lastModified: new Date().toISOString() };
      if (m.retainUntil) meta.retainUntil = m.retainUntil.toISOString();
      if (m.contentType) meta.contentType = m.contentType;
      if (m.pendingUpload) meta.pendingUpload = true;
      await publishVersion(dir, meta, bytes);
      return toInfo(meta);
    });
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
    await this.#locks.run(key, async () => {
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
    await this.#locks.run(key, async () => {
      const meta = await this.#retained(key, versionId, until);
      await writeSidecar(this.#versionsDir(key), { ...meta, retainUntil: until.toISOString() });
    });
  }

  async claimUpload(key: string, versionId: string, retainUntil: Date): Promise<void> {
    await this.#locks.run(key, async () => {
      const { pendingUpload: _, ...meta } = await this.#retained(key, versionId, retainUntil);
      await writeSidecar(this.#versionsDir(key), { ...meta, retainUntil: retainUntil.toISOString() });
    });
  }

  /** The version's metadata, once retention until `until` is allowed on it (never shortened). */
  async #retained(key: string, versionId: string, until: Date): Promise<Sidecar> {
    const meta = await this.#resolve(key, versionId);
    if (!meta) throw notFound(key, versionId);
    const now = new Date();
    const current = meta.retainUntil ? new Date(meta.retainUntil) : undefined;
    if (current && current > now && until < current) throw locked(key, current);
    assertRetainUntil(until, now);
    return meta;
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
    this.#urls.assertCanSign('upload');
    assertUploadUrlOptions(opts);
    await this.#assertWritable(key);
    return { url: this.#urls.upload(key, opts), headers: {} };
  }

  async startMultipartUpload(key: string, opts: { partBytes?: number } = {}): Promise<void> {
    assertObjectKey(key);
    if (opts.partBytes !== undefined) assertPartBytes(opts.partBytes);
    await this.#assertWritable(key);
    if (!(await this.#parts.inProgress(key))) await this.#parts.start(key, opts.partBytes);
  }

  async createPartUploadUrls(
    key: string,
    parts: readonly { partNumber: number; contentLength: number; sha256?: string }[],
    opts: { expiresInSeconds: number },
  ): Promise<{ partNumber: number; url: string; headers: Record<string, string> }[]> {
    assertObjectKey(key);
    this.#urls.assertCanSign('upload');
    if (!(await this.#parts.inProgress(key))) throw noMultipart(key);
    return parts.map(({ partNumber, contentLength, sha256 }) => {
      assertPartUrlRequest({ partNumber, contentLength, ...(sha256 !== undefined && { sha256 }) }, opts.expiresInSeconds);
      const url = this.#urls.part(key, { partNumber, contentLength, ...(sha256 !== undefined && { sha256 }) }, opts.expiresInSeconds);
      return { partNumber, url, headers: {} };
    });
  }

  async putPart(
    key: string,
    partNumber: number,
    body: Readable,
    opts: Pick<PutOptions, 'expectedSize' | 'expectedSha256'>,
  ): Promise<UploadedPart> {
    assertObjectKey(key);
    assertPutOptions(opts, new Date());
    return this.#parts.put(key, partNumber, body, opts);
  }

  async listUploadedParts(key: string): Promise<UploadedPart[] | undefined> {
    assertObjectKey(key);
    return this.#parts.list(key);
  }

  async completeMultipartUpload(key: string, opts: { partCount: number; expectedSize: number }): Promise<ObjectInfo> {
    assertObjectKey(key);
    const whole = await this.#parts.assemble(key, opts);
    // parts written in place: the upload's file becomes the version, linked (the upload intact until the sidecar exists)
    const info = whole
      ? await this.#commit(
          key,
          { size: whole.size, sha256: whole.sha256, pendingUpload: true },
          {
            place: (bin) => link(whole.path, bin).then(() => chmod(bin, 0o444)), // its parts were made durable as they arrived
          },
        )
      : // an upload started without a part size: its parts are joined into a version, hashed like any upload
        await this.put(key, await this.#parts.joined(key, opts), { pendingUpload: true, expectedSize: opts.expectedSize });
    await this.#parts.abort(key);
    return info;
  }

  async abortMultipartUpload(key: string): Promise<void> {
    assertObjectKey(key);
    await this.#parts.abort(key);
  }

  async createDownloadUrl(key: string, opts: { versionId: string; expiresInSeconds: number }): Promise<{ url: string }> {
    this.#urls.assertCanSign('download');
    if (!(await this.#resolve(key, opts.versionId))) throw notFound(key, opts.versionId);
    return { url: this.#urls.download(key, opts.versionId, opts.expiresInSeconds) };
  }

  /** Checks the query of a download URL made by {@link createDownloadUrl} for `key`. */
  verifyDownloadUrl(key: string, query: URLSearchParams, now = new Date()): DownloadUrlCheck {
    return this.#urls.verifyDownload(key, query, now);
  }

  /** Checks the query of an upload URL made by {@link createUploadUrl} or {@link createPartUploadUrls} for `key`. */
  verifyUploadUrl(key: string, query: URLSearchParams, now = new Date()): UploadUrlCheck {
    return this.#urls.verifyUpload(key, query, now);
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
}

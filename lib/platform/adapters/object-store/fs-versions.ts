/**
 * How the filesystem store lays versions out on disk: `<root>/keys/<segment>/…/<segment>/@v/`
 * holds `<versionId>.bin` (the bytes) and `<versionId>.json` (the sidecar, written last: what
 * makes a version exist).
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AegisError } from '../../../kernel/errors.js';
import type { ObjectInfo } from '../../ports/object-store.js';

/** A version's metadata, as its JSON sidecar stores it. */
export interface Sidecar {
  key: string;
  versionId: string;
  size: number;
  sha256: string;
  lastModified: string;
  retainUntil?: string;
  contentType?: string;
  pendingUpload?: true;
}

// `@` can never appear in a key, so the versions folder of `a` cannot collide with key `a/v`.
const VERSIONS_DIR = '@v';
const VERSION_ID = /^[0-9a-z]{12}-[0-9a-f]{12}$/;

/** Serialises work per name inside this process (a check, then the write it allows). */
export class KeyLocks {
  readonly #locks = new Map<string, Promise<void>>();

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const mine = previous.then(() => gate);
    this.#locks.set(name, mine);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(name) === mine) this.#locks.delete(name);
    }
  }
}

export const locked = (key: string, until: Date): AegisError =>
  new AegisError('RETENTION_LOCKED', `${key} is under retention until ${until.toISOString()}`, {
    field: 'key',
    details: { retainUntil: until.toISOString() },
  });
export const notFound = (key: string, versionId?: string): AegisError =>
  new AegisError('OBJECT_NOT_FOUND', versionId ? `no version ${versionId} of ${key}` : `no object ${key}`, { field: 'key' });

export const isEnoent = (e: unknown): boolean => (e as NodeJS.ErrnoException)?.code === 'ENOENT';

export const versionsDir = (root: string, key: string): string => join(root, 'keys', ...key.split('/'), VERSIONS_DIR);

let lastStamp = 0;
/**
 * Ordered (the greatest id of a key is its latest version) even if the clock steps back,
 * because it is always after the key's current latest; the random tail keeps ids of
 * different processes apart.
 */
export function newVersionId(after?: string): string {
  const floor = after ? parseInt(after.slice(0, 12), 36) : 0;
  lastStamp = Math.max(Date.now() * 1000, lastStamp + 1, floor + 1);
  return `${lastStamp.toString(36).padStart(12, '0')}-${randomBytes(6).toString('hex')}`;
}

/** The sidecar of a version in `dir` (the latest when no id), or undefined. */
export async function readSidecar(dir: string, versionId?: string): Promise<Sidecar | undefined> {
  let id = versionId;
  if (id === undefined) {
    const names = await readdir(dir).catch((e) => (isEnoent(e) ? [] : Promise.reject(e)));
    id = names
      .filter((n) => n.endsWith('.json'))
      .sort()
      .at(-1)
      ?.slice(0, -'.json'.length);
    if (id === undefined) return undefined;
  } else if (!VERSION_ID.test(id)) {
    return undefined; // never let a caller-supplied id become a path
  }
  try {
    return JSON.parse(await readFile(join(dir, `${id}.json`), 'utf8')) as Sidecar;
  } catch (e) {
    if (isEnoent(e)) return undefined;
    throw e;
  }
}

/** A sidecar written durably beside its final name: {@link publish} renames it into place (what makes the version exist). */
export interface StagedSidecar {
  publish(): Promise<void>;
  /** Removes the temp file when it was not published (after a publish: nothing to do). */
  discard(): Promise<void>;
}

/** Writes a sidecar's temp file with fsync, to be published by a rename. */
export async function stageSidecar(dir: string, meta: Sidecar): Promise<StagedSidecar> {
  const tmp = join(dir, `.${meta.versionId}.${randomBytes(4).toString('hex')}.tmp`);
  let published = false;
  const discard = async () => void (published || (await unlink(tmp).catch(() => undefined)));
  try {
    await writeFile(tmp, JSON.stringify(meta), { flag: 'wx', flush: true });
  } catch (e) {
    await discard();
    throw e;
  }
  const publish = () => rename(tmp, join(dir, `${meta.versionId}.json`)).then(() => void (published = true));
  return { publish, discard };
}

/** How a version's bytes reach its `.bin`, and (when they are not yet) become durable. */
export interface Placement {
  place(bin: string): Promise<void>;
  durable?(): Promise<void>;
}

/**
 * Makes a version exist: its sidecar is staged while `durable` makes the bytes durable (the two
 * fsyncs at once), then `place` puts the bytes at `<versionId>.bin` and the sidecar is published
 * last. Nothing is renamed before both are durable; a failure leaves no version.
 */
export async function publishVersion(dir: string, meta: Sidecar, { place, durable }: Placement): Promise<void> {
  const [staged, synced] = await Promise.allSettled([stageSidecar(dir, meta), durable?.()]);
  if (staged.status === 'rejected') throw staged.reason;
  try {
    if (synced.status === 'rejected') throw synced.reason;
    await place(join(dir, `${meta.versionId}.bin`));
    await staged.value.publish();
  } finally {
    await staged.value.discard();
  }
}

/** Writes a sidecar atomically (temp file, then rename). */
export async function writeSidecar(dir: string, meta: Sidecar): Promise<void> {
  const staged = await stageSidecar(dir, meta);
  try {
    await staged.publish();
  } finally {
    await staged.discard();
  }
}

/** Every key under `dir` (whose path segments are `segments`), depth first. */
export async function collectKeys(dir: string, segments: string[], out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((e) => (isEnoent(e) ? [] : Promise.reject(e)));
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    if (entry.name === VERSIONS_DIR) out.push(segments.join('/'));
    else await collectKeys(join(dir, entry.name), [...segments, entry.name], out);
  }
}

export function toInfo(meta: Sidecar): ObjectInfo {
  const info: ObjectInfo = {
    key: meta.key,
    versionId: meta.versionId,
    size: meta.size,
    sha256: meta.sha256,
    lastModified: new Date(meta.lastModified),
  };
  // only the store's put() writes sidecars, and it hashed the bytes as they arrived
  if (meta.sha256) info.receivedSha256 = meta.sha256;
  if (meta.retainUntil) info.retainUntil = new Date(meta.retainUntil);
  if (meta.pendingUpload) info.pendingUpload = true;
  return info;
}

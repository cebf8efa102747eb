/**
 * The serving Lambda's /tmp cache of verified, unpacked artifacts (DiskArtifactCache) under the
 * real loader and the real filesystem object store: a second load reads no artifact bytes, a
 * damaged entry is dropped and fetched again, the budget evicts the least recently used entry,
 * and what can change after a load (verification, quarantine) is checked again on every hit.
 */
import { mkdtemp, readdir, rm, stat, writeFile, mkdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, sha256Hex } from '../../lib/kernel/canonical.js';
import { DiskArtifactCache } from '../../lib/platform/adapters/artifact-cache/disk.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import type { ModelRuntime } from '../../lib/platform/ports/model-runtime.js';
import type { ObjectStore } from '../../lib/platform/ports/object-store.js';
import { isRefusal, loadArtifact, servable, type LoaderDeps } from '../../lib/modules/serving/loader.js';
import type { ArtifactRecord } from '../../lib/modules/registry/service.js';
import { tarGz } from '../support/tar.js';

/** Answers with the `answer` of its model.json. */
const runtime: ModelRuntime = {
  format: 'fake',
  accepts: (files) => files.has('model.json'),
  load: async (files) => {
    const { answer } = JSON.parse(Buffer.from(files.get('model.json')!).toString()) as { answer: string };
    return { format: 'fake', features: ['x'], predict: async (rows) => rows.map(() => ({ label: answer })), close: async () => undefined };
  },
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aegis-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MANIFEST = { artifactId: 'x' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The real fs store holding `artifacts` (id → bytes) and their manifest sidecars, with every get counted. */
async function world(artifacts: Record<string, Buffer>, budgetBytes = 1024 ** 2) {
  const fs = new FsObjectStore({ root: join(dir, 'store') });
  const records = new Map<string, ArtifactRecord>();
  for (const [id, bytes] of Object.entries(artifacts)) {
    const { versionId } = await fs.put(`artifacts/${id}`, bytes);
    await fs.put(`manifests/${id}`, `${canonicalJson(MANIFEST)}\n`);
    records.set(id, {
      artifactId: id,
      modelName: 'm',
      version: 1,
      sha256: sha256Hex(bytes),
      size: bytes.length,
      storage: { key: `artifacts/${id}`, versionId, manifestKey: `manifests/${id}`, signatureKey: `signatures/${id}` },
      manifest: MANIFEST as never,
      manifestSha256: sha256Hex(canonicalJson(MANIFEST)),
      signature: { manifestSignatureId: `sig-${id}`, signerId: 'k', alg: 'ed25519', signature: 'x', ts: '2026-01-01T00:00:00Z' } as never,
      createdBy: 't',
      createdAt: '2026-01-01T00:00:00Z',
    });
  }
  const reads: string[] = [];
  const store = new Proxy(fs, {
    get(target, prop) {
      if (prop === 'get')
        return (key: string, opts?: { versionId?: string }) => {
          reads.push(key);
          return target.get(key, opts);
        };
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as ObjectStore;
  const verifications: { artifactId: string; hashed: unknown }[] = [];
  const verdict = { ok: true, quarantined: undefined as undefined | { reason: string } };
  const cacheErrors: string[] = [];
  const cache = new DiskArtifactCache({ dir: join(dir, 'cache'), budgetBytes, onError: (what) => cacheErrors.push(what) });
  const deps: LoaderDeps = {
    registry: { get: async (id: string) => records.get(id) },
    verification: {
      validateArtifact: async (artifactId: string, opts?: { hashed?: unknown }) => {
        verifications.push({ artifactId, hashed: opts?.hashed });
        return {
          ok: verdict.ok && !verdict.quarantined,
          artifactId,
          signerId: 'k',
          checks: verdict.ok ? [] : [{ check: 'signer-window', ok: false, reason: 'the key was revoked' }],
          ...(verdict.quarantined && { quarantined: verdict.quarantined as never }),
        } as never;
      },
    },
    store,
    runtimes: [runtime],
    cache,
  };
  return { deps, reads, records, verifications, verdict, cacheErrors, cacheDir: join(dir, 'cache') };
}

async function answer(deps: LoaderDeps, artifactId: string): Promise<string> {
  const served = await loadArtifact(deps, artifactId);
  if (isRefusal(served)) throw new Error(`refused: ${served.reason}`);
  return String((await served.model.predict([[1]]))[0]!.label);
}

it('loads the same artifact a second time without reading the object store, verifying it again from the database', async () => {
  const bytes = await tarGz({ 'model.json': JSON.stringify({ answer: 'yes' }) });
  const w = await world({ a1: bytes });
  expect(await answer(w.deps, 'a1')).toBe('yes');
  // the pinned bytes and the manifest sidecar, once each: verification is handed the hash, not a second read
  expect(w.reads).toEqual(['artifacts/a1', 'manifests/a1']);
  expect(w.verifications).toEqual([{ artifactId: 'a1', hashed: { sha256: sha256Hex(bytes), size: bytes.length } }]);
  expect(await readdir(w.cacheDir)).toEqual([sha256Hex(bytes)]);

  expect(await answer(w.deps, 'a1')).toBe('yes');
  expect(w.reads).toEqual(['artifacts/a1', 'manifests/a1']);
  expect(w.verifications).toHaveLength(2);
  expect(w.cacheErrors).toEqual([]);
});

it('refuses a cached artifact once verification fails (a revoked key, a quarantine): a hit is checked again every load', async () => {
  const w = await world({ a1: await tarGz({ 'model.json': JSON.stringify({ answer: 'yes' }) }) });
  expect(await answer(w.deps, 'a1')).toBe('yes');
  w.verdict.ok = false;
  expect(await loadArtifact(w.deps, 'a1')).toEqual({ code: 'ARTIFACT_UNVERIFIED', reason: 'signer-window: the key was revoked' });
  w.verdict.ok = true;
  w.verdict.quarantined = { reason: 'leaked training data' };
  expect(await loadArtifact(w.deps, 'a1')).toMatchObject({ code: 'ARTIFACT_UNVERIFIED', reason: expect.stringContaining('quarantined') });
  expect(w.reads).toEqual(['artifacts/a1', 'manifests/a1']);
});

it('checks the manifest sidecar of another artifact with the same bytes, but reads none of its artifact bytes', async () => {
  const bytes = await tarGz({ 'model.json': JSON.stringify({ answer: 'same' }) });
  const w = await world({ a1: bytes, a2: bytes });
  expect(await answer(w.deps, 'a1')).toBe('same');
  expect(await answer(w.deps, 'a2')).toBe('same');
  expect(w.reads).toEqual(['artifacts/a1', 'manifests/a1', 'manifests/a2']);
});

it('detects a damaged cache entry, drops it and fetches the artifact again', async () => {
  const bytes = await tarGz({ 'model.json': JSON.stringify({ answer: 'yes' }), 'extra.bin': 'x'.repeat(100) });
  const w = await world({ a1: bytes });
  expect(await answer(w.deps, 'a1')).toBe('yes');
  const entry = join(w.cacheDir, sha256Hex(bytes));
  // the answer changed on disk: a hit would serve a model that never verified
  await writeFile(join(entry, 'files', '0'), JSON.stringify({ answer: 'NO!' }));
  expect(await answer(w.deps, 'a1')).toBe('yes');
  expect(w.reads).toEqual(['artifacts/a1', 'manifests/a1', 'artifacts/a1', 'manifests/a1']);
  expect(w.cacheErrors).toEqual(['artifact cache entry dropped: model.json differs from what was written']);
  // written again, and good: the next load reads nothing
  expect(await answer(w.deps, 'a1')).toBe('yes');
  expect(w.reads).toHaveLength(4);
  // a truncated file, and a missing one, likewise
  await writeFile(join(entry, 'files', '1'), 'x'.repeat(10));
  expect(await answer(w.deps, 'a1')).toBe('yes');
  await rm(join(entry, 'files', '1'));
  expect(await answer(w.deps, 'a1')).toBe('yes');
  expect(w.reads).toHaveLength(8);
  expect(w.cacheErrors).toHaveLength(3);
});

it('keeps within its budget by evicting the least recently used entry, and never caches an artifact larger than the budget', async () => {
  const files = (answer: string) => new Map([['model.json', Buffer.from(JSON.stringify({ answer, pad: 'p'.repeat(80) }))]]);
  const size = files('a').get('model.json')!.length;
  const cache = new DiskArtifactCache({ dir: join(dir, 'cache'), budgetBytes: size * 2 + 10 });
  const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(64));
  await cache.put(a!, { artifactId: 'A', files: files('a') });
  await sleep(20);
  await cache.put(b!, { artifactId: 'B', files: files('b') });
  await sleep(20);
  // a is used again: b is now the least recently used
  expect((await cache.get(a!))?.artifactId).toBe('A');
  await sleep(20);
  await cache.put(c!, { artifactId: 'C', files: files('c') });
  expect((await readdir(join(dir, 'cache'))).sort()).toEqual([a, c]);
  expect(await cache.get(b!)).toBeUndefined();
  expect(Buffer.from((await cache.get(c!))!.files.get('model.json')!).toString()).toContain('"answer":"c"');

  const big = new Map([['model.json', Buffer.alloc(size * 3)]]);
  await cache.put('d'.repeat(64), { artifactId: 'D', files: big });
  expect((await readdir(join(dir, 'cache'))).sort()).toEqual([a, c]);
});

it('removes the temp dirs of writes that died, and never reads a half-written entry', async () => {
  const cacheDir = join(dir, 'cache');
  const cache = new DiskArtifactCache({ dir: cacheDir, budgetBytes: 1024 ** 2 });
  // a write killed before its rename: a temp dir, older than any invocation, and no entry
  const dead = join(cacheDir, '.tmp-0123456789abcdef');
  await mkdir(join(dead, 'files'), { recursive: true });
  const old = new Date(Date.now() - 16 * 60_000);
  await utimes(dead, old, old);
  // an entry dir without its index (not written by this cache) is not a hit
  await mkdir(join(cacheDir, 'e'.repeat(64), 'files'), { recursive: true });
  expect(await cache.get('e'.repeat(64))).toBeUndefined();
  await cache.put('f'.repeat(64), { artifactId: 'F', files: new Map([['model.json', Buffer.from('{}')]]) });
  expect((await readdir(cacheDir)).sort()).toEqual(['f'.repeat(64)]);
  expect((await stat(join(cacheDir, 'f'.repeat(64)))).mode & 0o777).toBe(0o700);
  expect(await cache.get('not-a-sha256')).toBeUndefined();
});

it('does not cache what servable() test-loads at promote time', async () => {
  const bytes = await tarGz({ 'model.json': JSON.stringify({ answer: 'yes' }) });
  const w = await world({ a1: bytes });
  expect(await servable(w.deps, 'a1')).toBeNull();
  await expect(readdir(w.cacheDir)).rejects.toMatchObject({ code: 'ENOENT' });
});

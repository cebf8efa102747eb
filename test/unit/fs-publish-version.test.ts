import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncFile } from '../../lib/platform/adapters/object-store/fs-durable-writer.js';
import { publishVersion, readSidecar, type Sidecar } from '../../lib/platform/adapters/object-store/fs-versions.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aegis-publish-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

let n = 0;
async function versionDir(): Promise<{ dir: string; meta: Sidecar }> {
  const dir = join(root, `k${++n}`, '@v');
  await mkdir(dir, { recursive: true });
  const meta: Sidecar = {
    key: `k${n}`,
    versionId: '00000000000a-0123456789ab',
    size: 5,
    sha256: 'ab'.repeat(32),
    lastModified: new Date().toISOString(),
  };
  return { dir, meta };
}

/** A promise settled from outside. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ([resolve, reject] = [res, rej]));
  return { promise, resolve, reject };
}

describe('publishVersion (the filesystem store makes a version exist)', () => {
  it('places the bytes and publishes the sidecar only once the bytes are durable, sidecar last', async () => {
    const { dir, meta } = await versionDir();
    const durable = deferred();
    const steps: string[] = [];
    const published = publishVersion(dir, meta, {
      place: async (bin) => {
        steps.push('place');
        await writeFile(bin, 'bytes');
        expect(await readSidecar(dir, meta.versionId)).toBeUndefined(); // the sidecar is not yet published
      },
      durable: () => durable.promise.then(() => void steps.push('durable')),
    });
    // the sidecar is staged (a temp file, not a version) while the bytes' fsync runs
    await new Promise((r) => setTimeout(r, 50));
    expect(steps).toEqual([]);
    expect(await readSidecar(dir)).toBeUndefined();
    durable.resolve();
    await published;
    expect(steps).toEqual(['durable', 'place']);
    expect(await readSidecar(dir)).toEqual(meta);
    expect((await readdir(dir)).sort()).toEqual([`${meta.versionId}.bin`, `${meta.versionId}.json`]);
  });

  it('leaves no version and no temp file when the bytes could not be made durable', async () => {
    const { dir, meta } = await versionDir();
    let placed = false;
    const failing = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    await expect(publishVersion(dir, meta, { place: async () => void (placed = true), durable: failing })).rejects.toMatchObject({
      code: 'EIO',
    });
    expect(placed).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });

  it('leaves no version when placing the bytes fails, and the temp sidecar is removed', async () => {
    const { dir, meta } = await versionDir();
    const place = () => Promise.reject(new Error('ENOSPC'));
    await expect(publishVersion(dir, meta, { place })).rejects.toThrow('ENOSPC');
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses to stage into a folder that does not exist, and does not place the bytes', async () => {
    const { meta } = await versionDir();
    let placed = false;
    await expect(publishVersion(join(root, 'missing', '@v'), meta, { place: async () => void (placed = true) })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    expect(placed).toBe(false);
  });
});

describe('syncFile', () => {
  it('makes a closed file durable through a new handle (its content unchanged), and names a missing file', async () => {
    const file = join(root, 'closed.bin');
    await writeFile(file, 'closed bytes');
    await syncFile(file);
    expect(await readFile(file, 'utf8')).toBe('closed bytes');
    await expect(syncFile(join(root, 'nope.bin'))).rejects.toMatchObject({ code: 'ENOENT', path: join(root, 'nope.bin') });
  });
});

import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { patternChunks } from './object-store.contract.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const SIZE = 2 * PART + 1234;
const whole = Buffer.concat([...patternChunks(SIZE, 'inplace')]);
const partOf = (n: number, bytes = whole) => bytes.subarray((n - 1) * PART, Math.min(n * PART, SIZE));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const KEY = 'artifacts/m/u1/artifact';

let root: string;
let store: FsObjectStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aegis-inplace-'));
  store = new FsObjectStore({ root });
});
afterEach(async () => rm(root, { recursive: true, force: true }));

const put = (s: FsObjectStore, n: number, body: Buffer, sha256 = sha(body)) =>
  s.putPart(KEY, n, Readable.from([body]), { expectedSize: body.length, expectedSha256: sha256 });
const received = async (s = store) => (await s.listUploadedParts(KEY))?.map((p) => [p.partNumber, p.sha256]);
const stored = async (s = store) => {
  const hash = createHash('sha256');
  for await (const chunk of await s.get(KEY)) hash.update(chunk as Buffer);
  return hash.digest('hex');
};
const partsFolder = () => join(root, 'multipart', ...KEY.split('/'), '@parts');

describe('filesystem store: multipart parts written in place', () => {
  it('writes parts out of order into one file and completes it into the right bytes, without a copy per part', async () => {
    await store.startMultipartUpload(KEY, { partBytes: PART });
    for (const n of [3, 1, 2])
      expect(await put(store, n, partOf(n))).toEqual({ partNumber: n, size: partOf(n).length, sha256: sha(partOf(n)) });
    // one file for the upload, a record per part, no part's bytes of their own
    expect((await readdir(partsFolder())).sort()).toEqual(['1.json', '2.json', '3.json', 'upload.bin', 'upload.json']);
    const info = await store.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE });
    expect(info).toMatchObject({ size: SIZE, sha256: sha(whole), receivedSha256: sha(whole), pendingUpload: true });
    expect(await stored()).toBe(sha(whole));
    expect(await store.listUploadedParts(KEY)).toBeUndefined();
    await expect(readdir(partsFolder())).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes a part sent again: the same bytes change nothing, other bytes are the ones recorded and completed', async () => {
    await store.startMultipartUpload(KEY, { partBytes: PART });
    for (const n of [1, 2, 3]) await put(store, n, partOf(n));
    await put(store, 2, partOf(2));
    expect(await received()).toEqual([1, 2, 3].map((n) => [n, sha(partOf(n))]));
    const other = Buffer.from(whole);
    other.fill(7, PART, 2 * PART);
    await put(store, 2, partOf(2, other));
    expect(await received()).toEqual([
      [1, sha(partOf(1))],
      [2, sha(partOf(2, other))],
      [3, sha(partOf(3))],
    ]);
    expect((await store.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE })).sha256).toBe(sha(other));
    expect(await stored()).toBe(sha(other));
  });

  it('refuses a part whose bytes are not its sha256, naming the part, and leaves the received parts as they were', async () => {
    await store.startMultipartUpload(KEY, { partBytes: PART });
    await put(store, 1, partOf(1));
    await put(store, 3, partOf(3));
    const before = await received();
    const wrong = Buffer.alloc(PART, 1);
    // a part not received yet
    await expect(put(store, 2, wrong, sha(partOf(2)))).rejects.toMatchObject({
      code: 'SHA256_MISMATCH',
      status: 422,
      message: expect.stringContaining('part 2'),
      details: { partNumber: 2 },
    });
    // a part already received: its bytes are not touched
    await expect(put(store, 1, wrong, sha(partOf(1)))).rejects.toMatchObject({ code: 'SHA256_MISMATCH', details: { partNumber: 1 } });
    expect(await received()).toEqual(before);
    await put(store, 2, partOf(2));
    await store.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE });
    expect(await stored()).toBe(sha(whole));
  });

  it('loses nothing received when the server stops mid-part: a restarted store resumes the upload', async () => {
    await store.startMultipartUpload(KEY, { partBytes: PART });
    await put(store, 3, partOf(3));
    await put(store, 1, partOf(1));
    // part 2 cut off half way (the client or the server went away)
    const torn = Readable.from(
      (async function* () {
        yield Buffer.alloc(PART / 2, 9);
        throw new Error('connection reset');
      })(),
    );
    await expect(store.putPart(KEY, 2, torn, { expectedSize: PART, expectedSha256: sha(partOf(2)) })).rejects.toThrow('connection reset');
    const restarted = new FsObjectStore({ root });
    await restarted.startMultipartUpload(KEY, { partBytes: PART }); // the resumed client finds the same upload
    expect(await received(restarted)).toEqual([
      [1, sha(partOf(1))],
      [3, sha(partOf(3))],
    ]);
    await expect(restarted.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE })).rejects.toMatchObject({
      code: 'MULTIPART_INCOMPLETE',
      details: { missing: [2] },
    });
    await put(restarted, 2, partOf(2));
    await restarted.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE });
    expect(await stored(restarted)).toBe(sha(whole));
  });

  it('after a crash between completing and clearing the upload, takes no more parts into the completed bytes', async () => {
    await store.startMultipartUpload(KEY, { partBytes: PART });
    const records = [];
    for (const n of [1, 2, 3]) records.push(await put(store, n, partOf(n)));
    const info = await store.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE });
    // the state a crash right after the version's sidecar leaves: the parts folder, its file linked into the version
    const bin = join(root, 'keys', ...KEY.split('/'), '@v', `${info.versionId}.bin`);
    await mkdir(partsFolder(), { recursive: true });
    await link(bin, join(partsFolder(), 'upload.bin'));
    for (const r of records) await writeFile(join(partsFolder(), `${r.partNumber}.json`), JSON.stringify(r));
    await writeFile(join(partsFolder(), 'upload.json'), JSON.stringify({ key: KEY, startedAt: new Date().toISOString(), partBytes: PART }));
    await expect(put(store, 2, Buffer.alloc(PART, 5))).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    // a retried registration finds the version (see completeMultipart) instead of completing again
    await expect(store.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE })).rejects.toMatchObject({
      code: 'OBJECT_NOT_FOUND',
    });
    expect(await stored()).toBe(sha(whole));
    await store.abortMultipartUpload(KEY);
    expect(await stored()).toBe(sha(whole));
  });

  it('refuses a part larger than the upload part size and a part size S3 would not take, naming the field', async () => {
    await expect(store.startMultipartUpload(KEY, { partBytes: MiB })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      field: 'partBytes',
    });
    await store.startMultipartUpload(KEY, { partBytes: PART });
    await expect(put(store, 1, Buffer.alloc(PART + 1))).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'size' });
    expect(await received()).toEqual([]);
  });

  it('keeps an upload started without a part size (before the store learnt it) working, one file per part', async () => {
    await store.startMultipartUpload(KEY);
    for (const n of [2, 3, 1]) await put(store, n, partOf(n));
    expect((await readdir(partsFolder())).filter((n) => n.endsWith('.bin')).sort()).toEqual(['1.bin', '2.bin', '3.bin']);
    expect((await store.completeMultipartUpload(KEY, { partCount: 3, expectedSize: SIZE })).sha256).toBe(sha(whole));
    expect(await stored()).toBe(sha(whole));
  });
});

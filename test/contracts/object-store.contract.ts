import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectInfo, ObjectStore } from '../../lib/platform/ports/object-store.js';

export interface ObjectStoreSubject {
  store: ObjectStore;
  cleanup(): Promise<void>;
  /**
   * Set when whatever serves this store's download URLs in the test does not check their
   * signature or expiry (moto_server serves presigned S3 URLs without checking either; S3
   * does). The suite then checks what the URL itself binds — key, version, lifetime — with
   * this reader instead of fetching a tampered or expired URL and expecting a refusal.
   */
  unenforcedDownloadUrl?: (url: string) => { key: string; versionId: string; expiresInSeconds: number };
  /**
   * Whether the store records the sha256 it computed while receiving a version's bytes
   * (`receivedSha256`, what registration trusts); when false it must never report one.
   */
  recordsReceivedSha256: boolean;
  /**
   * Set when whatever receives this store's upload URLs in the test does not check the sha256
   * they bind (moto_server stores bytes that differ from a signed `x-amz-checksum-sha256`; S3
   * refuses them). The suite then checks what the URL binds with this reader instead of
   * expecting other bytes to be refused.
   */
  unenforcedUploadSha256?: (url: string, headers: Record<string, string>) => { sha256: string };
}

const MiB = 1024 * 1024;
const HOUR = 3600_000;

/** Deterministic bytes produced chunk by chunk, so neither side needs the body in memory. */
export function* patternChunks(size: number, seed: string): Generator<Buffer> {
  for (let offset = 0, i = 0; offset < size; i++) {
    const block = Buffer.alloc(Math.min(64 * 1024, size - offset), createHash('sha256').update(`${seed}:${i}`).digest());
    offset += block.length;
    yield block;
  }
}

export function patternSha256(size: number, seed: string): string {
  const hash = createHash('sha256');
  for (const chunk of patternChunks(size, seed)) hash.update(chunk);
  return hash.digest('hex');
}

export async function digest(body: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function text(body: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts).toString('utf8');
}

async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of it) out.push(info);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The behaviour every {@link ObjectStore} adapter must have. `make` builds a fresh, empty
 * store; it may answer undefined only when the caller has already decided the adapter cannot
 * run here — the suite then fails rather than passing vacuously, so decide before calling.
 *
 * @example
 * objectStoreContract('FsObjectStore', async () => ({ store: new FsObjectStore({ root }), cleanup, recordsReceivedSha256: true }));
 */
export function objectStoreContract(name: string, make: () => Promise<ObjectStoreSubject | undefined>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: ObjectStoreSubject | undefined;
    // Every test writes under its own run prefix; retained objects cannot be cleaned up on S3.
    const run = `contract-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
    const k = (suffix: string) => `${run}/${suffix}`;
    const store = (): ObjectStore => {
      if (!subject) throw new Error(`${name}: make() returned no store`);
      return subject.store;
    };

    beforeAll(async () => {
      subject = await make();
    });
    afterAll(async () => {
      await subject?.cleanup();
    });

    it('round-trips a streamed body of over 5 MiB with its sha256 and size', async () => {
      // Just over 5 MiB so the S3 adapter takes the multipart path.
      const size = 5 * MiB + 4097;
      const info = await store().put(k('big'), Readable.from(patternChunks(size, 'big')), { contentType: 'application/octet-stream' });
      const sha256 = patternSha256(size, 'big');
      expect(info).toMatchObject({ key: k('big'), size, sha256 });
      expect(info.versionId).toEqual(expect.any(String));
      expect(info.lastModified).toBeInstanceOf(Date);
      expect(await digest(await store().get(k('big')))).toEqual({ sha256, size });
      expect(await store().head(k('big'))).toMatchObject({ versionId: info.versionId, size, sha256 });
    });

    it('keeps every version: a second put adds a version and the first stays readable by id', async () => {
      const first = await store().put(k('v'), 'one');
      const second = await store().put(k('v'), Buffer.from('second'));
      expect(second.versionId).not.toBe(first.versionId);
      expect(await text(await store().get(k('v')))).toBe('second');
      expect(await text(await store().get(k('v'), { versionId: first.versionId }))).toBe('one');
      expect(await store().head(k('v'), { versionId: first.versionId })).toMatchObject({
        size: 3,
        sha256: createHash('sha256').update('one').digest('hex'),
      });
    });

    it('deletes one version and falls back to the previous one; without an id it deletes the latest', async () => {
      const first = await store().put(k('d'), 'first');
      const second = await store().put(k('d'), 'second');
      await store().delete(k('d'), { versionId: second.versionId });
      expect((await store().head(k('d')))?.versionId).toBe(first.versionId);
      await store().delete(k('d'));
      expect(await store().head(k('d'))).toBeUndefined();
      await expect(store().delete(k('d'))).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    it('refuses to overwrite a key whose latest version is under retention and keeps the original', async () => {
      const retainUntil = new Date(Date.now() + HOUR);
      const original = await store().put(k('locked'), 'original', { retainUntil });
      expect(Math.abs(original.retainUntil!.getTime() - retainUntil.getTime())).toBeLessThan(1000);
      await expect(store().put(k('locked'), 'overwrite')).rejects.toMatchObject({ code: 'RETENTION_LOCKED', field: 'key' });
      expect((await store().head(k('locked')))?.versionId).toBe(original.versionId);
      expect(await text(await store().get(k('locked')))).toBe('original');
    });

    it('refuses to delete a version under retention, by id or as the latest', async () => {
      const info = await store().put(k('keep'), 'keep', { retainUntil: new Date(Date.now() + HOUR) });
      await expect(store().delete(k('keep'), { versionId: info.versionId })).rejects.toMatchObject({ code: 'RETENTION_LOCKED' });
      await expect(store().delete(k('keep'))).rejects.toMatchObject({ code: 'RETENTION_LOCKED' });
      expect(await text(await store().get(k('keep'), { versionId: info.versionId }))).toBe('keep');
    });

    it('deletes a version once its retention has expired', async () => {
      const retainUntil = new Date(Date.now() + 1500);
      const info = await store().put(k('expiring'), 'short-lived', { retainUntil });
      await expect(store().delete(k('expiring'), { versionId: info.versionId })).rejects.toMatchObject({ code: 'RETENTION_LOCKED' });
      await sleep(retainUntil.getTime() - Date.now() + 1100);
      await store().delete(k('expiring'), { versionId: info.versionId });
      expect(await store().head(k('expiring'), { versionId: info.versionId })).toBeUndefined();
      await expect(store().get(k('expiring'), { versionId: info.versionId })).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    it('extends retention but refuses to shorten it', async () => {
      const info = await store().put(k('retain'), 'bytes');
      const inOneHour = new Date(Date.now() + HOUR);
      const inTwoHours = new Date(Date.now() + 2 * HOUR);
      await store().retain(k('retain'), info.versionId, inOneHour);
      await store().retain(k('retain'), info.versionId, inTwoHours);
      await expect(store().retain(k('retain'), info.versionId, inOneHour)).rejects.toMatchObject({ code: 'RETENTION_LOCKED' });
      const head = await store().head(k('retain'), { versionId: info.versionId });
      expect(Math.abs(head!.retainUntil!.getTime() - inTwoHours.getTime())).toBeLessThan(1000);
      await expect(store().retain(k('absent'), info.versionId, inOneHour)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    it('head of a missing key or version is undefined', async () => {
      expect(await store().head(k('nothing-here'))).toBeUndefined();
      await store().put(k('present'), 'x');
      expect(await store().head(k('present'), { versionId: 'no-such-version' })).toBeUndefined();
    });

    it('get of a missing key or version fails with OBJECT_NOT_FOUND', async () => {
      await expect(store().get(k('nothing-here'))).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      await store().put(k('present-too'), 'x');
      await expect(store().get(k('present-too'), { versionId: 'no-such-version' })).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    const invalidKeys = [
      '',
      '/a',
      'a/',
      'a//b',
      'a/../b',
      './a',
      'a b',
      'a/ü',
      'a\\b',
      'a?b',
      'a@b',
      'x'.repeat(1025),
      `a/${'s'.repeat(256)}`,
    ];
    it.each(invalidKeys.map((key) => [key.length > 40 ? `of ${key.length} characters` : JSON.stringify(key), key]))(
      'refuses the invalid key %s with VALIDATION_FAILED on key',
      async (_title, bad) => {
        const refused = { code: 'VALIDATION_FAILED', field: 'key' };
        await expect(store().put(bad, 'x')).rejects.toMatchObject(refused);
        await expect(store().get(bad)).rejects.toMatchObject(refused);
        await expect(store().head(bad)).rejects.toMatchObject(refused);
        await expect(store().createUploadUrl(bad, { expiresInSeconds: 60 })).rejects.toMatchObject(refused);
      },
    );

    it('lists the latest version of each key under a prefix, in key order, with keys that prefix others', async () => {
      const names = ['p/b', 'p/a/b/c', 'p/a', 'p/a.c', 'p/a/b', 'p/a-b', 'q/a'];
      const latest = new Map<string, string>();
      for (const n of names) latest.set(k(n), (await store().put(k(n), n)).versionId);
      latest.set(k('p/a'), (await store().put(k('p/a'), 'p/a again')).versionId);
      const all = await collect(store().list(k('p/')));
      const expected = names
        .filter((n) => n.startsWith('p/'))
        .map(k)
        .sort();
      expect(all.map((i) => i.key)).toEqual(expected);
      for (const info of all) expect(info.versionId).toBe(latest.get(info.key));
      // A prefix need not end at a segment boundary.
      expect((await collect(store().list(k('p/a')))).map((i) => i.key)).toEqual(expected.filter((e) => e !== k('p/b')));
      expect(await collect(store().list(k('none/')))).toEqual([]);
    });

    it('refuses a body whose size differs from expectedSize and writes nothing', async () => {
      await expect(store().put(k('sized'), Readable.from(patternChunks(1000, 's')), { expectedSize: 999 })).rejects.toMatchObject({
        code: 'SIZE_MISMATCH',
      });
      await expect(store().put(k('sized'), Readable.from(patternChunks(1000, 's')), { expectedSize: 1001 })).rejects.toMatchObject({
        code: 'SIZE_MISMATCH',
      });
      // Short by one byte after a whole multipart part has been sent.
      const big = 5 * MiB + 100;
      await expect(store().put(k('sized'), Readable.from(patternChunks(big, 's')), { expectedSize: big + 1 })).rejects.toMatchObject({
        code: 'SIZE_MISMATCH',
      });
      expect(await store().head(k('sized'))).toBeUndefined();
      expect(await collect(store().list(k('sized')))).toEqual([]);
      expect(await store().put(k('sized'), Readable.from(patternChunks(1000, 's')), { expectedSize: 1000 })).toMatchObject({ size: 1000 });
    });

    it('accepts an HTTP PUT of the bytes at an upload URL', async () => {
      const body = Buffer.from('uploaded through a URL');
      const { url, headers } = await store().createUploadUrl(k('via-url'), { expiresInSeconds: 60, contentLength: body.length });
      const res = await fetch(url, { method: 'PUT', body, headers });
      expect(res.status).toBe(200);
      expect(await text(await store().get(k('via-url')))).toBe('uploaded through a URL');
      expect(await store().head(k('via-url'))).toMatchObject({ size: body.length });
    });

    it('marks what an upload URL writes as a pending upload; clearing the mark works under retention and keeps the bytes', async () => {
      const body = Buffer.from('pending bytes');
      const { url, headers } = await store().createUploadUrl(k('pending'), { expiresInSeconds: 60, contentLength: body.length });
      expect((await fetch(url, { method: 'PUT', body, headers })).status).toBe(200);
      const info = (await store().head(k('pending')))!;
      expect(info.pendingUpload).toBe(true);
      expect((await collect(store().list(k('pending'))))[0]).toMatchObject({ pendingUpload: true });
      const until = new Date(Date.now() + HOUR);
      await store().claimUpload(k('pending'), info.versionId, until);
      const cleared = (await store().head(k('pending'), { versionId: info.versionId }))!;
      expect(cleared.pendingUpload).toBeUndefined();
      expect(cleared.retainUntil!.getTime()).toBeGreaterThanOrEqual(until.getTime() - 1000);
      expect(await text(await store().get(k('pending')))).toBe('pending bytes');
      await store().claimUpload(k('pending'), info.versionId, until); // idempotent
      // retention is never shortened by a claim
      await expect(store().claimUpload(k('pending'), info.versionId, new Date(Date.now() + HOUR / 2))).rejects.toMatchObject({
        code: 'RETENTION_LOCKED',
      });
      expect(await store().put(k('plain'), 'x')).not.toHaveProperty('pendingUpload');
      expect((await store().put(k('marked'), 'x', { pendingUpload: true })).pendingUpload).toBe(true);
      expect((await store().head(k('marked')))!.pendingUpload).toBe(true);
      await expect(store().claimUpload(k('absent'), info.versionId, until)).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    });

    it('records the sha256 it computed while receiving bytes, by put or at an upload URL, or reports none', async () => {
      const body = Buffer.from('hashed on the way in');
      const sha256 = createHash('sha256').update(body).digest('hex');
      const expected = subject!.recordsReceivedSha256 ? sha256 : undefined;
      const put = await store().put(k('received/put'), body);
      expect(put.receivedSha256).toBe(expected);
      expect((await store().head(k('received/put')))!.receivedSha256).toBe(expected);
      const { url, headers } = await store().createUploadUrl(k('received/url'), { expiresInSeconds: 60, contentLength: body.length });
      expect((await fetch(url, { method: 'PUT', body, headers })).status).toBe(200);
      const head = (await store().head(k('received/url')))!;
      expect(head.receivedSha256).toBe(expected);
      // still the bytes' after retention and the claim rewrote the version's metadata
      await store().claimUpload(k('received/url'), head.versionId, new Date(Date.now() + HOUR));
      expect((await store().head(k('received/url'), { versionId: head.versionId }))!.receivedSha256).toBe(expected);
    });

    it('refuses a put whose bytes do not have the expected sha256 and writes nothing', async () => {
      const sha256 = patternSha256(1000, 'sha');
      await expect(
        store().put(k('sha-put'), Readable.from(patternChunks(1000, 'other')), { expectedSha256: sha256 }),
      ).rejects.toMatchObject({ code: 'SHA256_MISMATCH', field: 'sha256', details: { expected: sha256 } });
      // past a whole multipart part, so the S3 store has already sent bytes
      const big = 5 * MiB + 100;
      await expect(
        store().put(k('sha-put'), Readable.from(patternChunks(big, 'other')), { expectedSha256: patternSha256(big, 'sha') }),
      ).rejects.toMatchObject({ code: 'SHA256_MISMATCH' });
      expect(await store().head(k('sha-put'))).toBeUndefined();
      await expect(store().put(k('sha-put'), 'x', { expectedSha256: 'A'.repeat(64) })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'expectedSha256',
      });
      expect(await store().put(k('sha-put'), Readable.from(patternChunks(1000, 'sha')), { expectedSha256: sha256 })).toMatchObject({
        sha256,
        size: 1000,
      });
    });

    it('takes only the bytes with the sha256 an upload URL binds', async () => {
      const body = Buffer.from('exactly these bytes');
      const sha256 = createHash('sha256').update(body).digest('hex');
      const { url, headers } = await store().createUploadUrl(k('sha-url'), { expiresInSeconds: 60, contentLength: body.length, sha256 });
      const read = subject?.unenforcedUploadSha256;
      if (read) {
        expect(read(url, headers)).toEqual({ sha256 });
      } else {
        const other = Buffer.from('not quite these bytes');
        const refused = await fetch(url, { method: 'PUT', body: other.subarray(0, body.length), headers });
        expect(refused.status).toBeGreaterThanOrEqual(400);
        expect(await store().head(k('sha-url'))).toBeUndefined();
      }
      expect((await fetch(url, { method: 'PUT', body, headers })).status).toBe(200);
      expect(await text(await store().get(k('sha-url')))).toBe('exactly these bytes');
      await expect(store().createUploadUrl(k('sha-url-bad'), { expiresInSeconds: 60, sha256: 'xyz' })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'sha256',
      });
    });

    describe('multipart uploads', () => {
      const PART = 5 * MiB; // S3's minimum for every part but the last
      const size = 2 * PART + 1234;
      const whole = () => Buffer.concat([...patternChunks(size, 'mp')]);
      const partOf = (n: number) => whole().subarray((n - 1) * PART, Math.min(n * PART, size));
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      const send = async (key: string, numbers: number[]) => {
        const urls = await store().createPartUploadUrls(
          key,
          numbers.map((n) => ({ partNumber: n, contentLength: partOf(n).length, sha256: sha(partOf(n)) })),
          { expiresInSeconds: 60 },
        );
        for (const u of urls)
          expect((await fetch(u.url, { method: 'PUT', body: partOf(u.partNumber), headers: u.headers })).status).toBe(200);
      };

      it('takes parts in any order, lists them for a resumed upload, and completes them into one pending version', async () => {
        const key = k('mp/resumed');
        expect(await store().listUploadedParts(key)).toBeUndefined();
        await store().startMultipartUpload(key, { partBytes: PART });
        expect(await store().listUploadedParts(key)).toEqual([]);
        await send(key, [3, 1]);
        // interrupted here; a resumed client starts again (finding the same upload) and sends what is missing
        await store().startMultipartUpload(key, { partBytes: PART });
        const received = (await store().listUploadedParts(key))!;
        expect(received.map((p) => ({ partNumber: p.partNumber, size: p.size }))).toEqual([
          { partNumber: 1, size: PART },
          { partNumber: 3, size: 1234 },
        ]);
        await send(key, [2, 1]); // a part sent twice counts once
        const info = await store().completeMultipartUpload(key, { partCount: 3, expectedSize: size });
        expect(info).toMatchObject({ key, size, pendingUpload: true });
        expect(await digest(await store().get(key))).toEqual({ sha256: sha(whole()), size });
        expect(await store().head(key)).toMatchObject({ versionId: info.versionId, size, pendingUpload: true });
        expect(await store().listUploadedParts(key)).toBeUndefined();
      });

      it('refuses to complete with a part missing, naming it, and keeps the parts for the resumed upload', async () => {
        const key = k('mp/missing');
        await store().startMultipartUpload(key, { partBytes: PART });
        await send(key, [1, 3]);
        await expect(store().completeMultipartUpload(key, { partCount: 3, expectedSize: size })).rejects.toMatchObject({
          code: 'MULTIPART_INCOMPLETE',
          field: 'partNumber',
          details: { missing: [2] },
        });
        await expect(store().completeMultipartUpload(key, { partCount: 3, expectedSize: size + 1 })).rejects.toMatchObject({
          code: 'MULTIPART_INCOMPLETE',
        });
        expect(await store().head(key)).toBeUndefined();
        expect((await store().listUploadedParts(key))!.map((p) => p.partNumber)).toEqual([1, 3]);
        await send(key, [2]);
        await expect(store().completeMultipartUpload(key, { partCount: 3, expectedSize: size + 1 })).rejects.toMatchObject({
          code: 'SIZE_MISMATCH',
        });
        expect((await store().completeMultipartUpload(key, { partCount: 3, expectedSize: size })).size).toBe(size);
      });

      it('aborts an upload in progress; part URLs for a key without one are refused', async () => {
        const key = k('mp/aborted');
        await expect(
          store().createPartUploadUrls(key, [{ partNumber: 1, contentLength: 10 }], { expiresInSeconds: 60 }),
        ).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
        await store().startMultipartUpload(key, { partBytes: PART });
        await send(key, [1]);
        await store().abortMultipartUpload(key);
        expect(await store().listUploadedParts(key)).toBeUndefined();
        await expect(store().completeMultipartUpload(key, { partCount: 1, expectedSize: PART })).rejects.toMatchObject({
          code: 'OBJECT_NOT_FOUND',
        });
        await store().abortMultipartUpload(key); // nothing in progress: nothing to do
      });

      it('refuses part numbers outside 1..10000, naming partNumber', async () => {
        const key = k('mp/numbers');
        await store().startMultipartUpload(key, { partBytes: PART });
        for (const partNumber of [0, 10_001, 1.5])
          await expect(
            store().createPartUploadUrls(key, [{ partNumber, contentLength: 10 }], { expiresInSeconds: 60 }),
          ).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'partNumber' });
        await store().abortMultipartUpload(key);
      });

      it('refuses to start a multipart upload of a key under retention', async () => {
        await store().put(k('mp/locked'), 'x', { retainUntil: new Date(Date.now() + HOUR) });
        await expect(store().startMultipartUpload(k('mp/locked'))).rejects.toMatchObject({ code: 'RETENTION_LOCKED' });
      });
    });

    it('refuses an upload URL for a key under retention', async () => {
      await store().put(k('url-locked'), 'x', { retainUntil: new Date(Date.now() + HOUR) });
      await expect(store().createUploadUrl(k('url-locked'), { expiresInSeconds: 60 })).rejects.toMatchObject({ code: 'RETENTION_LOCKED' });
    });
    it('serves a download URL byte-identical to the stored version', async () => {
      const size = 3 * MiB + 7;
      const info = await store().put(k('dl/big'), Readable.from(patternChunks(size, 'dl')));
      const { url } = await store().createDownloadUrl(k('dl/big'), { versionId: info.versionId, expiresInSeconds: 60 });
      const res = await fetch(url);
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(size);
      expect(createHash('sha256').update(body).digest('hex')).toBe(patternSha256(size, 'dl'));
    });

    it('pins a download URL to its version: a newer version at the key does not change what it serves', async () => {
      const first = await store().put(k('dl/pinned'), 'first version');
      const { url } = await store().createDownloadUrl(k('dl/pinned'), { versionId: first.versionId, expiresInSeconds: 60 });
      await store().put(k('dl/pinned'), 'second version, newer');
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('first version');
      const latest = await store().head(k('dl/pinned'));
      const newer = await store().createDownloadUrl(k('dl/pinned'), { versionId: latest!.versionId, expiresInSeconds: 60 });
      expect(await (await fetch(newer.url)).text()).toBe('second version, newer');
    });

    it('resumes: a download URL with Range bytes=N- and get({ start }) both return the tail', async () => {
      const size = 2 * MiB + 11;
      const info = await store().put(k('dl/range'), Readable.from(patternChunks(size, 'range')));
      const whole = Buffer.concat([...patternChunks(size, 'range')]);
      const start = MiB + 3;
      const { url } = await store().createDownloadUrl(k('dl/range'), { versionId: info.versionId, expiresInSeconds: 60 });
      const res = await fetch(url, { headers: { range: `bytes=${start}-` } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${size - 1}/${size}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(whole.subarray(start))).toBe(true);
      const tail = await digest(await store().get(k('dl/range'), { versionId: info.versionId, start }));
      expect(tail).toEqual({ sha256: createHash('sha256').update(whole.subarray(start)).digest('hex'), size: size - start });
    });

    it('refuses a download URL once it has expired', async () => {
      const info = await store().put(k('dl/expiring'), 'short-lived link');
      const { url } = await store().createDownloadUrl(k('dl/expiring'), { versionId: info.versionId, expiresInSeconds: 1 });
      const read = subject?.unenforcedDownloadUrl;
      if (read) {
        // The emulator would serve it anyway; the URL must still carry the one-second lifetime.
        expect(read(url)).toEqual({ key: k('dl/expiring'), versionId: info.versionId, expiresInSeconds: 1 });
        return;
      }
      expect((await fetch(url)).status).toBe(200);
      await sleep(2100);
      const res = await fetch(url);
      expect([403, 410]).toContain(res.status);
      expect(await res.text()).not.toContain('short-lived link');
    });

    it('a download URL for one key cannot fetch another', async () => {
      const info = await store().put(k('dl/mine'), 'mine');
      await store().put(k('dl/theirs'), 'theirs');
      const { url } = await store().createDownloadUrl(k('dl/mine'), { versionId: info.versionId, expiresInSeconds: 60 });
      const read = subject?.unenforcedDownloadUrl;
      if (read) {
        expect(read(url)).toEqual({ key: k('dl/mine'), versionId: info.versionId, expiresInSeconds: 60 });
        return;
      }
      const other = url.replace(encodeURI(k('dl/mine')), encodeURI(k('dl/theirs')));
      expect(other).not.toBe(url);
      const res = await fetch(other);
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain('theirs');
    });

    it('refuses a download URL for a missing version with OBJECT_NOT_FOUND', async () => {
      await store().put(k('dl/present'), 'x');
      await expect(store().createDownloadUrl(k('dl/absent'), { versionId: 'no-such-version', expiresInSeconds: 60 })).rejects.toMatchObject(
        {
          code: 'OBJECT_NOT_FOUND',
        },
      );
    });
  });
}

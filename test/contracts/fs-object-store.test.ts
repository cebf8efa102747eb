import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isAegisError } from '../../lib/kernel/errors.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { serveDownload } from '../../lib/platform/http/local-downloads.js';
import { objectStoreContract, patternChunks, text } from './object-store.contract.js';

/**
 * Stands in for the local server's upload route (verify the URL, then stream into put()) and
 * serves its download route with the server's own handler.
 */
async function startUploadServer(store: () => FsObjectStore): Promise<{ server: Server; baseUrl: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/v1/downloads/')) {
      const key = decodeURIComponent(url.pathname.slice('/v1/downloads/'.length));
      serveDownload(store(), key, req, res, url.searchParams, 'contract').catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(isAegisError(e) ? e.status : 500);
        res.end(isAegisError(e) ? e.code : '');
      });
      return;
    }
    const key = url.pathname.replace(/^\/v1\/uploads\//, '');
    const check = store().verifyUploadUrl(key, url.searchParams);
    if (!check.ok) {
      req.resume();
      res.writeHead(403).end(check.reason);
      return;
    }
    if (check.partNumber !== undefined) {
      store()
        .putPart(key, check.partNumber, req, {
          expectedSize: check.contentLength!,
          ...(check.sha256 === undefined ? {} : { expectedSha256: check.sha256 }),
        })
        .then(() => res.writeHead(200).end())
        .catch((e: unknown) => res.writeHead(isAegisError(e) ? e.status : 500).end());
      return;
    }
    store()
      .put(key, req, {
        pendingUpload: true,
        ...(check.contentLength === undefined ? {} : { expectedSize: check.contentLength }),
        ...(check.sha256 === undefined ? {} : { expectedSha256: check.sha256 }),
      })
      .then(() => res.writeHead(200).end())
      .catch((e: unknown) => res.writeHead(isAegisError(e) ? e.status : 500).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

async function makeStore(): Promise<{ store: FsObjectStore; root: string; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'aegis-fs-store-'));
  let store: FsObjectStore | undefined;
  const { server, baseUrl } = await startUploadServer(() => store!);
  store = new FsObjectStore({ root, uploadBaseUrl: baseUrl, uploadSecret: randomBytes(32) });
  return {
    store,
    root,
    cleanup: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await rm(root, { recursive: true, force: true });
    },
  };
}

objectStoreContract('FsObjectStore', async () => ({ ...(await makeStore()), recordsReceivedSha256: true }));

describe('FsObjectStore specifics', () => {
  let subject: Awaited<ReturnType<typeof makeStore>>;
  beforeAll(async () => {
    subject = await makeStore();
  });
  afterAll(() => subject.cleanup());

  const queryOf = (url: string) => new URL(url).searchParams;

  it('verifyUploadUrl accepts its own URL and reports the signed size', async () => {
    const { url, headers } = await subject.store.createUploadUrl('up/a', { expiresInSeconds: 60, contentLength: 42 });
    expect(headers).toEqual({});
    expect(new URL(url).pathname).toBe('/v1/uploads/up/a');
    expect(subject.store.verifyUploadUrl('up/a', queryOf(url))).toEqual({ ok: true, contentLength: 42 });
    const unsized = await subject.store.createUploadUrl('up/b', { expiresInSeconds: 60 });
    expect(subject.store.verifyUploadUrl('up/b', queryOf(unsized.url))).toEqual({ ok: true });
  });

  it('verifyUploadUrl rejects a tampered signature, size or key, and an expired URL', async () => {
    const { url } = await subject.store.createUploadUrl('up/c', { expiresInSeconds: 60, contentLength: 10 });
    const q = queryOf(url);
    const with_ = (name: string, value: string | undefined) => {
      const copy = new URLSearchParams(q);
      if (value === undefined) copy.delete(name);
      else copy.set(name, value);
      return copy;
    };
    const sig = q.get('sig')!;
    const badSig = { ok: false, reason: 'bad-signature' };
    expect(subject.store.verifyUploadUrl('up/c', with_('sig', `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`))).toEqual(badSig);
    expect(subject.store.verifyUploadUrl('up/c', with_('sig', 'zz'))).toEqual(badSig);
    expect(subject.store.verifyUploadUrl('up/c', with_('sig', undefined))).toEqual(badSig);
    expect(subject.store.verifyUploadUrl('up/c', with_('size', '11'))).toEqual(badSig);
    expect(subject.store.verifyUploadUrl('up/c', with_('size', undefined))).toEqual(badSig);
    expect(subject.store.verifyUploadUrl('up/c', with_('expires', String(Number(q.get('expires')) + 3600)))).toEqual(badSig);
    expect(subject.store.verifyUploadUrl('up/other', q)).toEqual(badSig);
    const afterExpiry = new Date((Number(q.get('expires')) + 1) * 1000);
    expect(subject.store.verifyUploadUrl('up/c', q, afterExpiry)).toEqual({ ok: false, reason: 'expired' });
  });

  it('the upload route refuses a tampered URL and a body of the wrong size', async () => {
    const { url } = await subject.store.createUploadUrl('up/d', { expiresInSeconds: 60, contentLength: 5 });
    expect((await fetch(url.replace(/sig=[0-9a-f]{4}/, 'sig=0000'), { method: 'PUT', body: 'hello' })).status).toBe(403);
    expect((await fetch(url, { method: 'PUT', body: 'hello!' })).status).toBe(422);
    expect(await subject.store.head('up/d')).toBeUndefined();
  });

  it('cannot create or verify upload URLs without uploadBaseUrl and uploadSecret', async () => {
    const bare = new FsObjectStore({ root: subject.root });
    await expect(bare.createUploadUrl('up/e', { expiresInSeconds: 60 })).rejects.toThrow(/uploadBaseUrl and uploadSecret/);
    expect(() => bare.verifyUploadUrl('up/e', new URLSearchParams())).toThrow(/uploadSecret/);
  });

  it('leaves no temporary file behind after a refused or failed write', async () => {
    await expect(subject.store.put('tmp/a', Readable.from(patternChunks(3000, 't')), { expectedSize: 10 })).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
    });
    const failing = Readable.from(
      (async function* () {
        yield Buffer.from('partial');
        throw new Error('client went away');
      })(),
    );
    await expect(subject.store.put('tmp/a', failing)).rejects.toThrow('client went away');
    expect(await readdir(join(subject.root, 'tmp'))).toEqual([]);
    expect(await subject.store.head('tmp/a')).toBeUndefined();
  });

  it('refuses a body in memory of the wrong size or sha256 before writing anything, and stores versions read-only', async () => {
    await expect(subject.store.put('tmp/b', 'hello', { expectedSize: 4 })).rejects.toMatchObject({ code: 'SIZE_MISMATCH' });
    await expect(subject.store.put('tmp/b', Buffer.from('hello'), { expectedSha256: 'ab'.repeat(32) })).rejects.toMatchObject({
      code: 'SHA256_MISMATCH',
      details: { expected: 'ab'.repeat(32) },
    });
    expect(await readdir(join(subject.root, 'tmp'))).toEqual([]);
    expect(await subject.store.head('tmp/b')).toBeUndefined();
    // the temp folder is made again when something removed it
    await rm(join(subject.root, 'tmp'), { recursive: true });
    const info = await subject.store.put('tmp/b', 'hello', { expectedSize: 5 });
    const bin = join(subject.root, 'keys', 'tmp', 'b', '@v', `${info.versionId}.bin`);
    expect((await stat(bin)).mode & 0o777).toBe(0o444);
    expect((await readdir(join(subject.root, 'keys', 'tmp', 'b', '@v'))).sort()).toEqual([
      `${info.versionId}.bin`,
      `${info.versionId}.json`,
    ]);
    expect(await readdir(join(subject.root, 'tmp'))).toEqual([]);
  });

  it('keeps versions and retention across store instances on the same root', async () => {
    const first = await subject.store.put('persist/a', 'v1', { retainUntil: new Date(Date.now() + 3600_000) });
    const reopened = new FsObjectStore({ root: subject.root });
    expect(await reopened.head('persist/a')).toMatchObject({ versionId: first.versionId, size: 2 });
    await expect(reopened.put('persist/a', 'v2')).rejects.toMatchObject({ code: 'RETENTION_LOCKED' });
    expect(await text(await reopened.get('persist/a'))).toBe('v1');
  });

  it('never turns a caller-supplied version id into a path', async () => {
    await subject.store.put('trav/a', 'x');
    expect(await subject.store.head('trav/a', { versionId: '../../../../etc/passwd' })).toBeUndefined();
    await expect(subject.store.get('trav/a', { versionId: '../@v/x' })).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    await expect(subject.store.delete('trav/a', { versionId: '..' })).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
    expect(await subject.store.head('trav/a')).toMatchObject({ size: 1 });
  });

  it('gives concurrent puts to one key distinct versions, each readable by id', async () => {
    const infos = await Promise.all(Array.from({ length: 10 }, (_, i) => subject.store.put('race/a', `w${i}`)));
    expect(new Set(infos.map((i) => i.versionId)).size).toBe(10);
    for (const [i, info] of infos.entries())
      expect(await text(await subject.store.get('race/a', { versionId: info.versionId }))).toBe(`w${i}`);
  });
});

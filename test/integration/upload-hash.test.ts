import { randomBytes } from 'node:crypto';
import type { ObjectStore } from '../../lib/platform/ports/object-store.js';
import { manifestFor, registerDatasets, sha256, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { flipByte, storedVersionFile } from '../support/tamper.js';

/**
 * Registration trusts the sha256 the store computed while it received the upload (issue 25):
 * the bytes are read once, on their way in, and again only by validation and promotion.
 */
let stack: Stack;
let reads: string[];

beforeAll(async () => {
  stack = await startStack();
  // every read of the store's bytes, by key: the registrar and the verifier hold this same store
  const store: ObjectStore = stack.container.store;
  const get = store.get.bind(store);
  store.get = (key, opts) => {
    reads.push(key);
    return get(key, opts);
  };
});
beforeEach(() => {
  reads = [];
});
afterAll(async () => {
  await stack?.stop();
});

const artifactReads = () => reads.filter((k) => k.endsWith('/artifact'));

async function uploadOnly(model: string, bytes: Buffer, extra: Record<string, unknown> = {}) {
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName: model, size: bytes.length, ...extra });
  expect(up.status).toBe(201);
  const put = await fetch(up.body.url, { method: 'PUT', body: bytes, headers: up.body.headers });
  return { up: up.body as { uploadId: string; url: string; headers: Record<string, string> }, put };
}

describe('registration trusts the sha256 recorded when the bytes were received', () => {
  it('registers without reading the artifact bytes, with the sha256 the upload recorded', async () => {
    const bytes = randomBytes(200_000);
    const reg = await uploadAndRegister(stack, 'hash-known', bytes);
    expect(reg.status).toBe(201);
    expect(reg.body.sha256).toBe(sha256(bytes));
    expect(artifactReads()).toEqual([]);
    // validation still reads and hashes the stored bytes
    const report = await stack.api('GET', `/v1/registry/${reg.body.artifactId}/validate`);
    expect(report.body.ok).toBe(true);
    expect(artifactReads()).toHaveLength(1);
  });

  it('refuses a manifest whose artifactSha256 differs from the recorded one, naming the field, without reading the bytes', async () => {
    const bytes = randomBytes(5000);
    const manifest = manifestFor('hash-mismatch', bytes, { artifactSha256: sha256(randomBytes(5000)) });
    const res = await uploadAndRegister(stack, 'hash-mismatch', bytes, { manifest });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'SHA256_MISMATCH', field: 'manifest.artifactSha256' });
    expect(res.body.error.details).toEqual({ expected: manifest.artifactSha256, actual: sha256(bytes) });
    expect(artifactReads()).toEqual([]);
  });

  it('hashes the bytes when the store recorded no sha256 for them (an older upload, another writer)', async () => {
    const bytes = randomBytes(7000);
    const store = stack.container.store;
    const head = store.head;
    store.head = async (key, opts) => {
      const info = await head.call(store, key, opts);
      if (info) delete info.receivedSha256;
      return info;
    };
    try {
      const reg = await uploadAndRegister(stack, 'hash-unknown', bytes);
      expect(reg.status).toBe(201);
      expect(reg.body.sha256).toBe(sha256(bytes));
      expect(artifactReads()).toHaveLength(1);
    } finally {
      store.head = head;
    }
  });

  it('reads the bytes when the manifest pins a baseline inside them', async () => {
    const bytes = randomBytes(3000); // not a .tar.gz: no baseline.json to find
    const manifest = manifestFor('hash-baseline', bytes, { baselineSha256: 'c'.repeat(64) });
    const res = await uploadAndRegister(stack, 'hash-baseline', bytes, { manifest });
    expect(res.status).toBe(422);
    expect(res.body.error.field).toBe('manifest.baselineSha256');
    expect(artifactReads()).toHaveLength(1);
  });

  it('still catches bytes changed in storage after the upload: registration trusts the record, validation re-hashes', async () => {
    const bytes = randomBytes(40_000);
    const manifest = manifestFor('hash-tampered', bytes);
    await registerDatasets(stack, manifest);
    const { up, put } = await uploadOnly('hash-tampered', bytes);
    expect(put.status).toBe(200);
    const info = (await stack.container.store.head(`artifacts/hash-tampered/${up.uploadId}/artifact`))!;
    const stored = await flipByte(storedVersionFile(stack.dataDir, info), 100);

    const reg = await stack.api('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest });
    expect(reg.status).toBe(201);
    const report = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}/validate`)).body;
    expect(report.ok).toBe(false);
    expect(report.checks.find((c: { check: string }) => c.check === 'artifact-sha256')).toMatchObject({
      ok: false,
      expected: sha256(bytes),
      actual: sha256(stored),
    });
    // promotion validates first: the changed bytes are not promoted
    const promo = await stack.api('POST', `/v1/registry/${reg.body.artifactId}/promote`, { reason: 'test', targetEnv: 'staging' });
    expect(promo.status).toBe(422);
    expect(promo.body.error).toMatchObject({ code: 'VERIFICATION_FAILED', field: 'artifactId' });
    expect(promo.body.error.details.checks).toEqual([expect.stringMatching(/^artifact-sha256: /)]);
  });
});

describe('an upload created with the sha256 of its bytes', () => {
  it('accepts exactly those bytes, and registration then reads none', async () => {
    const bytes = randomBytes(10_000);
    const manifest = manifestFor('bound-upload', bytes);
    await registerDatasets(stack, manifest);
    const { up, put } = await uploadOnly('bound-upload', bytes, { sha256: sha256(bytes) });
    expect(put.status).toBe(200);
    expect(new URL(up.url).searchParams.get('sha256')).toBe(sha256(bytes));
    const reg = await stack.api('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest });
    expect(reg.status).toBe(201);
    expect(artifactReads()).toEqual([]);
  });

  it('refuses other bytes of the same size with SHA256_MISMATCH naming sha256, and stores nothing', async () => {
    const bytes = randomBytes(10_000);
    const { up, put } = await uploadOnly('bound-refused', randomBytes(10_000), { sha256: sha256(bytes) });
    expect(put.status).toBe(422);
    expect(((await put.json()) as { error: unknown }).error).toMatchObject({ code: 'SHA256_MISMATCH', field: 'sha256' });
    expect(await stack.container.store.head(`artifacts/bound-refused/${up.uploadId}/artifact`)).toBeUndefined();
  });

  it('refuses a URL whose sha256 was changed or removed: the signature covers it', async () => {
    const bytes = randomBytes(1000);
    const up = (await stack.api('POST', '/v1/registry/uploads', { modelName: 'bound-tamper', size: bytes.length, sha256: sha256(bytes) }))
      .body;
    const other = randomBytes(1000);
    const changed = new URL(up.url);
    changed.searchParams.set('sha256', sha256(other));
    expect((await fetch(changed, { method: 'PUT', body: other })).status).toBe(403);
    const removed = new URL(up.url);
    removed.searchParams.delete('sha256');
    expect((await fetch(removed, { method: 'PUT', body: other })).status).toBe(403);
  });

  it.each([
    ['in uppercase', 'A'.repeat(64)],
    ['too short', 'a'.repeat(63)],
    ['not hex', 'g'.repeat(64)],
    ['a number', 42],
  ])('refuses a sha256 that is %s with 400 naming the field', async (_name, value) => {
    const res = await stack.api('POST', '/v1/registry/uploads', { modelName: 'bound-bad', size: 10, sha256: value });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'sha256' });
  });
});

describe('the local server takes the parts of a multipart upload at their signed URLs', () => {
  it('stores each part hashed, refuses other bytes than a part URL binds, and completes into one version', async () => {
    const store = stack.container.store;
    const key = `artifacts/parts-model/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}/artifact`;
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(1000)];
    await store.startMultipartUpload(key);
    const urls = await store.createPartUploadUrls(
      key,
      parts.map((b, i) => ({ partNumber: i + 1, contentLength: b.length, sha256: sha256(b) })),
      { expiresInSeconds: 60 },
    );
    const wrong = await fetch(urls[1]!.url, { method: 'PUT', body: randomBytes(1000) });
    expect(wrong.status).toBe(422);
    expect(((await wrong.json()) as { error: unknown }).error).toMatchObject({ code: 'SHA256_MISMATCH', field: 'sha256' });
    for (const [i, u] of urls.entries()) {
      const res = await fetch(u.url, { method: 'PUT', body: parts[i]! });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ partNumber: i + 1, size: parts[i]!.length, sha256: sha256(parts[i]!) });
    }
    // a part URL is no whole-object URL: without its part number the signature fails
    const asWhole = new URL(urls[0]!.url);
    asWhole.searchParams.delete('part');
    expect((await fetch(asWhole, { method: 'PUT', body: parts[0]! })).status).toBe(403);
    const info = await store.completeMultipartUpload(key, { partCount: 2, expectedSize: parts[0]!.length + 1000 });
    expect(info).toMatchObject({ size: parts[0]!.length + 1000, receivedSha256: sha256(Buffer.concat(parts)), pendingUpload: true });
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';

let stack: Stack;
let publisher: string;
let auditor: string;

beforeAll(async () => {
  stack = await startStack();
  publisher = (await stack.api('POST', '/v1/tokens', { principal: 'ci-publisher', role: 'publisher' })).body.token;
  auditor = (await stack.api('POST', '/v1/tokens', { principal: 'audit-team', role: 'auditor' })).body.token;
});
afterAll(async () => {
  await stack?.stop();
});

/** Everything a registration can leave behind: rows and the manifest/signature objects. */
async function footprint() {
  const db = stack.container.database.db;
  const count = async (t: 'artifacts' | 'models' | 'manifest_signatures' | 'idempotency_keys') =>
    Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  const sidecars: string[] = [];
  for await (const o of stack.container.store.list('artifacts/')) if (!o.key.endsWith('/artifact')) sidecars.push(o.key);
  return { artifacts: await count('artifacts'), models: await count('models'), signatures: await count('manifest_signatures'), idempotency: await count('idempotency_keys'), sidecars };
}

async function uploaded(modelName: string, bytes: Buffer) {
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName, size: bytes.length });
  expect(up.status).toBe(201);
  expect((await fetch(up.body.url, { method: 'PUT', body: bytes })).status).toBe(200);
  return up.body.uploadId as string;
}

async function expectRefused(res: { status: number; body: any }, status: number, code: string, field: string | undefined, before: Awaited<ReturnType<typeof footprint>>) {
  expect({ status: res.status, code: res.body?.error?.code, field: res.body?.error?.field }).toEqual({ status, code, field });
  expect(typeof res.body.error.message).toBe('string');
  expect(await footprint()).toEqual(before);
}

describe('authentication and roles', () => {
  it('answers 401 without credentials or with an unknown token, naming Authorization', async () => {
    for (const token of [null, 'aegis_not-a-real-token']) {
      const res = await stack.api('GET', '/v1/registry/models', undefined, { token });
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({ code: 'UNAUTHENTICATED', field: 'Authorization' });
    }
  });

  it('answers 403 when the role may not call the route, and writes nothing', async () => {
    const before = await footprint();
    const bytes = randomBytes(100);
    const up = await stack.api('POST', '/v1/registry/uploads', { modelName: 'm', size: 100 }, { token: auditor });
    expect(up.status).toBe(403);
    expect(up.body.error.code).toBe('FORBIDDEN');
    const reg = await stack.api('POST', '/v1/registry/register', { uploadId: randomUUID(), manifest: manifestFor('m', bytes) }, { token: auditor });
    await expectRefused(reg, 403, 'FORBIDDEN', undefined, before);
    expect((await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest' }, { token: publisher })).status).toBe(403);
    expect((await stack.api('POST', '/v1/tokens', { principal: 'x', role: 'admin' }, { token: publisher })).status).toBe(403);
  });

  it('lets a publisher register and an auditor read and verify', async () => {
    const bytes = randomBytes(800);
    const reg = await uploadAndRegister(stack, 'roles-ok', bytes, { token: publisher });
    expect(reg.status).toBe(201);
    const rec = await stack.api('GET', `/v1/registry/${reg.body.artifactId}`, undefined, { token: auditor });
    expect(rec.body.createdBy).toBe('ci-publisher');
    expect((await stack.api('GET', `/v1/registry/${reg.body.artifactId}/validate`, undefined, { token: auditor })).body.ok).toBe(true);
  });
});

describe('bad input is refused with a coded 4xx naming the field, and nothing is written', () => {
  it('refuses unknown fields in the body', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    const uploadId = await uploaded('strict', bytes);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest: { ...manifestFor('strict', bytes), extra: 1 } });
    await expectRefused(res, 400, 'VALIDATION_FAILED', 'manifest.extra', before);
    const top = await stack.api('POST', '/v1/registry/register', { uploadId, manifest: manifestFor('strict', bytes), force: true });
    await expectRefused(top, 400, 'VALIDATION_FAILED', 'force', before);
  });

  it.each([['../etc'], ['a/b'], ['Caps'], ['x..y'], [''], ['.hidden']])('refuses the model name %p', async (name) => {
    const before = await footprint();
    const res = await stack.api('POST', '/v1/registry/uploads', { modelName: name, size: 10 });
    await expectRefused(res, 400, 'VALIDATION_FAILED', 'modelName', before);
  });

  it('refuses a path-like model name in a URL', async () => {
    const res = await stack.api('GET', '/v1/registry/models/..%2Fsecrets/versions');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'model' });
  });

  it('refuses a body over the size limit before parsing, hashing or signing', async () => {
    const before = await footprint();
    const huge = JSON.stringify({ uploadId: randomUUID(), manifest: { ...manifestFor('big', randomBytes(8)), trainingCmd: 'x'.repeat(600_000) } });
    const res = await stack.api('POST', '/v1/registry/register', undefined, { raw: huge });
    await expectRefused(res, 413, 'PAYLOAD_TOO_LARGE', 'body', before);
  });

  it('refuses malformed JSON and a missing body', async () => {
    const before = await footprint();
    await expectRefused(await stack.api('POST', '/v1/registry/register', undefined, { raw: '{"uploadId":' }), 400, 'INVALID_JSON', 'body', before);
    await expectRefused(await stack.api('POST', '/v1/registry/register', undefined, { raw: '' }), 400, 'VALIDATION_FAILED', 'body', before);
  });

  it('refuses a manifest whose sha256 does not match the uploaded bytes', async () => {
    const before = await footprint();
    const bytes = randomBytes(5000);
    const uploadId = await uploaded('sha-mismatch', bytes);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest: manifestFor('sha-mismatch', bytes, { artifactSha256: 'c'.repeat(64) }) });
    await expectRefused(res, 422, 'SHA256_MISMATCH', 'manifest.artifactSha256', before);
  });

  it('refuses a manifest whose size does not match the uploaded bytes', async () => {
    const before = await footprint();
    const bytes = randomBytes(5000);
    const uploadId = await uploaded('size-mismatch', bytes);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest: manifestFor('size-mismatch', bytes, { artifactSize: 4999 }) });
    await expectRefused(res, 422, 'SIZE_MISMATCH', 'manifest.artifactSize', before);
  });

  it.each([
    ['containerDigest', { containerDigest: 'latest' }, 'manifest.containerDigest'],
    ['codeRef', { codeRef: '' }, 'manifest.codeRef'],
    ['seed', { seed: -1 }, 'manifest.seed'],
    ['createdAt', { createdAt: 'yesterday' }, 'manifest.createdAt'],
    ['datasetRefs checksum', { datasetRefs: [{ id: 'd', version: '1', checksum: 'md5:abc' }] }, 'manifest.datasetRefs.0.checksum'],
    ['artifactId', { artifactId: 'not-a-uuid' }, 'manifest.artifactId'],
  ])('refuses a malformed %s', async (_name, override, field) => {
    const before = await footprint();
    const bytes = randomBytes(32);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId: randomUUID(), manifest: manifestFor('malformed', bytes, override) });
    await expectRefused(res, 400, 'VALIDATION_FAILED', field, before);
  });

  it('refuses an unknown upload and a manifest for another model than the upload', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    await expectRefused(await stack.api('POST', '/v1/registry/register', { uploadId: randomUUID(), manifest: manifestFor('nope', bytes) }), 404, 'UPLOAD_NOT_FOUND', 'uploadId', before);
    const uploadId = await uploaded('model-a', bytes);
    await expectRefused(await stack.api('POST', '/v1/registry/register', { uploadId, manifest: manifestFor('model-b', bytes) }), 400, 'VALIDATION_FAILED', 'manifest.modelName', before);
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    const uploadId = await uploaded('idem-bad', bytes);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest: manifestFor('idem-bad', bytes) }, { headers: { 'idempotency-key': 'short' } });
    await expectRefused(res, 400, 'VALIDATION_FAILED', 'Idempotency-Key', before);
  });

  it('refuses bad paths, queries and ids', async () => {
    const cases: [string, number, string, string | undefined][] = [
      ['/v1/registry/not-a-uuid', 400, 'VALIDATION_FAILED', 'artifactId'],
      [`/v1/registry/${randomUUID()}`, 404, 'NOT_FOUND', 'artifactId'],
      ['/v1/registry/models/ok/versions/zero', 400, 'VALIDATION_FAILED', 'version'],
      ['/v1/registry/models?limit=0', 400, 'VALIDATION_FAILED', 'query.limit'],
      ['/v1/registry/models?colour=blue', 400, 'VALIDATION_FAILED', 'query.colour'],
      ['/v1/registry/models/never-registered/versions', 404, 'NOT_FOUND', 'model'],
      ['/v1/nothing-here', 404, 'ROUTE_NOT_FOUND', undefined],
    ];
    for (const [path, status, code, field] of cases) {
      const res = await stack.api('GET', path);
      expect({ path, status: res.status, code: res.body.error?.code, field: res.body.error?.field }).toEqual({ path, status, code, field });
    }
  });

  it('refuses an upload larger than the size the upload URL was made for', async () => {
    const up = await stack.api('POST', '/v1/registry/uploads', { modelName: 'oversize', size: 10 });
    const put = await fetch(up.body.url, { method: 'PUT', body: randomBytes(11) });
    expect(put.status).toBe(400);
    expect(await stack.container.store.head(`artifacts/oversize/${up.body.uploadId}/artifact`)).toBeUndefined();
    const tampered = up.body.url.replace(/sig=[0-9a-f]{4}/, 'sig=0000');
    expect((await fetch(tampered, { method: 'PUT', body: randomBytes(10) })).status).toBe(403);
  });
});

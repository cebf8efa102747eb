import { randomBytes, randomUUID } from 'node:crypto';
import { legacyAuditLog } from '../support/legacy-writer.js';
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
    Number(
      (
        await db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const sidecars: string[] = [];
  for await (const o of stack.container.store.list('artifacts/')) if (!o.key.endsWith('/artifact')) sidecars.push(o.key);
  return {
    artifacts: await count('artifacts'),
    models: await count('models'),
    signatures: await count('manifest_signatures'),
    idempotency: await count('idempotency_keys'),
    sidecars,
  };
}

async function uploaded(modelName: string, bytes: Buffer) {
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName, size: bytes.length });
  expect(up.status).toBe(201);
  expect((await fetch(up.body.url, { method: 'PUT', body: bytes })).status).toBe(200);
  return up.body.uploadId as string;
}

async function expectRefused(
  res: { status: number; body: any },
  status: number,
  code: string,
  field: string | undefined,
  before: Awaited<ReturnType<typeof footprint>>,
) {
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
    const reg = await stack.api(
      'POST',
      '/v1/registry/register',
      { uploadId: randomUUID(), manifest: manifestFor('m', bytes) },
      { token: auditor },
    );
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
    const huge = JSON.stringify({
      uploadId: randomUUID(),
      manifest: { ...manifestFor('big', randomBytes(8)), trainingCmd: 'x'.repeat(600_000) },
    });
    const res = await stack.api('POST', '/v1/registry/register', undefined, { raw: huge });
    await expectRefused(res, 413, 'PAYLOAD_TOO_LARGE', 'body', before);
  });

  it('refuses malformed JSON and a missing body', async () => {
    const before = await footprint();
    await expectRefused(
      await stack.api('POST', '/v1/registry/register', undefined, { raw: '{"uploadId":' }),
      400,
      'INVALID_JSON',
      'body',
      before,
    );
    await expectRefused(await stack.api('POST', '/v1/registry/register', undefined, { raw: '' }), 400, 'VALIDATION_FAILED', 'body', before);
  });

  it('refuses a manifest whose sha256 does not match the uploaded bytes', async () => {
    const before = await footprint();
    const bytes = randomBytes(5000);
    const uploadId = await uploaded('sha-mismatch', bytes);
    const res = await stack.api('POST', '/v1/registry/register', {
      uploadId,
      manifest: manifestFor('sha-mismatch', bytes, { artifactSha256: 'c'.repeat(64) }),
    });
    await expectRefused(res, 422, 'SHA256_MISMATCH', 'manifest.artifactSha256', before);
  });

  it('refuses a manifest whose size does not match the uploaded bytes', async () => {
    const before = await footprint();
    const bytes = randomBytes(5000);
    const uploadId = await uploaded('size-mismatch', bytes);
    const res = await stack.api('POST', '/v1/registry/register', {
      uploadId,
      manifest: manifestFor('size-mismatch', bytes, { artifactSize: 4999 }),
    });
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
    const res = await stack.api('POST', '/v1/registry/register', {
      uploadId: randomUUID(),
      manifest: manifestFor('malformed', bytes, override),
    });
    await expectRefused(res, 400, 'VALIDATION_FAILED', field, before);
  });

  it('refuses an unknown upload and a manifest for another model than the upload', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    await expectRefused(
      await stack.api('POST', '/v1/registry/register', { uploadId: randomUUID(), manifest: manifestFor('nope', bytes) }),
      404,
      'UPLOAD_NOT_FOUND',
      'uploadId',
      before,
    );
    const uploadId = await uploaded('model-a', bytes);
    await expectRefused(
      await stack.api('POST', '/v1/registry/register', { uploadId, manifest: manifestFor('model-b', bytes) }),
      400,
      'VALIDATION_FAILED',
      'manifest.modelName',
      before,
    );
  });

  it('refuses a malformed Idempotency-Key', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    const uploadId = await uploaded('idem-bad', bytes);
    const res = await stack.api(
      'POST',
      '/v1/registry/register',
      { uploadId, manifest: manifestFor('idem-bad', bytes) },
      { headers: { 'idempotency-key': 'short' } },
    );
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

describe('free-form JSON is bounded before it is parsed deeper, and duplicate keys are refused', () => {
  const db = () => stack.container.database.db;
  const rows = async () => {
    const n = async (t: 'datasets' | 'audit_events' | 'artifacts') =>
      Number(
        (
          await db()
            .selectFrom(t)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    return { datasets: await n('datasets'), events: await n('audit_events'), artifacts: await n('artifacts') };
  };
  const nested = (depth: number, leaf = '1') => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
  const code = (res: { status: number; body: any }) => ({ status: res.status, code: res.body?.error?.code, field: res.body?.error?.field });

  it('refuses a manifest nested 3,000 deep with 400 JSON_TOO_DEEP naming the field, not a 500', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    const uploadId = await uploaded('deep', bytes);
    const manifest = JSON.stringify(manifestFor('deep', bytes)).replace(
      '"hyperparams":{"lr":0.1,"epochs":3}',
      `"hyperparams":${nested(3000)}`,
    );
    const res = await stack.api('POST', '/v1/registry/register', undefined, {
      raw: JSON.stringify({ uploadId }).replace('}', `,"manifest":${manifest}}`),
    });
    await expectRefused(res, 400, 'JSON_TOO_DEEP', 'manifest.hyperparams', before);
    const verify = await stack.api('POST', '/v1/registry/verify-manifest', undefined, { raw: `{"manifest":${manifest}}` });
    expect(code(verify)).toEqual({ status: 400, code: 'JSON_TOO_DEEP', field: 'manifest' });
  });

  it('refuses a dataset schema nested 20,000 deep before anything is written', async () => {
    const before = await rows();
    const body = `{"id":"deep-schema","version":"1","checksum":"sha256:${'d'.repeat(64)}","uri":"file:///d","schema":${nested(20_000)}}`;
    const res = await stack.api('POST', '/v1/datasets', undefined, { raw: body });
    expect(code(res)).toEqual({ status: 400, code: 'JSON_TOO_DEEP', field: 'schema' });
    expect(await rows()).toEqual(before);
    expect((await stack.api('GET', '/v1/datasets/deep-schema/versions/1')).status).toBe(404);
  });

  it('refuses a dataset schema over its size limit (413 naming schema) and writes nothing', async () => {
    const before = await rows();
    const schema = Object.fromEntries(
      Array.from({ length: 2000 }, (_, i) => [`column_${i}`, { type: 'string', description: 'x'.repeat(40) }]),
    );
    const res = await stack.api('POST', '/v1/datasets', {
      id: 'wide-schema',
      version: '1',
      checksum: `sha256:${'d'.repeat(64)}`,
      uri: 'file:///d',
      schema,
    });
    expect(code(res)).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE', field: 'schema' });
    expect(await rows()).toEqual(before);
  });

  it('refuses a manifest over 256 KiB (413 naming manifest) though the body is under the request limit', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    const uploadId = await uploaded('big-manifest', bytes);
    const manifest = manifestFor('big-manifest', bytes, { environment: { notes: 'n'.repeat(270 * 1024) } });
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest });
    await expectRefused(res, 413, 'PAYLOAD_TOO_LARGE', 'manifest', before);
    const verify = await stack.api('POST', '/v1/registry/verify-manifest', { manifest });
    expect(code(verify)).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE', field: 'manifest' });
  });

  it('refuses duplicate keys in a manifest (the last one would have been signed), naming the key', async () => {
    const before = await footprint();
    const bytes = randomBytes(64);
    const uploadId = await uploaded('dupes', bytes);
    const text = JSON.stringify({ uploadId, manifest: manifestFor('dupes', bytes) }).replace(
      '"metrics":{"auc":0.91}',
      '"metrics":{"auc":0.10},"metrics":{"auc":0.91}',
    );
    expect(text).toContain('"metrics":{"auc":0.10},"metrics"');
    await expectRefused(
      await stack.api('POST', '/v1/registry/register', undefined, { raw: text }),
      400,
      'DUPLICATE_JSON_KEY',
      'manifest.metrics',
      before,
    );
    const inner = JSON.stringify({ uploadId, manifest: manifestFor('dupes', bytes) }).replace('"auc":0.91', '"auc":0.10,"auc":0.91');
    await expectRefused(
      await stack.api('POST', '/v1/registry/register', undefined, { raw: inner }),
      400,
      'DUPLICATE_JSON_KEY',
      'manifest.metrics.auc',
      before,
    );
    const verify = await stack.api('POST', '/v1/registry/verify-manifest', undefined, { raw: `{"manifest":{"seed":1,"seed":2}}` });
    expect(code(verify)).toEqual({ status: 400, code: 'DUPLICATE_JSON_KEY', field: 'manifest.seed' });
  });

  it('refuses duplicate keys in approvals, dataset records and every other body', async () => {
    const before = await rows();
    const approval = await stack.api('POST', `/v1/promotions/${randomUUID()}/approvals`, undefined, {
      raw: `{"approverId":"a","approverId":"b","signature":"AA==","expiresAt":"2030-01-01T00:00:00Z"}`,
    });
    expect(code(approval)).toEqual({ status: 400, code: 'DUPLICATE_JSON_KEY', field: 'approverId' });
    const dataset = await stack.api('POST', '/v1/datasets', undefined, {
      raw: `{"id":"dup","version":"1","checksum":"sha256:${'1'.repeat(64)}","checksum":"sha256:${'2'.repeat(64)}","uri":"file:///d"}`,
    });
    expect(code(dataset)).toEqual({ status: 400, code: 'DUPLICATE_JSON_KEY', field: 'checksum' });
    expect(await rows()).toEqual(before);
  });

  it('serves audit listings and dataset reads whatever the stored rows hold (data written before these limits)', async () => {
    // rows as the old code committed them: a schema 20,000 deep, and its audit event
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = { a: deep };
    await db()
      .insertInto('datasets')
      .values({
        dataset_id: 'legacy-deep',
        version: '1',
        checksum: `sha256:${'f'.repeat(64)}`,
        uri: 'file:///legacy',
        schema: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`,
        created_by: 'old-server',
        created_at: new Date(),
      })
      .execute();
    await db()
      .transaction()
      .execute((tx) =>
        legacyAuditLog(stack.container, 'dataset.registered').append(tx, {
          type: 'dataset.registered',
          actor: 'old-server',
          subject: 'dataset:legacy-deep@1',
          payload: { id: 'legacy-deep', schema: deep },
        }),
      );
    const list = await stack.api('GET', '/v1/audit?subject=dataset:legacy-deep@1');
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect((await stack.api('GET', '/v1/audit?limit=1000')).status).toBe(200);
    const get = await stack.api('GET', '/v1/datasets/legacy-deep/versions/1');
    expect(get.status).toBe(200);
    expect(get.body.checksum).toBe(`sha256:${'f'.repeat(64)}`);
  });
});

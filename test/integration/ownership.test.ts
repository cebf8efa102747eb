import { randomBytes } from 'node:crypto';
import { manifestFor, registerDatasets, startStack, type Stack } from '../support/local-stack.js';

/**
 * Object-level authorization: every id a caller passes must be one it may act on. An upload
 * belongs to the principal that created it; an Idempotency-Key is scoped to its principal.
 */
let stack: Stack;
let alice: string;
let bob: string;

beforeAll(async () => {
  stack = await startStack();
  alice = (await stack.api('POST', '/v1/tokens', { principal: 'alice', role: 'publisher' })).body.token;
  bob = (await stack.api('POST', '/v1/tokens', { principal: 'bob', role: 'publisher' })).body.token;
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

async function uploadAs(token: string, modelName: string, bytes: Buffer) {
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName, size: bytes.length }, { token });
  expect(up.status).toBe(201);
  expect((await fetch(up.body.url, { method: 'PUT', body: bytes })).status).toBe(200);
  return up.body.uploadId as string;
}

const artifactCount = async () =>
  Number(
    (
      await stack.container.database.db
        .selectFrom('artifacts')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );
const auditCount = async () =>
  Number(
    (
      await stack.container.database.db
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('an upload belongs to its creator', () => {
  it("refuses another publisher's registration of an upload (403 naming uploadId), writes nothing, and the creator then registers it as its own", async () => {
    const bytes = randomBytes(2048);
    const manifest = manifestFor('owned', bytes);
    await registerDatasets(stack, manifest);
    const uploadId = await uploadAs(alice, 'owned', bytes);
    const [artifacts, events] = [await artifactCount(), await auditCount()];

    const stolen = await stack.api(
      'POST',
      '/v1/registry/register',
      { uploadId, manifest: { ...manifest, metrics: { auc: 0.99 } } },
      { token: bob },
    );
    expect({ status: stolen.status, code: stolen.body.error?.code, field: stolen.body.error?.field }).toEqual({
      status: 403,
      code: 'FORBIDDEN',
      field: 'uploadId',
    });
    expect([await artifactCount(), await auditCount()]).toEqual([artifacts, events]);

    const own = await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice });
    expect(own.status).toBe(201);
    expect(own.body.replayed).toBe(false);
    const rec = await stack.api('GET', `/v1/registry/${own.body.artifactId}`);
    expect(rec.body.createdBy).toBe('alice');
    expect(rec.body.manifest.metrics).toEqual({ auc: 0.91 });
  });

  it("refuses another publisher's upload even when the artifact is already registered (no replay through someone else's upload)", async () => {
    const bytes = randomBytes(1024);
    const manifest = manifestFor('owned-replay', bytes);
    await registerDatasets(stack, manifest);
    const uploadId = await uploadAs(alice, 'owned-replay', bytes);
    expect((await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice })).status).toBe(201);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: bob });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', field: 'uploadId' });
  });

  it("refuses an admin registering a publisher's upload too: the record would name the wrong author", async () => {
    const bytes = randomBytes(512);
    const manifest = manifestFor('owned-admin', bytes);
    await registerDatasets(stack, manifest);
    const uploadId = await uploadAs(alice, 'owned-admin', bytes);
    const res = await stack.api('POST', '/v1/registry/register', { uploadId, manifest });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', field: 'uploadId' });
  });
});

describe('an Idempotency-Key belongs to its principal', () => {
  it("does not hand bob alice's result for alice's key", async () => {
    const bytes = randomBytes(700);
    const manifest = manifestFor('idem-owned', bytes);
    await registerDatasets(stack, manifest);
    const key = { 'idempotency-key': 'shared-key-0001' };
    const a = await stack.api(
      'POST',
      '/v1/registry/register',
      { uploadId: await uploadAs(alice, 'idem-owned', bytes), manifest },
      { token: alice, headers: key },
    );
    expect(a.status).toBe(201);
    const other = randomBytes(700);
    const otherManifest = manifestFor('idem-owned', other);
    const b = await stack.api(
      'POST',
      '/v1/registry/register',
      { uploadId: await uploadAs(bob, 'idem-owned', other), manifest: otherManifest },
      { token: bob, headers: key },
    );
    expect(b.status).toBe(201);
    expect(b.body.artifactId).not.toBe(a.body.artifactId);
    expect((await stack.api('GET', `/v1/registry/${b.body.artifactId}`)).body.createdBy).toBe('bob');
  });
});

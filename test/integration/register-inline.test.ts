import { randomBytes } from 'node:crypto';
import { LIMITS } from '../../lib/kernel/manifest.js';
import { storageParity } from '../../lib/recovery/parity.js';
import { manifestFor, registerDatasets, sha256, startStack, type Stack } from '../support/local-stack.js';

/**
 * A small artifact registers in one request (issue 25): its bytes, base64, beside the manifest at
 * `POST /v1/registry/artifacts`. What the upload path guarantees holds: the bytes are stored and
 * verifiable, a replay writes nothing, bad input is refused naming the field and writes nothing.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const ROUTE = '/v1/registry/artifacts';

async function inline(
  model: string,
  bytes: Buffer,
  opts: { manifest?: Record<string, unknown>; team?: string; token?: string; headers?: Record<string, string> } = {},
) {
  const manifest = opts.manifest ?? manifestFor(model, bytes);
  await registerDatasets(stack, manifest);
  return stack.api(
    'POST',
    ROUTE,
    { manifest, artifact: bytes.toString('base64'), ...(opts.team && { team: opts.team }) },
    { ...(opts.token && { token: opts.token }), ...(opts.headers && { headers: opts.headers }) },
  );
}

/** What a model's registration left: its upload rows and the objects under its prefix. */
async function leftBehind(model: string) {
  const uploads = await stack.container.database.db.selectFrom('uploads').select('upload_id').where('model_name', '=', model).execute();
  const objects: string[] = [];
  for await (const o of stack.container.store.list(`artifacts/${model}/`)) objects.push(o.key);
  return { uploads: uploads.length, objects };
}

describe('POST /v1/registry/artifacts: one request', () => {
  it('registers the bytes with their manifest: stored, signed and verifiable like an uploaded artifact', async () => {
    const bytes = randomBytes(64 * 1024);
    const res = await inline('inline-a', bytes, { team: 'inline-team' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ modelName: 'inline-a', version: 1, sha256: sha256(bytes), replayed: false });
    const record = await stack.api('GET', `/v1/artifacts/${res.body.artifactId}`);
    expect(record.body).toMatchObject({ sha256: sha256(bytes), size: bytes.length });
    // written retained and claimed at once: never a pending upload the expiry job could remove
    const stored = await stack.container.store.head(record.body.storage.key, { versionId: record.body.storage.versionId });
    expect(stored).toMatchObject({ size: bytes.length, sha256: sha256(bytes), retainUntil: expect.any(Date) });
    expect(stored!.retainUntil!.getTime()).toBeGreaterThan(Date.now() + 86_400_000);
    expect(stored!.pendingUpload).toBeUndefined();
    // validation reads the stored bytes back and checks them against the signed manifest
    const report = await stack.api('GET', `/v1/artifacts/${res.body.artifactId}/validate`);
    expect(report.body.ok).toBe(true);
    // audited as an uploaded artifact's registration is, in the verified chain
    const events = await stack.api('GET', `/v1/audit?subject=${encodeURIComponent(`artifact:${res.body.artifactId}`)}`);
    expect(events.body.items.map((e: { type: string }) => e.type).sort()).toEqual(['artifact.registered', 'manifest.signed']);
    expect((await stack.api('GET', '/v1/audit/verify')).body).toMatchObject({ ok: true });
    const models = await stack.api('GET', '/v1/registry/models?q=inline-a');
    expect(models.body.items[0]).toMatchObject({ name: 'inline-a', team: 'inline-team' });
    // the registration claimed what it wrote: one upload, the artifact and its two sidecars
    const left = await leftBehind('inline-a');
    expect(left.uploads).toBe(1);
    expect(left.objects).toHaveLength(3);
    // the next version of the same model, bytes of another size
    const next = await inline('inline-a', randomBytes(10));
    expect(next.body).toMatchObject({ version: 2, replayed: false });
  });

  it('answers a replay (by Idempotency-Key, or the same bytes) with the earlier registration and writes nothing', async () => {
    const bytes = randomBytes(2000);
    const manifest = manifestFor('inline-replay', bytes);
    const headers = { 'idempotency-key': `inline-${randomBytes(6).toString('hex')}` };
    const first = await inline('inline-replay', bytes, { manifest, headers });
    expect(first.status).toBe(201);
    const before = await leftBehind('inline-replay');
    const again = await inline('inline-replay', bytes, { manifest, headers });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, replayed: true });
    const sameBytes = await inline('inline-replay', bytes, { manifest });
    expect(sameBytes.status).toBe(200);
    expect(sameBytes.body.artifactId).toBe(first.body.artifactId);
    // other bytes under the registered manifest are refused, not answered with the registration
    const wrongBytes = await stack.api('POST', ROUTE, { manifest, artifact: randomBytes(2000).toString('base64') });
    expect(wrongBytes.status).toBe(422);
    expect(wrongBytes.body.error).toMatchObject({ code: 'SHA256_MISMATCH', field: 'manifest.artifactSha256' });
    expect(await leftBehind('inline-replay')).toEqual(before);
    // the key with another request body is refused
    const other = randomBytes(2000);
    const reused = await inline('inline-replay', other, { headers });
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' });
  });

  it('registers on a retry after a write failed half way: nothing registered, what the first attempt wrote reported by storage parity', async () => {
    const bytes = randomBytes(4000);
    const manifest = manifestFor('inline-retry', bytes);
    const store = stack.container.store;
    const put = store.put;
    store.put = async (key, body, opts) => {
      if (key.includes('/signature-')) throw new Error('disk full');
      return put.call(store, key, body, opts);
    };
    try {
      const failed = await inline('inline-retry', bytes, { manifest });
      expect(failed.status).toBe(500);
    } finally {
      store.put = put;
    }
    expect((await stack.api('GET', '/v1/registry/models/inline-retry/versions')).status).toBe(404);
    // what the first attempt wrote (retained: nothing may delete it) no row names: storage parity reports it
    expect((await leftBehind('inline-retry')).uploads).toBe(0);
    const reported = async () =>
      (await storageParity(stack.container.database, stack.container.store)).issues
        .filter((i) => i.key.startsWith('artifacts/inline-retry/'))
        .map((i) => `${i.kind} ${i.key.slice(i.key.lastIndexOf('/') + 1).replace(/-.*/, '')}`)
        .sort();
    expect(await reported()).toEqual(['orphan-sidecar manifest', 'unregistered-upload artifact']);
    const retried = await inline('inline-retry', bytes, { manifest });
    expect(retried.status).toBe(201);
    expect(retried.body).toMatchObject({ version: 1, sha256: sha256(bytes), replayed: false });
    expect((await leftBehind('inline-retry')).uploads).toBe(1);
    expect(await reported()).toEqual(['orphan-sidecar manifest', 'unregistered-upload artifact']);
  });

  it.each([
    ['a sha256 other than the bytes', (b: Buffer) => ({ artifactSha256: sha256(randomBytes(b.length)) }), 'manifest.artifactSha256'],
    ['a size other than the bytes', (b: Buffer) => ({ artifactSize: b.length + 1 }), 'manifest.artifactSize'],
  ])('refuses a manifest with %s, naming the field, and writes nothing', async (_name, override, field) => {
    const model = `inline-bad-${field.split('.')[1]!.toLowerCase()}`;
    const bytes = randomBytes(3000);
    const res = await inline(model, bytes, { manifest: manifestFor(model, bytes, override(bytes)) });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body.error.field).toBe(field);
    expect(await leftBehind(model)).toEqual({ uploads: 0, objects: [] });
    expect((await stack.api('GET', `/v1/registry/models/${model}/versions`)).status).toBe(404);
  });

  it('refuses bytes that are not base64, or more than the limit, naming `artifact`; a body over its cap is 413 naming `body`', async () => {
    const bytes = randomBytes(100);
    const manifest = manifestFor('inline-limits', bytes);
    const notBase64 = await stack.api('POST', ROUTE, { manifest, artifact: 'not base64!' });
    expect(notBase64.status).toBe(400);
    expect(notBase64.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'artifact' });
    const missing = await stack.api('POST', ROUTE, { manifest });
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe('artifact');
    // one byte over the limit: within the route's body cap, refused by the schema
    const over = randomBytes(LIMITS.inlineArtifactBytes + 1);
    const tooLarge = await stack.api('POST', ROUTE, { manifest: manifestFor('inline-limits', over), artifact: over.toString('base64') });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'artifact' });
    expect(tooLarge.body.error.message).toContain('POST /v1/registry/uploads');
    const huge = await stack.api('POST', ROUTE, undefined, {
      raw: JSON.stringify({ manifest, artifact: 'A'.repeat(LIMITS.inlineRequestBodyBytes) }),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body' });
    // the larger cap is this route's alone
    const register = await stack.api('POST', '/v1/registry/register', undefined, {
      raw: JSON.stringify({ uploadId: 'x', manifest, pad: 'A'.repeat(LIMITS.requestBodyBytes) }),
    });
    expect(register.status).toBe(413);
    expect(await leftBehind('inline-limits')).toEqual({ uploads: 0, objects: [] });
  });

  it("holds the caller to its role and scope: a reader is refused, a team-scoped publisher only within its team's models", async () => {
    const reader = await stack.api('POST', '/v1/tokens', { principal: 'inline-reader', role: 'reader' });
    const publisher = await stack.api('POST', '/v1/tokens', {
      principal: 'inline-publisher',
      role: 'publisher',
      scope: { teams: ['inline-mine'] },
    });
    const bytes = randomBytes(500);
    const byReader = await inline('inline-scope', bytes, { token: reader.body.token });
    expect(byReader.status).toBe(403);
    const elsewhere = await inline('inline-scope', bytes, { token: publisher.body.token, team: 'inline-theirs' });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.error.field).toBe('manifest.modelName');
    const noTeam = await inline('inline-scope', bytes, { token: publisher.body.token });
    expect(noTeam.status).toBe(403);
    expect(await leftBehind('inline-scope')).toEqual({ uploads: 0, objects: [] });
    const mine = await inline('inline-scope', bytes, { token: publisher.body.token, team: 'inline-mine' });
    expect(mine.status).toBe(201);
  });
});

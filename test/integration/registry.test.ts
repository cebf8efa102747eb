import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { manifestStatement, statementBytes } from '../../lib/kernel/signatures.js';
import { TrainingManifest } from '../../lib/kernel/manifest.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { flipByte, storedVersionFile } from '../support/tamper.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const failed = (report: { checks: { check: string; ok: boolean; reason?: string }[] }) =>
  report.checks.filter((c) => !c.ok).map((c) => c.check);

describe('registry on the local stack', () => {
  it('registers an artifact, returns it by id and by version, and verifies it', async () => {
    const artifact = randomBytes(300_000);
    const reg = await uploadAndRegister(stack, 'fraud-detector', artifact);
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ modelName: 'fraud-detector', version: 1, signerId: 'manifest-signer-v1', replayed: false });

    const got = await stack.api('GET', `/v1/registry/${reg.body.artifactId}`);
    expect(got.status).toBe(200);
    expect(got.body.manifest.artifactId).toBe(reg.body.artifactId);
    expect(got.body.signature.manifestSignatureId).toBe(reg.body.manifestSignatureId);

    const byVersion = await stack.api('GET', '/v1/registry/models/fraud-detector/versions/1');
    expect(byVersion.body.artifactId).toBe(reg.body.artifactId);

    const report = await stack.api('GET', `/v1/registry/${reg.body.artifactId}/validate`);
    expect(report.status).toBe(200);
    expect(report.body.ok).toBe(true);
    expect(report.body.checks.map((c: { check: string }) => c.check)).toEqual(
      expect.arrayContaining(['artifact-sha256', 'artifact-size', 'signature', 'signer', 'provenance']),
    );

    const verify = await stack.api('POST', '/v1/registry/verify-manifest', { manifest: got.body.manifest });
    expect(verify.body.ok).toBe(true);
  });

  it('stores the manifest and signature beside the artifact so the index can be rebuilt from storage', async () => {
    const artifact = randomBytes(1000);
    const reg = await uploadAndRegister(stack, 'beside', artifact);
    const rec = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}`)).body;
    const dir = rec.storage.key.replace(/\/artifact$/, '');
    expect(rec.storage.manifestKey).toBe(`${dir}/manifest-${rec.signature.manifestSignatureId}.json`);
    const stored = JSON.parse(await streamText(await stack.container.store.get(rec.storage.manifestKey)));
    expect(stored).toEqual(rec.manifest);
    const sig = JSON.parse(await streamText(await stack.container.store.get(rec.storage.signatureKey)));
    expect(sig).toEqual(rec.signature);
    const head = await stack.container.store.head(rec.storage.key);
    expect(head?.retainUntil && head.retainUntil.getTime()).toBeGreaterThan(Date.now());
  });

  it('fails validation naming the sha256 mismatch when one byte of the stored artifact changes', async () => {
    const artifact = randomBytes(50_000);
    const reg = await uploadAndRegister(stack, 'tamper-bytes', artifact);
    const rec = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}`)).body;
    await flipByte(storedVersionFile(stack.dataDir, rec.storage), 1234);
    const report = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}/validate`)).body;
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(['artifact-sha256']);
    const c = report.checks.find((x: { check: string }) => x.check === 'artifact-sha256');
    expect(c.expected).toBe(rec.sha256);
    expect(c.actual).not.toBe(rec.sha256);
  });

  it('validates by model and version: the same report as by id, 404 naming the version for an unknown one', async () => {
    const reg = await uploadAndRegister(stack, 'validate-by-version', randomBytes(4000));
    const byVersion = await stack.api('GET', '/v1/registry/models/validate-by-version/versions/1/validate');
    expect(byVersion.status).toBe(200);
    expect(byVersion.body.ok).toBe(true);
    expect(byVersion.body.artifactId).toBe(reg.body.artifactId);
    const rec = (await stack.api('GET', `/v1/artifacts/${reg.body.artifactId}`)).body;
    await flipByte(storedVersionFile(stack.dataDir, rec.storage), 10);
    const tampered = (await stack.api('GET', '/v1/registry/models/validate-by-version/versions/1/validate')).body;
    expect(tampered.ok).toBe(false);
    expect(failed(tampered)).toEqual(['artifact-sha256']);
    const missing = await stack.api('GET', '/v1/registry/models/validate-by-version/versions/2/validate');
    expect(missing.status).toBe(404);
    expect(missing.body.error.field).toBe('version');
  });

  it('fails the signature check when the manifest is edited', async () => {
    const reg = await uploadAndRegister(stack, 'tamper-manifest', randomBytes(2000));
    const rec = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}`)).body;
    const edited = { ...rec.manifest, hyperparams: { ...rec.manifest.hyperparams, lr: 0.2 } };
    const report = (await stack.api('POST', '/v1/registry/verify-manifest', { manifest: edited })).body;
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(expect.arrayContaining(['signature', 'manifest-registered']));
    // the signer itself is fine: only the content changed
    expect(report.checks.find((c: { check: string }) => c.check === 'signer').ok).toBe(true);
  });

  it('fails a signature made by a key that is not in the key ring', async () => {
    const reg = await uploadAndRegister(stack, 'rogue', randomBytes(2000));
    const rec = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}`)).body;
    const { privateKey } = generateKeyPairSync('ed25519');
    const sig = { manifestSignatureId: randomUUID(), signerId: 'rogue-signer', ts: new Date().toISOString() };
    const signature = sign(null, statementBytes(manifestStatement(TrainingManifest.parse(rec.manifest), sig)), privateKey).toString(
      'base64',
    );
    const report = (
      await stack.api('POST', '/v1/registry/verify-manifest', { manifest: rec.manifest, signature: { ...sig, alg: 'ed25519', signature } })
    ).body;
    expect(report.ok).toBe(false);
    expect(report.checks.find((c: { check: string }) => c.check === 'signer').reason).toMatch(/not in the key ring/);

    // the same rogue signature claiming to be the real signer does not verify either
    const claimed = { ...sig, signerId: 'manifest-signer-v1' };
    const sig2 = sign(null, statementBytes(manifestStatement(TrainingManifest.parse(rec.manifest), claimed)), privateKey).toString(
      'base64',
    );
    const report2 = (
      await stack.api('POST', '/v1/registry/verify-manifest', {
        manifest: rec.manifest,
        signature: { ...claimed, alg: 'ed25519', signature: sig2 },
      })
    ).body;
    expect(failed(report2)).toEqual(['signature']);
  });

  it('keeps verifying signatures of a rotated-out key and refuses those of a revoked key', async () => {
    const before = await uploadAndRegister(stack, 'rotation', randomBytes(3000));
    expect(before.body.signerId).toBe('manifest-signer-v1');

    const rotated = await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.previous).toMatchObject({ kid: 'manifest-signer-v1', revokedAt: null });
    expect(rotated.body.previous.notAfter).not.toBeNull();
    expect(rotated.body.current.kid).toBe('manifest-signer-v2');

    const after = await uploadAndRegister(stack, 'rotation', randomBytes(3000));
    expect(after.body.signerId).toBe('manifest-signer-v2');
    expect((await stack.api('GET', `/v1/registry/${before.body.artifactId}/validate`)).body.ok).toBe(true);
    expect((await stack.api('GET', `/v1/registry/${after.body.artifactId}/validate`)).body.ok).toBe(true);

    const keys = (await stack.api('GET', '/v1/keys')).body.keys;
    expect(keys.map((k: { kid: string }) => k.kid)).toEqual(
      expect.arrayContaining(['manifest-signer-v1', 'manifest-signer-v2', 'audit-signer-v1']),
    );

    const revoked = await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest', revoke: true });
    expect(revoked.body.previous).toMatchObject({ kid: 'manifest-signer-v2' });
    expect(revoked.body.previous.revokedAt).not.toBeNull();
    const report = (await stack.api('GET', `/v1/registry/${after.body.artifactId}/validate`)).body;
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(['signer']);
    expect(report.checks.find((c: { check: string }) => c.check === 'signer').reason).toMatch(/revoked/);
    // v1 was rotated out, not revoked: still fine
    expect((await stack.api('GET', `/v1/registry/${before.body.artifactId}/validate`)).body.ok).toBe(true);
  });

  it('returns the first result when a registration is repeated, by model+sha256 or by Idempotency-Key', async () => {
    const artifact = randomBytes(4000);
    const first = await uploadAndRegister(stack, 'idem', artifact, { headers: { 'idempotency-key': 'release-2026-11-22' } });
    expect(first.status).toBe(201);
    const again = await uploadAndRegister(stack, 'idem', artifact);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ artifactId: first.body.artifactId, version: 1, replayed: true });
    const byKey = await uploadAndRegister(stack, 'idem', artifact, { headers: { 'idempotency-key': 'release-2026-11-22' } });
    expect(byKey.body).toMatchObject({ artifactId: first.body.artifactId, replayed: true });

    const other = randomBytes(4000);
    const reused = await uploadAndRegister(stack, 'idem', other, { headers: { 'idempotency-key': 'release-2026-11-22' } });
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', field: 'Idempotency-Key' });
    const versions = (await stack.api('GET', '/v1/registry/models/idem/versions')).body;
    expect(versions.items).toHaveLength(1);
  });

  it('refuses the same bytes with a different manifest: 409 ALREADY_REGISTERED_DIFFERENTLY with both manifest hashes and the existing artifact', async () => {
    const artifact = randomBytes(3000);
    const first = await uploadAndRegister(stack, 'differently', artifact);
    expect(first.status).toBe(201);
    const registered = (await stack.api('GET', `/v1/registry/${first.body.artifactId}`)).body;
    const events = Number(
      (
        await stack.container.database.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

    // another metric claimed for the same bytes, and a dataset nobody registered
    const changed = manifestFor('differently', artifact, {
      metrics: { auc: 0.99 },
      datasetRefs: [{ id: 'never-registered', version: '1', checksum: `sha256:${'e'.repeat(64)}` }],
    });
    const res = await uploadAndRegister(stack, 'differently', artifact, { manifest: changed, datasets: false });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'ALREADY_REGISTERED_DIFFERENTLY',
      field: 'manifest',
      details: {
        artifactId: first.body.artifactId,
        registeredManifestSha256: registered.manifestSha256,
        manifestSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    });
    expect(res.body.error.details.manifestSha256).not.toBe(registered.manifestSha256);
    expect(res.body.error.message).toContain(first.body.artifactId);
    expect(
      Number(
        (
          await stack.container.database.db
            .selectFrom('audit_events')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
    ).toBe(events);
    expect((await stack.api('GET', `/v1/registry/${first.body.artifactId}`)).body.manifest.metrics).toEqual({ auc: 0.91 });

    // the same manifest, with or without the artifactId the registry assigned, is a replay
    expect((await uploadAndRegister(stack, 'differently', artifact)).body).toMatchObject({
      artifactId: first.body.artifactId,
      replayed: true,
    });
    expect((await uploadAndRegister(stack, 'differently', artifact, { manifest: registered.manifest })).body).toMatchObject({
      artifactId: first.body.artifactId,
      replayed: true,
    });
    // another artifactId for the same bytes is another manifest
    const renamed = await uploadAndRegister(stack, 'differently', artifact, {
      manifest: { ...registered.manifest, artifactId: '00000000-0000-4000-8000-000000000001' },
    });
    expect(renamed.status).toBe(409);
    expect(renamed.body.error.code).toBe('ALREADY_REGISTERED_DIFFERENTLY');
  });

  it('numbers versions monotonically per model under concurrent registrations and paginates them', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => uploadAndRegister(stack, 'concurrent', randomBytes(1500))));
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
    expect(results.map((r) => r.body.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);

    const page1 = (await stack.api('GET', '/v1/registry/models/concurrent/versions?limit=4')).body;
    expect(page1.items.map((v: { version: number }) => v.version)).toEqual([6, 5, 4, 3]);
    expect(page1.nextCursor).toBe('3');
    const page2 = (await stack.api('GET', `/v1/registry/models/concurrent/versions?limit=4&cursor=${page1.nextCursor}`)).body;
    expect(page2.items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(page2.nextCursor).toBeNull();

    const models = (await stack.api('GET', '/v1/registry/models?limit=2')).body;
    expect(models.items).toHaveLength(2);
    expect(models.nextCursor).toBe(models.items[1].name);
  });

  it('serves an OpenAPI document with every route and a health check without credentials', async () => {
    const doc = await stack.api('GET', '/openapi.json', undefined, { token: null });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/v1/registry/register', '/v1/artifacts/{artifactId}/validate', '/v1/keys', '/healthz']),
    );
    expect(doc.body.components.schemas.RegisterBody.properties.manifest).toBeDefined();
    const health = await stack.api('GET', '/healthz', undefined, { token: null });
    expect(health.body).toEqual({ ok: true, mode: 'local', version: '0.1.0' });
  });
});

async function streamText(s: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const c of s) out += c.toString();
  return out;
}

export { manifestFor };

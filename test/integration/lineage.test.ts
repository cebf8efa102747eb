import { generateKeyPairSync } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { verifyBundle, BUNDLE_FILES, INDEX_FILE, INDEX_SIGNATURE_FILE } from '../../lib/kernel/lineage-bundle.js';
import type { KeyRecord } from '../../lib/kernel/signatures.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const checksum = (c: string) => `sha256:${c.repeat(64)}`;

describe('dataset registry', () => {
  it('registers a dataset version once, replays an identical registration and refuses another checksum', async () => {
    const body = {
      id: 'clicks',
      version: '2026-10',
      checksum: checksum('1'),
      uri: 's3://data/clicks/2026-10/',
      schema: { columns: [{ name: 'x', type: 'float' }] },
    };
    const first = await stack.api('POST', '/v1/datasets', body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ ...body, createdBy: 'dev-admin', replayed: false });
    expect((await stack.api('POST', '/v1/datasets', body)).body.replayed).toBe(true);
    const conflict = await stack.api('POST', '/v1/datasets', { ...body, checksum: checksum('2') });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({ code: 'CONFLICT', field: 'checksum' });
    const got = await stack.api('GET', '/v1/datasets/clicks/versions/2026-10');
    expect(got.body.checksum).toBe(checksum('1'));
    expect((await stack.api('GET', '/v1/datasets/clicks/versions/2099')).status).toBe(404);
    const bad = await stack.api('POST', '/v1/datasets', { ...body, id: '../etc' });
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'id' });
  });

  it('refuses an artifact whose datasetRef is unknown, or contradicts the registered checksum, and writes nothing', async () => {
    const bytes = randomBytes(500);
    const unknown = manifestFor('ds-refs', bytes, { datasetRefs: [{ id: 'never-registered', version: '1', checksum: checksum('3') }] });
    const r1 = await uploadAndRegister(stack, 'ds-refs', bytes, { manifest: unknown, datasets: false });
    expect(r1.status).toBe(422);
    expect(r1.body.error).toMatchObject({ code: 'DATASET_UNKNOWN', field: 'manifest.datasetRefs.0' });

    await stack.api('POST', '/v1/datasets', { id: 'labels', version: '7', checksum: checksum('4'), uri: 'file:///data/labels' });
    const contradicting = manifestFor('ds-refs', bytes, { datasetRefs: [{ id: 'labels', version: '7', checksum: checksum('5') }] });
    const r2 = await uploadAndRegister(stack, 'ds-refs', bytes, { manifest: contradicting, datasets: false });
    expect(r2.status).toBe(422);
    expect(r2.body.error).toMatchObject({ code: 'DATASET_CHECKSUM_MISMATCH', field: 'manifest.datasetRefs.0.checksum' });
    expect((await stack.api('GET', '/v1/registry/models/ds-refs/versions')).status).toBe(404);
  });
});

describe('lineage', () => {
  let artifactId: string;
  let bundle: Map<string, Buffer>;
  let keys: KeyRecord[];

  beforeAll(async () => {
    const bytes = randomBytes(2048);
    const manifest = manifestFor('traced', bytes, {
      datasetRefs: [
        { id: 'train-set', version: '3', checksum: checksum('6') },
        { id: 'eval-set', version: '3', checksum: checksum('7') },
      ],
    });
    const reg = await uploadAndRegister(stack, 'traced', bytes, { manifest });
    expect(reg.status).toBe(201);
    artifactId = reg.body.artifactId;
    const res = await stack.api('GET', `/v1/lineage/${artifactId}/bundle`);
    expect(res.status).toBe(200);
    bundle = new Map(Object.entries(res.body.files as Record<string, string>).map(([k, v]) => [k, Buffer.from(v)]));
    keys = (await stack.api('GET', '/v1/keys')).body.keys;
  });

  it('links the artifact to its manifest, datasets, code and container', async () => {
    const l = (await stack.api('GET', `/v1/lineage/${artifactId}`)).body;
    expect(l.artifact).toMatchObject({ artifactId, modelName: 'traced', version: 1 });
    expect(l.datasets.map((d: { id: string }) => d.id)).toEqual(['eval-set', 'train-set']);
    expect(l.code).toEqual({ codeRef: 'git:4f2c1e0' });
    expect(l.container).toEqual({ digest: `sha256:${'a'.repeat(64)}` });
    expect(l.edges).toEqual(
      expect.arrayContaining([
        { from: `artifact:${artifactId}`, to: `manifest:${l.manifest.manifestSha256}`, rel: 'described-by' },
        { from: `manifest:${l.manifest.manifestSha256}`, to: 'dataset:train-set@3', rel: 'trained-on' },
      ]),
    );
  });

  it('exports a bundle that verifies offline against the published keys', () => {
    expect([...bundle.keys()].sort()).toEqual([...BUNDLE_FILES, INDEX_FILE, INDEX_SIGNATURE_FILE].sort());
    const report = verifyBundle(bundle, { trustedKeys: keys });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.trust.pinned).toBe(true);
  });

  it.each([...BUNDLE_FILES, INDEX_FILE, INDEX_SIGNATURE_FILE])('fails when one byte of %s is edited', (name) => {
    const edited = new Map(bundle);
    const bytes = Buffer.from(edited.get(name)!);
    // change one character inside a JSON string value, so the file still parses
    const i = bytes.indexOf(0x22, bytes.indexOf(0x3a)) + 1;
    bytes[i] = bytes[i] === 0x61 ? 0x62 : 0x61;
    edited.set(name, bytes);
    const report = verifyBundle(edited, { trustedKeys: keys });
    expect(report.ok).toBe(false);
  });

  it('names the edited file, and refuses extra files and keys it was not told to trust', () => {
    const edited = new Map(bundle);
    edited.set('datasets.json', Buffer.from(edited.get('datasets.json')!.toString().replace(checksum('6'), checksum('8'))));
    const report = verifyBundle(edited, { trustedKeys: keys });
    expect(report.checks.find((c) => c.check === 'bundle-files')!.reason).toMatch(/^datasets.json was modified/);

    const extra = new Map(bundle).set('notes.txt', Buffer.from('hi'));
    expect(verifyBundle(extra, { trustedKeys: keys }).checks.find((c) => c.check === 'bundle-files')!.reason).toMatch(
      /notes.txt is not part of the bundle/,
    );

    const { publicKey } = generateKeyPairSync('ed25519');
    const impostor = keys.map((k) => ({ ...k, publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') }));
    const untrusted = verifyBundle(bundle, { trustedKeys: impostor });
    expect(untrusted.ok).toBe(false);
    expect(untrusted.checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(
      expect.arrayContaining(['bundle-signature', 'manifest-signature']),
    );
  });

  it('refuses a bundle file with a duplicate key, naming the file and the key', () => {
    const edited = new Map(bundle);
    const text = edited.get('manifest.json')!.toString();
    edited.set('manifest.json', Buffer.from(text.replace('"metrics":{', '"metrics":{"auc":0.99},"metrics":{')));
    const report = verifyBundle(edited, { trustedKeys: keys });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === 'bundle-json')).toEqual({
      check: 'bundle-json',
      ok: false,
      reason: expect.stringContaining('manifest.json: duplicate key metrics'),
    });
    expect(verifyBundle(bundle, { trustedKeys: keys }).checks.find((c) => c.check === 'bundle-json')).toEqual({
      check: 'bundle-json',
      ok: true,
    });
  });

  it('checks the artifact bytes when they are given', () => {
    const report = verifyBundle(bundle, { trustedKeys: keys, artifact: { sha256: 'f'.repeat(64), size: 2048 } });
    expect(report.checks.find((c) => c.check === 'artifact-sha256')!.ok).toBe(false);
  });
});

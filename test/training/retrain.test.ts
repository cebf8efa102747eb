import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildIndex, fileText, verifyBundle, PARENT_FILE, type BundleFile } from '../../lib/kernel/lineage-bundle.js';
import { statementBytes, type KeyRecord } from '../../lib/kernel/signatures.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { recordReport } from '../support/drift-reports.js';

const ROOT = process.cwd();
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
let stack: Stack;
let env: Record<string, string>;
let parent: { artifactId: string; manifest: Record<string, any> };
let v2: string;
/** the retrain suggestion raised by a drifted report of the parent serving churn in staging */
let suggestion: string;

const aegis = (args: string[], extraEnv: Record<string, string> = {}) => aegisCli(args, { ...env, ...extraEnv });
const versions = async () => (await stack.api('GET', '/v1/registry/models/churn/versions')).body.items.length as number;

beforeAll(async () => {
  stack = await startStack();
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '', CONTAINER_DIGEST: DIGEST };
  const data = join(stack.dataDir, 'sample');
  await cp(join(ROOT, 'test/data/sample'), data, { recursive: true });
  // the next month's data: the same columns, fewer and other rows
  const lines = (await readFile(join(data, 'train.csv'), 'utf8')).trimEnd().split('\n');
  v2 = join(stack.dataDir, 'sample-v2.csv');
  await writeFile(v2, `${[lines[0], ...lines.slice(301)].join('\n')}\n`);
  const res = await aegis(
    ['--json', 'train', '--model', 'churn', '--dataset', `sample@v1=${data}`, '--hyperparams', '{"epochs":40}', '--seed', '11'].concat([
      '--out',
      join(stack.dataDir, 'parent'),
      '--register',
      '--code-ref',
      'ci-build-42',
    ]),
  );
  if (res.code !== 0) throw new Error(`parent training failed: ${res.stderr}`);
  const summary = JSON.parse(res.stdout);
  parent = { artifactId: summary.registration.artifactId, manifest: JSON.parse(await readFile(summary.manifestPath, 'utf8')) };
  suggestion = (await recordReport(stack, { model: 'churn', env: 'staging', artifactId: parent.artifactId, drifted: true })).suggestionId!;
});
afterAll(async () => {
  await stack?.stop();
});

describe('aegis retrain (CLI, local stack, built-in trainer)', () => {
  let child: { artifactId: string; manifest: Record<string, any>; sha256: string };

  it("re-runs the training of the suggestion's serving artifact with the new dataset version and registers it with manifest.parent", async () => {
    const res = await aegis(
      ['--json', 'retrain', '--suggestion', suggestion, '--dataset', `sample@v2=${v2}`].concat([
        '--out',
        join(stack.dataDir, 'child'),
        '--code-ref',
        'ci-build-43',
      ]),
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/retraining churn from .*: aegis builtin-train \(seed 11\)/);
    const summary = JSON.parse(res.stdout);
    expect(summary.registration).toMatchObject({ modelName: 'churn', version: 2, replayed: false });
    const manifest = JSON.parse(await readFile(summary.manifestPath, 'utf8'));
    const got = (await stack.api('GET', `/v1/artifacts/${summary.artifactId}`)).body.manifest;
    expect(got).toEqual(manifest);
    expect(manifest.parent).toEqual({ artifactId: parent.artifactId, suggestionId: suggestion });
    for (const f of ['seed', 'hyperparams', 'trainingCmd', 'containerDigest', 'modelName']) expect(manifest[f]).toEqual(parent.manifest[f]);
    expect(manifest.codeRef).toBe('ci-build-43');
    expect(manifest.baselineSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.datasetRefs).toHaveLength(1);
    expect(manifest.datasetRefs[0]).toMatchObject({ id: 'sample', version: 'v2' });
    expect(manifest.datasetRefs[0].checksum).not.toBe(parent.manifest.datasetRefs[0].checksum);
    expect((await stack.api('GET', '/v1/datasets/sample/versions/v2')).body.checksum).toBe(manifest.datasetRefs[0].checksum);
    expect(summary.diff.datasets).toEqual([
      {
        id: 'sample',
        from: { version: 'v1', checksum: parent.manifest.datasetRefs[0].checksum },
        to: { version: 'v2', checksum: manifest.datasetRefs[0].checksum },
      },
    ]);
    expect(summary.diff.metrics.map((m: { name: string }) => m.name)).toContain('accuracy');
    expect((await stack.api('GET', `/v1/registry/${summary.artifactId}/validate`)).body.ok).toBe(true);
    child = { artifactId: summary.artifactId, manifest, sha256: summary.artifactSha256 };
  });

  it('is reproducible: the same inputs again give the same artifact sha256 (not registered twice)', async () => {
    const res = await aegis(
      ['retrain', '--from', parent.artifactId, '--suggestion', suggestion, '--dataset', `sample@v2=${v2}`, '--no-register'].concat([
        '--out',
        join(stack.dataDir, 'child-again'),
        '--code-ref',
        'ci-build-43',
      ]),
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^not registered \(--no-register\); retrained from /);
    expect(res.stdout).toContain(`sha256   ${child.sha256}`);
    expect(res.stdout).toMatch(/dataset sample: v1 → v2/);
    expect(res.stdout).toMatch(/metric accuracy: /);
    expect(await versions()).toBe(2);
  });

  it('shows the retrained-from edge in the lineage and the offline bundle', async () => {
    const l = (await stack.api('GET', `/v1/lineage/${child.artifactId}`)).body;
    expect(l.parent).toEqual({ artifactId: parent.artifactId, suggestionId: suggestion });
    expect(l.edges).toContainEqual({ from: `artifact:${child.artifactId}`, to: `artifact:${parent.artifactId}`, rel: 'retrained-from' });
    expect((await stack.api('GET', `/v1/lineage/${parent.artifactId}`)).body.parent).toBeUndefined();
    const shown = await aegis(['lineage', child.artifactId]);
    expect(shown.stdout).toContain(`retrained from ${parent.artifactId} (suggestion ${suggestion})`);
    // the CLI round trip: export-lineage writes parent.json, verify-bundle checks it
    const dir = join(stack.dataDir, 'child-bundle');
    expect((await aegis(['export-lineage', '--artifact-id', child.artifactId, '--out', dir])).code).toBe(0);
    await writeFile(join(stack.dataDir, 'keys.json'), JSON.stringify((await stack.api('GET', '/v1/keys')).body));
    const verified = await aegis(['verify-bundle', dir, '--trusted-keys', join(stack.dataDir, 'keys.json')]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/ok {3}parent: parent .* \(parent\.json\) is signed and of the same model/);

    const files = (await stack.api('GET', `/v1/lineage/${child.artifactId}/bundle`)).body.files as Record<string, string>;
    const keys = (await stack.api('GET', '/v1/keys')).body.keys as KeyRecord[];
    const bundle = new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)]));
    expect(JSON.parse(files[PARENT_FILE]!).manifest.artifactId).toBe(parent.artifactId);
    const report = verifyBundle(bundle, { trustedKeys: keys });
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.check === 'parent')).toMatchObject({
      ok: true,
      reason: expect.stringMatching(/is signed and of the same model/),
    });
    // the parent's file edited: the index names it
    const edited = new Map(bundle).set(PARENT_FILE, Buffer.from(files[PARENT_FILE]!.replace('"churn"', '"chur2"')));
    expect(verifyBundle(edited, { trustedKeys: keys }).checks.find((c) => c.check === 'bundle-files')!.reason).toMatch(
      /parent.json was modified/,
    );

    // a bundle without the parent (indexed and signed without it) says the parent is outside
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const bundler: KeyRecord = {
      ...keys.find((k) => k.purpose === 'manifest')!,
      kid: 'test-bundler',
      alg: 'ed25519',
      publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    };
    const { [PARENT_FILE]: _dropped, ...rest } = files;
    const index = buildIndex(rest as Record<BundleFile, string>, {
      artifactId: child.artifactId,
      createdAt: new Date().toISOString(),
      signerId: bundler.kid,
    });
    const sig = {
      signerId: bundler.kid,
      alg: 'ed25519',
      ts: index.createdAt,
      signature: sign(null, statementBytes(index), privateKey).toString('base64'),
    };
    const without = new Map(
      Object.entries({ ...rest, 'bundle.json': fileText(index), 'bundle.sig.json': fileText(sig) }).map(([k, v]) => [k, Buffer.from(v)]),
    );
    const outside = verifyBundle(without, { trustedKeys: [...keys, bundler] });
    expect(outside.ok).toBe(true);
    expect(outside.checks.find((c) => c.check === 'parent')!.reason).toBe(
      `parent ${parent.artifactId} is outside the bundle (verify its own bundle to check it)`,
    );
  });

  it('refuses bad input with a clear error and registers nothing', async () => {
    const out = (name: string) => ['--out', join(stack.dataDir, name), '--code-ref', 'x'];
    const unknown = randomUUID();
    const r1 = await aegis(['retrain', '--from', unknown, '--dataset', `sample@v3=${v2}`, ...out('bad1')]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(new RegExp(`--from ${unknown}: no such artifact in the registry`));
    const r2 = await aegis(['retrain', '--from', parent.artifactId, '--dataset', `clicks@v1=${v2}`, ...out('bad2')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/--dataset clicks: the parent was not trained on a dataset clicks \(its datasets: sample\)/);
    const r3 = await aegis([
      'retrain',
      '--from',
      parent.artifactId,
      '--dataset',
      `sample@v3=${join(stack.dataDir, 'nope.csv')}`,
      ...out('bad3'),
    ]);
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/cannot read .*nope\.csv \(ENOENT\)/);
    const r4 = await aegis(['retrain', '--from', 'abc', '--dataset', `sample@v3=${v2}`, ...out('bad4')]);
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/--from abc: must be an artifact id/);
    const r5 = await aegis(['retrain', '--from', parent.artifactId, '--dataset', v2, ...out('bad5')]);
    expect(r5.code).toBe(2);
    expect(r5.stderr).toMatch(/expected id@version=PATH/);
    const r6 = await aegis(['retrain', '--from', parent.artifactId, '--dataset', `sample@v3=${v2}`, ...out('bad6')], {
      CONTAINER_DIGEST: `sha256:${'f'.repeat(64)}`,
    });
    expect(r6.code).toBe(1);
    expect(r6.stderr).toMatch(/is not the parent's sha256:0123/);
    expect(await versions()).toBe(2);
    expect((await stack.api('GET', '/v1/datasets/sample/versions/v3')).status).toBe(404);
  });

  it('the registry refuses an unknown parent (422) and a parent of another model (409), naming manifest.parent.artifactId', async () => {
    const bytes = randomBytes(300);
    const unknown = await uploadAndRegister(stack, 'other', bytes, {
      manifest: manifestFor('other', bytes, { parent: { artifactId: randomUUID() } }),
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: 'PARENT_UNKNOWN', field: 'manifest.parent.artifactId' });
    const other = await uploadAndRegister(stack, 'other', bytes, {
      manifest: manifestFor('other', bytes, { parent: { artifactId: parent.artifactId } }),
    });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'CONFLICT', field: 'manifest.parent.artifactId' });
    expect(other.body.error.message).toMatch(/is a churn artifact, not other/);
    const bad = await uploadAndRegister(stack, 'other', bytes, {
      manifest: manifestFor('other', bytes, { parent: { artifactId: 'nope' } }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'manifest.parent.artifactId' });
    expect((await stack.api('GET', '/v1/registry/models/other/versions')).status).toBe(404);
    const ok = await uploadAndRegister(stack, 'other', bytes, { manifest: manifestFor('other', bytes) });
    expect(ok.status).toBe(201);
  });
});

import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { buildBaseline } from '../../lib/kernel/baseline-build.js';
import { hashArtifact } from '../../lib/kernel/artifact-baseline.js';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import { verifyBundle } from '../../lib/kernel/lineage-bundle.js';
import type { KeyRecord } from '../../lib/kernel/signatures.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { rewriteFile, storedVersionFile } from '../support/tamper.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const failed = (r: { checks: { check: string; ok: boolean }[] }) => r.checks.filter((c) => !c.ok).map((c) => c.check);
const baselineCheck = (r: { checks: { check: string }[] }) => r.checks.find((c) => c.check === 'baselineSha256');

let stack: Stack;
let env: Record<string, string>;
/** the same model folder packed with its baseline, and with a swapped one */
const art: { genuine: Buffer; swapped: Buffer; baseline: string; fake: string } = {
  genuine: Buffer.alloc(0),
  swapped: Buffer.alloc(0),
  baseline: '',
  fake: '',
};

async function packWith(name: string, baseline: string): Promise<Buffer> {
  const dir = join(stack.dataDir, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), '{"format":"test"}\n');
  await writeFile(join(dir, 'baseline.json'), baseline);
  await packDirectory(dir, `${dir}.tar.gz`);
  return readFile(`${dir}.tar.gz`);
}

beforeAll(async () => {
  stack = await startStack();
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '', CONTAINER_DIGEST: DIGEST };
  const profile = (shift: number) =>
    `${canonicalJson(buildBaseline({ columns: [{ name: 'x', kind: 'numeric', values: [1, 2, 3, 4].map((v) => v + shift) }] }))}\n`;
  [art.baseline, art.fake] = [profile(0), profile(10)];
  art.genuine = await packWith('genuine', art.baseline);
  art.swapped = await packWith('swapped', art.fake);
});
afterAll(async () => {
  await stack?.stop();
});

describe('baselineSha256: train --record pins the baseline, the registry checks it', () => {
  it('train --record sets baselineSha256 to the sha256 of the written baseline.json, and validation passes it', async () => {
    const data = join(stack.dataDir, 'sample');
    await cp(join(process.cwd(), 'test/data/sample'), data, { recursive: true });
    const out = join(stack.dataDir, 'run');
    const args = ['--json', 'train', '--model', 'pinned-train', '--dataset', `sample@v1=${data}`, '--hyperparams', '{"epochs":5}'];
    const res = await aegisCli([...args, '--out', out, '--register', '--code-ref', 'ci-1'], env);
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout);
    const manifest = JSON.parse(await readFile(summary.manifestPath, 'utf8'));
    expect(manifest.baselineSha256).toBe(sha256(await readFile(join(out, 'baseline.json'))));
    const report = (await stack.api('GET', `/v1/registry/${summary.registration.artifactId}/validate`)).body;
    expect(report.ok).toBe(true);
    expect(baselineCheck(report)).toEqual({ check: 'baselineSha256', ok: true });
  });

  it('refuses to register an artifact whose baseline.json is not the pinned one, naming manifest.baselineSha256', async () => {
    const manifest = manifestFor('pinned-swap', art.swapped, { baselineSha256: sha256(art.baseline) });
    const res = await uploadAndRegister(stack, 'pinned-swap', art.swapped, { manifest });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'SHA256_MISMATCH', field: 'manifest.baselineSha256' });
    expect(res.body.error.message).toContain(`its baseline.json has sha256 ${sha256(art.fake)}`);
    expect((await stack.api('GET', '/v1/registry/models/pinned-swap/versions')).status).toBe(404);
    const noBaseline = manifestFor('pinned-none', Buffer.from('not a tarball'), { baselineSha256: sha256(art.baseline) });
    const none = await uploadAndRegister(stack, 'pinned-none', Buffer.from('not a tarball'), { manifest: noBaseline });
    expect(none.body.error).toMatchObject({ code: 'SHA256_MISMATCH', field: 'manifest.baselineSha256' });
  });

  it('refuses a baselineSha256 that is not 64 lowercase hex, naming the field; a manifest without one still registers', async () => {
    const bad = await uploadAndRegister(stack, 'pinned-bad', art.genuine, {
      manifest: manifestFor('pinned-bad', art.genuine, { baselineSha256: 'ABC' }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'manifest.baselineSha256' });
    const old = await uploadAndRegister(stack, 'pinned-old', art.genuine);
    expect(old.status).toBe(201);
    const report = (await stack.api('GET', `/v1/registry/${old.body.artifactId}/validate`)).body;
    expect(report.ok).toBe(true);
    expect(baselineCheck(report)).toBeUndefined();
  });

  it('fails validation naming baselineSha256 when the stored artifact is re-packed with another baseline.json', async () => {
    const reg = await uploadAndRegister(stack, 'pinned-stored', art.genuine, {
      manifest: manifestFor('pinned-stored', art.genuine, { baselineSha256: sha256(art.baseline) }),
    });
    expect(reg.status).toBe(201);
    const rec = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}`)).body;
    expect((await stack.api('GET', `/v1/registry/${reg.body.artifactId}/validate`)).body.ok).toBe(true);
    await rewriteFile(storedVersionFile(stack.dataDir, rec.storage), () => art.swapped);
    const report = (await stack.api('GET', `/v1/registry/${reg.body.artifactId}/validate`)).body;
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(expect.arrayContaining(['artifact-sha256', 'baselineSha256']));
    expect(baselineCheck(report)).toMatchObject({ expected: sha256(art.baseline), actual: sha256(art.fake) });
  });
});

describe('lineage bundles carry the pinned baseline', () => {
  let bundleDir: string;
  let files: Map<string, Buffer>;
  let keys: KeyRecord[];
  let artifactId: string;

  beforeAll(async () => {
    const reg = await uploadAndRegister(stack, 'pinned-bundle', art.genuine, {
      manifest: manifestFor('pinned-bundle', art.genuine, { baselineSha256: sha256(art.baseline) }),
    });
    expect(reg.status).toBe(201);
    artifactId = reg.body.artifactId;
    const res = await stack.api('GET', `/v1/lineage/${artifactId}/bundle`);
    files = new Map(Object.entries(res.body.files as Record<string, string>).map(([k, v]) => [k, Buffer.from(v)]));
    expect(JSON.parse(files.get('manifest.json')!.toString()).baselineSha256).toBe(sha256(art.baseline));
    keys = (await stack.api('GET', '/v1/keys')).body.keys;
    bundleDir = join(stack.dataDir, 'bundle');
    await mkdir(bundleDir);
    for (const [name, bytes] of files) await writeFile(join(bundleDir, name), bytes);
    await writeFile(join(stack.dataDir, 'baseline.json'), art.baseline);
    await writeFile(join(stack.dataDir, 'fake-baseline.json'), art.fake);
  });

  const scanned = (b: Buffer) => hashArtifact(Readable.from([b]), { baseline: true });

  it('verifies offline with the artifact and with the baseline file; a swapped one fails naming baselineSha256', async () => {
    const ok = verifyBundle(files, {
      trustedKeys: keys,
      artifact: await scanned(art.genuine),
      baseline: { path: 'b.json', bytes: Buffer.from(art.baseline) },
    });
    expect(ok.ok).toBe(true);
    expect(baselineCheck(ok)).toEqual({ check: 'baselineSha256', ok: true });
    const swappedFile = verifyBundle(files, { trustedKeys: keys, baseline: { path: 'fake.json', bytes: Buffer.from(art.fake) } });
    expect(failed(swappedFile)).toEqual(['baselineSha256']);
    expect(baselineCheck(swappedFile)).toMatchObject({ reason: expect.stringMatching(/^fake\.json does not match/) });
    const swappedArtifact = verifyBundle(files, { trustedKeys: keys, artifact: await scanned(art.swapped) });
    expect(failed(swappedArtifact)).toEqual(expect.arrayContaining(['artifact-sha256', 'baselineSha256']));
  });

  it('aegis verify-bundle --baseline: exit 0 for the pinned baseline, 1 naming baselineSha256 for a swapped one', async () => {
    const good = await aegisCli(['verify-bundle', bundleDir, '--baseline', join(stack.dataDir, 'baseline.json')], env);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/ok {3}baselineSha256/);
    const bad = await aegisCli(['verify-bundle', bundleDir, '--baseline', join(stack.dataDir, 'fake-baseline.json')], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL baselineSha256: .*fake-baseline\.json does not match the manifest's baselineSha256/);
    await writeFile(join(stack.dataDir, 'swapped.tar.gz'), art.swapped);
    const badArtifact = await aegisCli(['verify-bundle', bundleDir, '--artifact', join(stack.dataDir, 'swapped.tar.gz')], env);
    expect(badArtifact.code).toBe(1);
    expect(badArtifact.stdout).toMatch(/FAIL baselineSha256: baseline\.json in the artifact does not match/);
  });

  it('aegis verify-manifest --artifact: a local copy re-packed with another baseline fails naming baselineSha256', async () => {
    const manifest = join(stack.dataDir, 'registered.json');
    await writeFile(manifest, JSON.stringify((await stack.api('GET', `/v1/registry/${artifactId}`)).body.manifest));
    await writeFile(join(stack.dataDir, 'genuine-copy.tar.gz'), art.genuine);
    const good = await aegisCli(['verify-manifest', '--manifest', manifest, '--artifact', join(stack.dataDir, 'genuine-copy.tar.gz')], env);
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/ok {3}baselineSha256/);
    await writeFile(join(stack.dataDir, 'swapped-copy.tar.gz'), art.swapped);
    const bad = await aegisCli(['verify-manifest', '--manifest', manifest, '--artifact', join(stack.dataDir, 'swapped-copy.tar.gz')], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL baselineSha256/);
  });
});

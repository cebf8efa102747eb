import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { sampleManifest } from '../support/manifests.js';
import { run } from '../support/spawn.js';
import { flipByte } from '../support/tamper.js';

/** Issue 16, "Publish a folder": `aegis publish` / `aegis verify-folder` over a temp git repo. */
const ROOT = process.cwd();
const COMMITTED = '2026-11-01T12:00:00.000Z';
let stack: Stack;
let repo: string;

const aegis = (args: string[]) =>
  run(process.execPath, [join(ROOT, 'bin/aegis.js'), ...args], {
    cwd: repo,
    env: { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: stack.adminToken },
  });
const git = (...args: string[]) =>
  run('git', args, { cwd: repo, env: { GIT_COMMITTER_DATE: COMMITTED, GIT_AUTHOR_DATE: COMMITTED } }).then((r) => {
    expect(r).toMatchObject({ code: 0 });
    return r;
  });

/** A training manifest without the fields publish fills (modelName, artifact hash and size, createdAt). */
const manifestJson = (lr: number) => {
  const {
    modelName: _m,
    artifactSha256: _s,
    artifactSize: _z,
    createdAt: _c,
    ...rest
  } = sampleManifest('x', '0'.repeat(64), 0, {
    hyperparams: { lr },
  });
  return JSON.stringify(rest, null, 2);
};

async function folder(path: string, artifact: Record<string, Buffer>, lr: number) {
  const dir = join(repo, 'model_registry', path);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'manifest.json'), manifestJson(lr));
  for (const [name, bytes] of Object.entries(artifact)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), bytes);
  }
}

const versionsOf = async (model: string) =>
  (await stack.api('GET', `/v1/registry/models/${model}/versions`)).body.items?.map((v: { version: number }) => v.version) ?? [];
const metadataOf = async (path: string) => JSON.parse(await readFile(join(repo, 'model_registry', path, 'metadata.json'), 'utf8'));

beforeAll(async () => {
  stack = await startStack();
  const ds = { id: 'transactions', version: '2026-11', checksum: `sha256:${'b'.repeat(64)}`, uri: 'file:///data/transactions' };
  expect((await stack.api('POST', '/v1/datasets', ds)).status).toBe(201);
  repo = await mkdtemp(join(tmpdir(), 'aegis-publish-repo-'));
  await git('init', '-q');
  await git('config', 'user.email', 'test@example.com');
  await git('config', 'user.name', 'test');
  await folder('a/1', { 'model.bin': randomBytes(5000) }, 0.1);
  await folder('a/2', { 'model.bin': randomBytes(6000) }, 0.2);
  await folder('a/10', { 'model.bin': randomBytes(7000) }, 0.3);
  // b/1's artifact is a folder: packed as train --record packs
  await folder('b/1', { 'weights/w.bin': randomBytes(3000), 'weights/config.json': Buffer.from('{"layers":2}') }, 0.4);
  await git('add', '-A');
  await git('commit', '-qm', 'models');
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  if (repo) await rm(repo, { recursive: true, force: true });
});

describe('aegis publish / verify-folder', () => {
  it('dry run lists every folder in natural order and registers nothing', async () => {
    const r = await aegis(['--json', 'publish', '--dry-run']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.folders.map((f: { folder: string; action: string }) => [f.folder, f.action])).toEqual([
      ['a/1', 'would-register'],
      ['a/2', 'would-register'],
      ['a/10', 'would-register'],
      ['b/1', 'would-register'],
    ]);
    expect(await versionsOf('a')).toEqual([]);
    expect(existsSync(join(repo, 'model_registry/a/1/metadata.json'))).toBe(false);
  });

  it('registers each folder in natural order and writes a canonical metadata.json that verifies offline', async () => {
    const r = await aegis(['publish']);
    expect(r.stderr).toMatch(/registering a\/10/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/registered 4 folder\(s\), 0 already published/);
    expect(await versionsOf('a')).toEqual([3, 2, 1]);
    for (const [path, version] of [
      ['a/1', 1],
      ['a/2', 2],
      ['a/10', 3],
      ['b/1', 1],
    ] as const) {
      const text = await readFile(join(repo, 'model_registry', path, 'metadata.json'), 'utf8');
      const meta = JSON.parse(text);
      expect(text).toBe(`${canonicalJson(meta)}\n`);
      expect(meta).toMatchObject({ model: path[0], label: path.slice(2), version, registryUrl: stack.url });
      expect(meta.manifest).toMatchObject({ artifactId: meta.artifactId, createdAt: COMMITTED, artifactSha256: meta.sha256 });
      expect(Object.keys(meta.signature).sort()).toEqual(['alg', 'manifestSignatureId', 'signature', 'signerId', 'ts']);
      const byVersion = await stack.api('GET', `/v1/registry/models/${meta.model}/versions/${version}/validate`);
      expect(byVersion.body).toMatchObject({ ok: true, artifactId: meta.artifactId });
    }
    expect(await metadataOf('b/1')).toMatchObject({ artifact: 'weights.tar.gz', packed: true });

    // the documented way to pin the ring the review job reads
    const e = await aegis(['keys', 'export', '--out', '.aegis/trusted-keys.json']);
    expect(e.code).toBe(0);
    const ring = (await stack.api('GET', '/v1/keys')).body;
    expect(e.stdout).toContain(`wrote ${ring.keys.length} key(s) to .aegis/trusted-keys.json`);
    expect(JSON.parse(await readFile(join(repo, '.aegis/trusted-keys.json'), 'utf8'))).toEqual({ keys: ring.keys });
    const v = await aegis(['verify-folder', '--trusted-keys', '.aegis/trusted-keys.json']);
    expect(v.stdout).toMatch(/^VERIFIED: 4 folder\(s\), key ring pinned by \.aegis\/trusted-keys\.json/m);
    expect(v.code).toBe(0);
  }, 60_000);

  it('a second publish registers nothing and says so', async () => {
    const r = await aegis(['--json', 'publish']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, registered: 0 });
    expect(report.folders.every((f: { action: string }) => f.action === 'already-published')).toBe(true);
    expect((await aegis(['publish'])).stdout).toMatch(/nothing to register: all 4 folder\(s\) already published/);
    expect(await versionsOf('a')).toEqual([3, 2, 1]);
  });

  it('an edited byte of a/1 fails publish (nothing registered) and verify-folder, naming a/1', async () => {
    await flipByte(join(repo, 'model_registry/a/1/model.bin'), 100);
    await folder('c/1', { 'model.bin': randomBytes(100) }, 0.5);

    const p = await aegis(['publish']);
    expect(p.code).toBe(1);
    expect(p.stdout).toMatch(/a\/1 {2}REFUSED: artifact sha256 [0-9a-f]{64} differs from the published/);
    expect(p.stdout).toMatch(/nothing registered/);
    expect(await versionsOf('a')).toEqual([3, 2, 1]);
    expect(await versionsOf('c')).toEqual([]);

    const v = await aegis(['--json', 'verify-folder']);
    expect(v.code).toBe(1);
    const out = JSON.parse(v.stdout);
    expect(out).toMatchObject({ ok: false, pinned: false });
    const byFolder = Object.fromEntries(out.folders.map((f: { folder: string; status: string }) => [f.folder, f.status]));
    expect(byFolder).toEqual({ 'a/1': 'failed', 'a/2': 'verified', 'a/10': 'verified', 'b/1': 'verified', 'c/1': 'unpublished' });
    const failed = out.folders[0].report.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { check: string }) => c.check);
    expect(failed).toEqual(expect.arrayContaining(['artifact-sha256']));
  });

  it('an edited manifest.json is refused too, and a bad metadata.json names its field', async () => {
    await git('checkout', '--', 'model_registry/a/1/model.bin');
    await writeFile(join(repo, 'model_registry/a/2/manifest.json'), manifestJson(0.25));
    const meta = await metadataOf('b/1');
    await writeFile(join(repo, 'model_registry/b/1/metadata.json'), JSON.stringify({ ...meta, version: 'one' }));
    const p = await aegis(['publish']);
    expect(p.code).toBe(1);
    expect(p.stdout).toMatch(/a\/2 {2}REFUSED: manifest.json differs from the published manifest/);
    expect(p.stdout).toMatch(/b\/1 {2}REFUSED: metadata.json: version: /);
    expect(p.stdout).toMatch(/a\/1 {2}already published as v1/);
  });

  it('verify-folder fails a folder whose signer was revoked since, naming the signer check', async () => {
    expect((await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest', revoke: true })).status).toBe(200);
    const keys = join(repo, 'keys.json');
    await writeFile(keys, JSON.stringify((await stack.api('GET', '/v1/keys')).body));
    const v = await aegis(['--json', 'verify-folder', '--trusted-keys', keys]);
    expect(v.code).toBe(1);
    const a1 = JSON.parse(v.stdout).folders.find((f: { folder: string }) => f.folder === 'a/1');
    expect(a1.status).toBe('failed');
    expect(a1.report.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { check: string }) => c.check)).toEqual(['signer']);
  });
});

describe('aegis publish --team', () => {
  let first: string;
  beforeAll(async () => {
    first = repo;
    repo = await mkdtemp(join(tmpdir(), 'aegis-publish-team-'));
    await git('init', '-q');
    await git('config', 'user.email', 'test@example.com');
    await git('config', 'user.name', 'test');
    await folder('fraud-x/1', { 'model.bin': randomBytes(2000) }, 0.1);
    await git('add', '-A');
    await git('commit', '-qm', 'fraud-x');
  });
  afterAll(async () => {
    if (first) await rm(first, { recursive: true, force: true });
  });
  const teamOf = async (model: string) =>
    ((await stack.api('GET', '/v1/registry/models')).body.items as { name: string; team?: string | null }[]).find((m) => m.name === model)
      ?.team;

  it('dry run shows the team new models would get, and registers nothing', async () => {
    const r = await aegis(['publish', '--dry-run', '--team', 'fraud']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model_registry: 1 folder\(s\), new models get team fraud$/m);
    expect(r.stdout).toMatch(/fraud-x\/1 {2}would register/);
    const json = JSON.parse((await aegis(['--json', 'publish', '--dry-run', '--team', 'fraud'])).stdout);
    expect(json).toMatchObject({ dryRun: true, team: 'fraud', registered: 0 });
    expect(await versionsOf('fraud-x')).toEqual([]);
  });

  it('gives the team to a model its first registration creates; later versions of it register under the same team', async () => {
    const r = await aegis(['publish', '--team', 'fraud']);
    expect(r.code).toBe(0);
    expect(await teamOf('fraud-x')).toBe('fraud');
    const set = await stack.api('GET', '/v1/audit?type=model.team.set');
    expect(set.body.items.map((e: { payload: { model: string; team: string } }) => e.payload)).toContainEqual(
      expect.objectContaining({ model: 'fraud-x', team: 'fraud' }),
    );
    await folder('fraud-x/2', { 'model.bin': randomBytes(2100) }, 0.2);
    expect((await aegis(['publish', '--team', 'fraud'])).code).toBe(0);
    expect(await versionsOf('fraud-x')).toEqual([2, 1]);
    expect(await teamOf('fraud-x')).toBe('fraud');
  });

  it('refuses a model of another team, naming team, and registers nothing for it', async () => {
    await folder('fraud-x/3', { 'model.bin': randomBytes(2200) }, 0.3);
    const r = await aegis(['publish', '--team', 'risk']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/team: model fraud-x belongs to team fraud, not risk/);
    expect(await versionsOf('fraud-x')).toEqual([2, 1]);
    expect(existsSync(join(repo, 'model_registry/fraud-x/3/metadata.json'))).toBe(false);
  });

  it('refuses an invalid team name before anything is read or sent', async () => {
    const r = await aegis(['publish', '--team', 'Fraud Team']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--team Fraud Team: must be 1-64 of a-z 0-9/);
    expect(await versionsOf('fraud-x')).toEqual([2, 1]);
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { ScriptedJudge, settled } from '../promotion/support.js';
import { flipByte, storedVersionFile } from '../support/tamper.js';

/** Pulling verified artifacts (issue 16): download URLs, `aegis pull` and its checks. */
let stack: Stack;
let env: Record<string, string>;
let work: string;
beforeAll(async () => {
  // not the default 300, so the test shows the setting reaches the URLs
  stack = await startStack({ AEGIS_DOWNLOAD_URL_TTL_SECONDS: '900' }, { judge: new ScriptedJudge(), waitMs: 5 });
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '' };
  work = await mkdtemp(join(tmpdir(), 'aegis-pull-'));
});
afterAll(async () => {
  await stack?.stop();
});

const aegis = (...args: string[]) => aegisCli(args, env);
const exists = (path: string) =>
  readFile(path).then(
    () => true,
    () => false,
  );
/** What `aegis pull` left in the folder (so a failed pull can be shown to leave nothing). */
const leftIn = async (dir: string) => (await readdir(dir)).sort();

async function registered(model: string, bytes = randomBytes(300_000)) {
  const reg = await uploadAndRegister(stack, model, bytes);
  expect(reg.status).toBe(201);
  return { artifactId: reg.body.artifactId as string, version: reg.body.version as number, bytes };
}

/** The fs store file holding the artifact's registered version. */
async function storedFile(artifactId: string): Promise<string> {
  const r = await stack.api('GET', `/v1/artifacts/${artifactId}`);
  return storedVersionFile(stack.dataDir, r.body.storage);
}

describe('GET /v1/artifacts/{artifactId}/download', () => {
  it('hands out a URL pinned to the registered version, serves ranges, and audits who asked', async () => {
    const a = await registered('dl-route');
    const asked = Date.now();
    const r = await stack.api('GET', `/v1/artifacts/${a.artifactId}/download`);
    expect(r.status).toBe(200);
    expect(r.body.artifact).toMatchObject({ artifactId: a.artifactId, size: a.bytes.length });
    // AEGIS_DOWNLOAD_URL_TTL_SECONDS=900: both the answer and the URL itself say so
    expect(Math.abs(Date.parse(r.body.expiresAt) - (asked + 900_000))).toBeLessThan(5000);
    expect(Math.abs(Number(new URL(r.body.url).searchParams.get('expires')) * 1000 - (asked + 900_000))).toBeLessThan(5000);
    const whole = await fetch(r.body.url);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(a.bytes)).toBe(true);
    const rest = await fetch(r.body.url, { headers: { range: 'bytes=1000-' } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes 1000-${a.bytes.length - 1}/${a.bytes.length}`);
    expect(Buffer.from(await rest.arrayBuffer()).equals(a.bytes.subarray(1000))).toBe(true);
    const past = await fetch(r.body.url, { headers: { range: `bytes=${a.bytes.length}-` } });
    expect(past.status).toBe(416);

    const audit = await stack.api('GET', `/v1/audit?type=artifact.download_issued&subject=artifact:${a.artifactId}`);
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({ actor: expect.any(String), payload: { artifactId: a.artifactId, version: a.version } });

    const byVersion = await stack.api('GET', `/v1/registry/models/dl-route/versions/${a.version}/download`);
    expect(byVersion.status).toBe(200);
    expect(byVersion.body.artifact.artifactId).toBe(a.artifactId);
    // the old path still answers, marked deprecated
    const old = await stack.api('GET', `/v1/registry/${a.artifactId}/download`);
    expect(old.status).toBe(200);
  });

  it('refuses a URL whose signature, version or expiry was altered', async () => {
    const a = await registered('dl-tamper');
    const { url } = (await stack.api('GET', `/v1/artifacts/${a.artifactId}/download`)).body;
    const u = new URL(url);
    u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600));
    const longer = await fetch(u);
    expect(longer.status).toBe(403);
    expect(((await longer.json()) as { error: unknown }).error).toMatchObject({ code: 'FORBIDDEN', field: 'url' });
    const other = new URL(url);
    other.searchParams.set('version', 'v-other');
    expect((await fetch(other)).status).toBe(403);
  });

  it('answers 404 for an unknown artifact and 409 ARTIFACT_QUARANTINED for a quarantined one', async () => {
    expect((await stack.api('GET', '/v1/artifacts/00000000-0000-4000-8000-000000000000/download')).status).toBe(404);
    const a = await registered('dl-quarantined');
    expect((await stack.api('POST', `/v1/artifacts/${a.artifactId}/quarantine`, { reason: 'pull test' })).status).toBe(201);
    const r = await stack.api('GET', `/v1/artifacts/${a.artifactId}/download`);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: 'ARTIFACT_QUARANTINED', field: 'artifactId' });
    const out = join(work, 'quarantined.bin');
    const pulled = await aegis('pull', '--artifact-id', a.artifactId, '--out', out);
    expect(pulled.code).toBe(1);
    expect(pulled.stderr).toContain('quarantined');
    expect(await exists(out)).toBe(false);
  });
});

describe('download URLs of the filesystem store', () => {
  it('expire: a URL checked after its expiry is refused as expired, and an upload signature is no download signature', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aegis-fs-'));
    const store = new FsObjectStore({ root, uploadBaseUrl: 'http://127.0.0.1:1', uploadSecret: 'x'.repeat(32) });
    const info = await store.put('artifacts/m/1/artifact', Buffer.from('bytes'));
    const { url } = await store.createDownloadUrl(info.key, { versionId: info.versionId, expiresInSeconds: 60 });
    const q = new URL(url).searchParams;
    expect(store.verifyDownloadUrl(info.key, q)).toEqual({ ok: true, versionId: info.versionId });
    expect(store.verifyDownloadUrl(info.key, q, new Date(Date.now() + 61_000))).toEqual({ ok: false, reason: 'expired' });
    expect(store.verifyDownloadUrl('artifacts/m/2/artifact', q)).toEqual({ ok: false, reason: 'bad-signature' });
    const up = new URL((await store.createUploadUrl('artifacts/m/3/artifact', { expiresInSeconds: 60 })).url).searchParams;
    up.set('version', info.versionId);
    expect(store.verifyDownloadUrl('artifacts/m/3/artifact', up)).toEqual({ ok: false, reason: 'bad-signature' });
  });
});

describe('aegis pull', () => {
  it('pulls by artifact id and by model and version, byte-identical, leaving nothing else behind', async () => {
    const a = await registered('pull-ok');
    const dir = await mkdtemp(join(work, 'ok-'));
    const byId = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'));
    expect(byId.stderr).toBe('');
    expect(byId.code).toBe(0);
    expect(byId.stdout).toContain(`pulled pull-ok v${a.version}`);
    expect((await readFile(join(dir, 'model.bin'))).equals(a.bytes)).toBe(true);
    const byVersion = await aegis('--json', 'pull', '--model', 'pull-ok', '--version', String(a.version), '--out', join(dir, 'v.bin'));
    expect(byVersion.code).toBe(0);
    expect(JSON.parse(byVersion.stdout)).toMatchObject({ artifactId: a.artifactId, size: a.bytes.length });
    expect((await readFile(join(dir, 'v.bin'))).equals(a.bytes)).toBe(true);
    expect(await leftIn(dir)).toEqual(['model.bin', 'v.bin']);
    const both = await aegis('pull', '--artifact-id', a.artifactId, '--model', 'pull-ok', '--out', join(dir, 'x.bin'));
    expect(both.code).toBe(2);
  });

  it('pulls the artifact serving an environment, and answers 404 naming env where none serves', async () => {
    const a = await registered('pull-env');
    const p = await stack.api('POST', `/v1/artifacts/${a.artifactId}/promote`, { targetEnv: 'staging', reason: 'pull test' });
    expect(p.status).toBe(201);
    await settled(stack, p.body.promotionId);
    const dir = await mkdtemp(join(work, 'env-'));
    const r = await aegis('--json', 'pull', '--model', 'pull-env', '--env', 'staging', '--out', join(dir, 'model.bin'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ artifactId: a.artifactId });
    expect((await readFile(join(dir, 'model.bin'))).equals(a.bytes)).toBe(true);
    const none = await stack.api('GET', '/v1/registry/models/pull-env/environments/prod/download');
    expect(none.status).toBe(404);
    expect(none.body.error.field).toBe('env');
    const noCanary = await stack.api('GET', '/v1/registry/models/pull-env/environments/staging/download?variant=canary');
    expect(noCanary.status).toBe(404);
    expect(noCanary.body.error.field).toBe('variant');
    const badEnv = await stack.api('GET', '/v1/registry/models/pull-env/environments/moon/download');
    expect(badEnv.status).toBe(400);
    expect(badEnv.body.error.field).toBe('env');
  });

  it('resumes an interrupted download from the partial file and verifies the whole', async () => {
    const a = await registered('pull-resume');
    const dir = await mkdtemp(join(work, 'resume-'));
    await writeFile(join(dir, `.model.bin.${a.artifactId}.part`), a.bytes.subarray(0, 123_456));
    const r = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'));
    expect(r.code).toBe(0);
    expect((await readFile(join(dir, 'model.bin'))).equals(a.bytes)).toBe(true);
    expect(await leftIn(dir)).toEqual(['model.bin']);
    // a partial file that is not the start of the artifact fails the whole-file hash, and is removed
    await writeFile(join(dir, `.again.bin.${a.artifactId}.part`), randomBytes(1000));
    const bad = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'again.bin'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('FAIL artifact-sha256');
    expect(await leftIn(dir)).toEqual(['model.bin']);
  });

  it('refuses tampered stored bytes with nothing written at --out', async () => {
    const a = await registered('pull-tampered');
    const file = await storedFile(a.artifactId);
    await flipByte(file, 100);
    const dir = await mkdtemp(join(work, 'tampered-'));
    const r = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FAIL artifact-sha256');
    expect(await leftIn(dir)).toEqual([]);
  });

  it('refuses a manifest edited in the database, or its signature record, with nothing written at --out', async () => {
    const a = await registered('pull-edited');
    const db = stack.container.database.db;
    const row = await db
      .selectFrom('artifacts')
      .select(['manifest', 'manifest_signature_id'])
      .where('artifact_id', '=', a.artifactId)
      .executeTakeFirstOrThrow();
    const manifest = JSON.parse(row.manifest) as { seed: number };
    // the registered manifest, one field changed where it is kept: the signature no longer covers it
    await db
      .updateTable('artifacts')
      .set({ manifest: JSON.stringify({ ...manifest, seed: manifest.seed + 1 }) })
      .where('artifact_id', '=', a.artifactId)
      .execute();
    const dir = await mkdtemp(join(work, 'edited-'));
    const r = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FAIL signature');
    expect(await leftIn(dir)).toEqual([]);

    // the manifest put back, the signature record altered instead (another valid-looking Ed25519 signature)
    await db.updateTable('artifacts').set({ manifest: row.manifest }).where('artifact_id', '=', a.artifactId).execute();
    expect((await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'))).code).toBe(0);
    await rm(join(dir, 'model.bin'));
    await db
      .updateTable('manifest_signatures')
      .set({ signature: randomBytes(64).toString('base64') })
      .where('manifest_signature_id', '=', row.manifest_signature_id)
      .execute();
    const forged = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'));
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain('FAIL signature');
    expect(await leftIn(dir)).toEqual([]);
  });

  it('lets a reader pull (within its scope) but not register, read the audit log or manage tokens', async () => {
    const a = await registered('reader-model');
    const other = await registered('elsewhere-model');
    const make = await stack.api('POST', '/v1/tokens', { principal: 'worker', role: 'reader', scope: { prefixes: ['reader-'] } });
    expect(make.status).toBe(201);
    const token = make.body.token as string;
    const dir = await mkdtemp(join(work, 'reader-'));
    const pulled = await aegisCli(['pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin')], { ...env, AEGIS_TOKEN: token });
    expect(pulled.code).toBe(0);
    expect((await readFile(join(dir, 'model.bin'))).equals(a.bytes)).toBe(true);
    const audit = await stack.api('GET', `/v1/audit?type=artifact.download_issued&subject=artifact:${a.artifactId}`);
    expect(audit.body.items.map((e: { actor: string }) => e.actor)).toContain('worker');
    // another team's artifact answers as a missing one
    expect((await stack.api('GET', `/v1/artifacts/${other.artifactId}/download`, undefined, { token })).status).toBe(404);
    const up = await stack.api('POST', '/v1/registry/uploads', { modelName: 'reader-model', size: 10 }, { token });
    expect(up.status).toBe(403);
    expect((await stack.api('GET', '/v1/audit', undefined, { token })).status).toBe(403);
    expect((await stack.api('GET', '/v1/tokens', undefined, { token })).status).toBe(403);
    expect((await stack.api('GET', '/v1/keys', undefined, { token })).status).toBe(200);
  });

  it('refuses a signature that does not verify under the pinned key ring', async () => {
    const a = await registered('pull-pinned');
    const keys = (await stack.api('GET', '/v1/keys')).body.keys as { kid: string; purpose: string; publicKey: string }[];
    const audit = keys.find((k) => k.purpose === 'audit')!;
    // the manifest signer's public key swapped for another key's: the signature no longer verifies
    const forged = keys.map((k) => (k.purpose === 'manifest' ? { ...k, publicKey: audit.publicKey } : k));
    const ring = join(work, 'forged-keys.json');
    await writeFile(ring, JSON.stringify({ keys: forged }));
    const dir = await mkdtemp(join(work, 'pinned-'));
    const r = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'), '--trusted-keys', ring);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FAIL signature');
    expect(await leftIn(dir)).toEqual([]);
    // the true ring, pinned, verifies
    await writeFile(ring, JSON.stringify({ keys }));
    expect((await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'), '--trusted-keys', ring)).code).toBe(0);
  });

  it('refuses an artifact whose signer was revoked', async () => {
    const a = await registered('pull-revoked');
    expect((await stack.api('POST', '/v1/keys/rotate', { purpose: 'manifest', revoke: true })).status).toBe(200);
    const dir = await mkdtemp(join(work, 'revoked-'));
    const r = await aegis('pull', '--artifact-id', a.artifactId, '--out', join(dir, 'model.bin'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FAIL signer');
    expect(await leftIn(dir)).toEqual([]);
  });
});

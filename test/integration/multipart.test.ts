import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { manifestFor, registerDatasets, sha256, startStack, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';

/**
 * Multipart, resumable uploads above the object-store port (issue 25, "Large artifacts"): the
 * upload route's multipart plan, the parts route, registration completing the upload, expiry
 * aborting it, and the CLI resuming an interrupted upload — through real HTTP on the local stack
 * with parts of 5 MiB (S3's minimum, AEGIS_MULTIPART_PART_BYTES).
 */
const MIB = 1024 * 1024;
const PART = 5 * MIB;

let stack: Stack;
/** in front of the stack: upload URLs point here (AEGIS_PUBLIC_URL), so a test can fail part PUTs */
let proxy: Server;
let failPart: number | undefined;
let partPuts: number[] = [];
let alice: string;
let bob: string;

beforeAll(async () => {
  let target = '';
  proxy = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const part = url.searchParams.get('part');
    if (req.method === 'PUT' && part !== null) {
      if (Number(part) === failPart) {
        // the network fails this part: no answer the client can use
        req.socket.destroy();
        return;
      }
      partPuts.push(Number(part));
    }
    const out = request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  stack = await startStack({ AEGIS_MULTIPART_PART_BYTES: String(PART), AEGIS_PUBLIC_URL: proxyUrl });
  target = stack.url;
  alice = (await stack.api('POST', '/v1/tokens', { principal: 'alice', role: 'publisher' })).body.token;
  bob = (await stack.api('POST', '/v1/tokens', { principal: 'bob', role: 'publisher' })).body.token;
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => proxy?.close(r));
});
beforeEach(() => {
  failPart = undefined;
  partPuts = [];
});

const parts = (bytes: Buffer) => [bytes.subarray(0, PART), bytes.subarray(PART, 2 * PART), bytes.subarray(2 * PART)];
const partRequest = (b: Buffer, i: number) => ({ partNumber: i + 1, size: b.length, sha256: sha256(b) });

async function createMultipart(model: string, size: number, token = alice) {
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName: model, size, multipart: true }, { token });
  expect(up.status).toBe(201);
  return up.body as { uploadId: string; multipart: true; partSize: number; partCount: number; expiresAt: string };
}

const askParts = (uploadId: string, asked: unknown[], token: string | undefined = alice) =>
  stack.api('POST', `/v1/registry/uploads/${uploadId}/parts`, { parts: asked }, { token });

const keyOf = async (uploadId: string) =>
  (
    await stack.container.database.db
      .selectFrom('uploads')
      .select('storage_key')
      .where('upload_id', '=', uploadId)
      .executeTakeFirstOrThrow()
  ).storage_key;

describe('multipart uploads through the API', () => {
  it('plans the parts, hands out part URLs bound to each sha256, refuses registration until every part arrived, then registers once', async () => {
    const bytes = randomBytes(2 * PART + 1000);
    const [p1, p2, p3] = parts(bytes);
    const up = await createMultipart('mp-api', bytes.length);
    expect(up).toMatchObject({ multipart: true, partSize: PART, partCount: 3 });
    expect(Date.parse(up.expiresAt)).toBeGreaterThan(Date.now() + 3_600_000);
    expect((await askParts(up.uploadId, [])).body).toEqual({ partSize: PART, partCount: 3, uploaded: [], parts: [] });

    const asked = await askParts(up.uploadId, [partRequest(p1!, 0), partRequest(p2!, 1)]);
    expect(asked.status).toBe(200);
    const [u1, u2] = asked.body.parts as { partNumber: number; url: string; headers: Record<string, string> }[];
    expect([u1!.partNumber, u2!.partNumber]).toEqual([1, 2]);
    // a part URL takes only the bytes whose sha256 it was asked for
    const wrong = await fetch(u1!.url, { method: 'PUT', body: randomBytes(PART), headers: u1!.headers });
    expect(wrong.status).toBe(422);
    expect(((await wrong.json()) as { error: unknown }).error).toMatchObject({
      code: 'SHA256_MISMATCH',
      field: 'sha256',
      message: expect.stringContaining('part 1'),
    });
    expect((await askParts(up.uploadId, [])).body.uploaded).toEqual([]); // nothing of the refused part counts
    expect((await fetch(u1!.url, { method: 'PUT', body: p1!, headers: u1!.headers })).status).toBe(200);
    expect((await fetch(u2!.url, { method: 'PUT', body: p2!, headers: u2!.headers })).status).toBe(200);

    const manifest = manifestFor('mp-api', bytes);
    await registerDatasets(stack, manifest, alice);
    const early = await stack.api('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest }, { token: alice });
    expect(early.status).toBe(409);
    expect(early.body.error).toMatchObject({ code: 'MULTIPART_INCOMPLETE', field: 'partNumber', details: { missing: [3] } });
    // nothing written: no version at the key, no model
    expect(await stack.container.store.head(await keyOf(up.uploadId))).toBeUndefined();
    expect((await stack.api('GET', '/v1/registry/models/mp-api/versions')).status).toBe(404);

    // what a resumed client learns: parts 1 and 2 arrived, with their sha256
    const resumed = await askParts(up.uploadId, [partRequest(p3!, 2)]);
    expect(resumed.body.uploaded).toEqual([partRequest(p1!, 0), partRequest(p2!, 1)]);
    const u3 = resumed.body.parts[0];
    expect((await fetch(u3.url, { method: 'PUT', body: p3!, headers: u3.headers })).status).toBe(200);

    const reg = await stack.api('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest }, { token: alice });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ sha256: sha256(bytes), version: 1, replayed: false });
    // a retried registration finds the completed upload: the same record
    const again = await stack.api('POST', '/v1/registry/register', { uploadId: up.uploadId, manifest }, { token: alice });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ artifactId: reg.body.artifactId, version: 1, replayed: true });
    expect((await stack.api('GET', '/v1/registry/models/mp-api/versions')).body.items).toHaveLength(1);
    const report = await stack.api('GET', `/v1/artifacts/${reg.body.artifactId}/validate`);
    expect(report.body.ok).toBe(true);
    // registered: it takes no more parts
    const after = await askParts(up.uploadId, []);
    expect(after.status).toBe(409);
    expect(after.body.error).toMatchObject({ code: 'CONFLICT', field: 'uploadId' });
  });

  it("answers someone else's upload as missing (404), an admin's view aside", async () => {
    const up = await createMultipart('mp-owner', 2 * PART);
    const other = await askParts(up.uploadId, [], bob);
    expect(other.status).toBe(404);
    expect(other.body.error).toMatchObject({ code: 'UPLOAD_NOT_FOUND', field: 'uploadId' });
    expect((await askParts('00000000-0000-4000-8000-000000000000', [], alice)).status).toBe(404);
    expect((await askParts(up.uploadId, [], stack.adminToken)).status).toBe(200);
  });

  it.each([
    ['a part number past the plan', [{ partNumber: 3, size: 1, sha256: 'a'.repeat(64) }], 'parts.0.partNumber'],
    ['part number 0', [{ partNumber: 0, size: PART, sha256: 'a'.repeat(64) }], 'parts.0.partNumber'],
    ['a size other than the plan gives the part', [{ partNumber: 1, size: PART - 1, sha256: 'a'.repeat(64) }], 'parts.0.size'],
    ['a part without its sha256', [{ partNumber: 1, size: PART }], 'parts.0.sha256'],
    ['a sha256 that is not hex', [{ partNumber: 2, size: 10, sha256: 'Z'.repeat(64) }], 'parts.0.sha256'],
  ])('refuses %s (400 naming the field)', async (_what, asked, field) => {
    const up = await createMultipart('mp-bad', PART + 10);
    const res = await askParts(up.uploadId, asked);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field });
  });

  it('refuses a bad upload id and a single upload over 5 GiB, naming the field', async () => {
    const bad = await stack.api('POST', '/v1/registry/uploads/not-a-uuid/parts', { parts: [] }, { token: alice });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: 'uploadId' });
    const big = await stack.api('POST', '/v1/registry/uploads', { modelName: 'mp-big', size: 6 * 1024 ** 3 }, { token: alice });
    expect(big.status).toBe(400);
    expect(big.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'multipart' });
    const notBool = await stack.api('POST', '/v1/registry/uploads', { modelName: 'mp-big', size: 10, multipart: 'yes' }, { token: alice });
    expect(notBool.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'multipart' });
    // a single upload is no multipart upload: no part URLs for it
    const single = await stack.api('POST', '/v1/registry/uploads', { modelName: 'mp-single', size: 10 }, { token: alice });
    const asked = await askParts(single.body.uploadId, []);
    expect(asked.status).toBe(409);
    expect(asked.body.error).toMatchObject({ code: 'CONFLICT', field: 'uploadId' });
  });

  it('expires an unregistered multipart upload: its parts are aborted and its row removed (410 before the job runs)', async () => {
    const bytes = randomBytes(PART);
    const up = await createMultipart('mp-expiry', 2 * PART);
    const [u1] = (await askParts(up.uploadId, [partRequest(bytes, 0)])).body.parts;
    expect((await fetch(u1.url, { method: 'PUT', body: bytes, headers: u1.headers })).status).toBe(200);
    const key = await keyOf(up.uploadId);
    expect(await stack.container.store.listUploadedParts(key)).toHaveLength(1);
    await sql`update uploads set created_at = now() - interval '2 days' where upload_id = ${up.uploadId}`.execute(
      stack.container.database.db,
    );
    const expired = await askParts(up.uploadId, []);
    expect(expired.status).toBe(410);
    expect(expired.body.error).toMatchObject({ code: 'UPLOAD_EXPIRED', field: 'uploadId' });
    const run = await stack.container.registry.expirePendingUploads();
    expect(run.expired).toContain(up.uploadId);
    expect(await stack.container.store.listUploadedParts(key)).toBeUndefined();
    expect((await askParts(up.uploadId, [])).status).toBe(404);
  });
});

describe('aegis register resumes an interrupted multipart upload', () => {
  it('fails on a lost part, and the same command then sends only the missing parts and registers once with the right sha256', async () => {
    const dir = stack.dataDir;
    const artifact = join(dir, 'big-model.bin');
    const bytes = randomBytes(2 * PART + 4096);
    await writeFile(artifact, bytes);
    const manifestFile = join(dir, 'big-model.manifest.json');
    const { artifactSha256: _s, artifactSize: _z, ...manifest } = manifestFor('mp-cli', bytes);
    await writeFile(manifestFile, JSON.stringify(manifest));
    await registerDatasets(stack, manifest, alice);
    const env = {
      AEGIS_URL: stack.url,
      AEGIS_DATA_DIR: dir,
      AEGIS_TOKEN: alice,
      AEGIS_MULTIPART_THRESHOLD: String(PART),
      AEGIS_STATE_DIR: join(dir, 'cli-state'),
      // one part at a time: the run stops at the lost part (tried three times) before sending part 3
      AEGIS_UPLOAD_CONCURRENCY: '1',
    };
    const register = () => aegisCli(['--json', 'register', '--model', 'mp-cli', '--artifact', artifact, '--manifest', manifestFile], env);

    failPart = 2;
    const first = await register();
    expect(first.code).not.toBe(0);
    expect(partPuts).toEqual([1]);
    const state = await readdir(join(dir, 'cli-state', 'uploads'));
    expect(state).toEqual([`${sha256(bytes)}.json`]);

    failPart = undefined;
    partPuts = [];
    const second = await register();
    expect(second.stderr).toContain('1 of 3 parts already received');
    expect(second.code).toBe(0);
    expect(partPuts).toEqual([2, 3]);
    const res = JSON.parse(second.stdout);
    expect(res).toMatchObject({ sha256: createHash('sha256').update(bytes).digest('hex'), version: 1, replayed: false });
    const versions = await stack.api('GET', '/v1/registry/models/mp-cli/versions');
    expect(versions.body.items.map((v: { sha256: string }) => v.sha256)).toEqual([sha256(bytes)]);
    // registered: nothing left to resume
    expect(await readdir(join(dir, 'cli-state', 'uploads'))).toEqual([]);
    // the same command again replays, uploading anew but registering nothing new
    const third = await register();
    expect(third.code).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ artifactId: res.artifactId, replayed: true });
  });
});

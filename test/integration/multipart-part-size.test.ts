import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestFor, registerDatasets, sha256, startStack, type Stack } from '../support/local-stack.js';

/**
 * A multipart upload keeps the part size it was created with (migration 0018, issue 25): the
 * server restarted with another AEGIS_MULTIPART_PART_BYTES still hands out the upload's parts,
 * takes them and completes it at registration. An upload that stored none (created before 0018)
 * is cut by the current setting.
 */
const MIB = 1024 * 1024;

let dataDir: string;
let before: Stack | undefined;
let after: Stack | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'aegis-part-size-'));
});
afterAll(async () => {
  await before?.close();
  await after?.stop();
});

type PartUrl = { partNumber: number; url: string; headers: Record<string, string> };

async function sendParts(stack: Stack, uploadId: string, bytes: Buffer, partSize: number, numbers: number[], token: string) {
  const asked = numbers.map((n) => {
    const b = bytes.subarray((n - 1) * partSize, n * partSize);
    return { partNumber: n, size: b.length, sha256: sha256(b) };
  });
  const res = await stack.api('POST', `/v1/registry/uploads/${uploadId}/parts`, { parts: asked }, { token });
  expect(res.status).toBe(200);
  for (const p of res.body.parts as PartUrl[]) {
    const body = bytes.subarray((p.partNumber - 1) * partSize, p.partNumber * partSize);
    expect((await fetch(p.url, { method: 'PUT', body, headers: p.headers })).status).toBe(200);
  }
  return res.body as { partSize: number; partCount: number; uploaded: { partNumber: number }[] };
}

it('completes an upload created before the part size setting changed, and cuts an upload that stored none by the new setting', async () => {
  before = await startStack({ AEGIS_MULTIPART_PART_BYTES: String(5 * MIB) }, { dataDir });
  const alice = (await before.api('POST', '/v1/tokens', { principal: 'alice', role: 'publisher' })).body.token as string;
  const bytes = randomBytes(2 * 5 * MIB + 1000);
  const created = await before.api(
    'POST',
    '/v1/registry/uploads',
    { modelName: 'mp-size', size: bytes.length, multipart: true },
    { token: alice },
  );
  expect(created.body).toMatchObject({ partSize: 5 * MIB, partCount: 3 });
  const { uploadId } = created.body as { uploadId: string };
  await sendParts(before, uploadId, bytes, 5 * MIB, [1], alice);
  // an upload as migration 0018 finds one made before it: no part size stored
  const legacy = await before.api(
    'POST',
    '/v1/registry/uploads',
    { modelName: 'mp-size', size: 12 * MIB, multipart: true },
    { token: alice },
  );
  await before.container.database.db
    .updateTable('uploads')
    .set({ part_bytes: null })
    .where('upload_id', '=', legacy.body.uploadId)
    .execute();
  await before.close();
  before = undefined;

  // the same data folder, another part size
  after = await startStack({ AEGIS_MULTIPART_PART_BYTES: String(6 * MIB) }, { dataDir });
  const status = await sendParts(after, uploadId, bytes, 5 * MIB, [2, 3], alice);
  expect(status).toMatchObject({ partSize: 5 * MIB, partCount: 3, uploaded: [{ partNumber: 1 }] });
  const manifest = manifestFor('mp-size', bytes);
  await registerDatasets(after, manifest, alice);
  const reg = await after.api('POST', '/v1/registry/register', { uploadId, manifest }, { token: alice });
  expect(reg.status).toBe(201);
  expect(reg.body).toMatchObject({ sha256: sha256(bytes), version: 1 });
  expect((await after.api('GET', `/v1/artifacts/${reg.body.artifactId}/validate`)).body.ok).toBe(true);

  // no stored part size: the current setting's plan (12 MiB in 6 MiB parts)
  const old = await after.api('POST', `/v1/registry/uploads/${legacy.body.uploadId}/parts`, { parts: [] }, { token: alice });
  expect(old.body).toMatchObject({ partSize: 6 * MIB, partCount: 2 });
  // a new upload is cut by the new setting and stores it
  const fresh = await after.api(
    'POST',
    '/v1/registry/uploads',
    { modelName: 'mp-size', size: 12 * MIB, multipart: true },
    { token: alice },
  );
  expect(fresh.body).toMatchObject({ partSize: 6 * MIB, partCount: 2 });
  const row = await after.container.database.db
    .selectFrom('uploads')
    .select('part_bytes')
    .where('upload_id', '=', fresh.body.uploadId)
    .executeTakeFirstOrThrow();
  expect(Number(row.part_bytes)).toBe(6 * MIB);
});

it('stores no part size for a single upload', async () => {
  const single = await after!.api('POST', '/v1/registry/uploads', { modelName: 'mp-size', size: 10 });
  const row = await after!.container.database.db
    .selectFrom('uploads')
    .select('part_bytes')
    .where('upload_id', '=', single.body.uploadId)
    .executeTakeFirstOrThrow();
  expect(row.part_bytes).toBeNull();
});

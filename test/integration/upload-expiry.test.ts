import { randomBytes } from 'node:crypto';
import { LOCAL_SCHEDULE_MS } from '../../lib/platform/composition/jobs.js';
import { REGISTRY_DEFAULTS } from '../../lib/platform/composition/services.js';
import { RegistryService } from '../../lib/modules/registry/service.js';
import { FakeTimers } from '../support/fake-timers.js';
import { manifestFor, registerDatasets, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ShiftedClock } from '../promotion/support.js';

/**
 * Uploads never registered expire on a schedule (issue 9): the in-process scheduler's timer is
 * fired by hand and the clock shifted, no sleeps.
 */
const HOUR = 3_600_000;
const EVERY = LOCAL_SCHEDULE_MS['pending-upload-expiry'];

let stack: Stack;
let clock: ShiftedClock;
let timers: FakeTimers;

beforeAll(async () => {
  clock = new ShiftedClock();
  timers = new FakeTimers();
  stack = await startStack({}, { clock, timers });
});
afterAll(async () => {
  await stack?.stop();
});

async function upload(model: string, bytes?: Buffer) {
  const up = await stack.api('POST', '/v1/registry/uploads', { modelName: model, size: bytes?.length ?? 10 });
  expect(up.status).toBe(201);
  if (bytes) expect((await fetch(up.body.url, { method: 'PUT', body: bytes })).status).toBe(200);
  const row = await stack.container.database.db
    .selectFrom('uploads')
    .selectAll()
    .where('upload_id', '=', up.body.uploadId)
    .executeTakeFirstOrThrow();
  return { uploadId: up.body.uploadId as string, key: row.storage_key };
}

const uploadRow = (id: string) =>
  stack.container.database.db.selectFrom('uploads').selectAll().where('upload_id', '=', id).executeTakeFirst();

/** Fires the expiry job's timer and waits for the run it started. */
async function fireExpiry() {
  expect(timers.fire(EVERY)).toBe(1);
  return stack.container.scheduler.run('pending-upload-expiry') as Promise<{ expired: string[]; versionsRemoved: number; kept: unknown[] }>;
}

describe('pending uploads expire on a schedule', () => {
  it('marks uploaded bytes pending until registration claims them; expires the unregistered after the TTL (1 day by default), bytes and row', async () => {
    const registered = await uploadAndRegister(stack, 'expiry-model', randomBytes(200));
    expect(registered.status).toBe(201);
    const art = (await stack.api('GET', `/v1/registry/${registered.body.artifactId}`)).body;
    const claimedRow = await stack.container.database.db
      .selectFrom('uploads')
      .selectAll()
      .where('storage_key', '=', art.storage.key)
      .executeTakeFirstOrThrow();
    expect(claimedRow.registered_at).not.toBeNull();
    expect((await stack.container.store.head(art.storage.key))!.pendingUpload).toBeUndefined();

    const abandoned = await upload('expiry-model', randomBytes(300));
    const empty = await upload('expiry-model');
    expect((await stack.container.store.head(abandoned.key))!.pendingUpload).toBe(true);

    clock.advance(24 * HOUR - 60_000);
    expect((await fireExpiry()).expired).toEqual([]);
    expect(await stack.container.store.head(abandoned.key)).toBeDefined();

    clock.advance(2 * 60_000);
    const run = await fireExpiry();
    expect(run.expired.sort()).toEqual([abandoned.uploadId, empty.uploadId].sort());
    expect(run.versionsRemoved).toBe(1);
    expect(await stack.container.store.head(abandoned.key)).toBeUndefined();
    expect(await uploadRow(abandoned.uploadId)).toBeUndefined();
    expect(await uploadRow(empty.uploadId)).toBeUndefined();
    // the registered artifact is untouched and still verifies
    expect((await stack.container.store.head(art.storage.key))!.retainUntil).toBeDefined();
    expect((await stack.container.verification.validateArtifact(registered.body.artifactId)).ok).toBe(true);
    expect(timers.pending.size).toBeGreaterThan(0); // re-armed
  });

  it('refuses to register an upload past its TTL (410 UPLOAD_EXPIRED) even before the job ran; a fresh upload registers', async () => {
    const bytes = randomBytes(400);
    const manifest = manifestFor('expiry-late', bytes);
    await registerDatasets(stack, manifest);
    const late = await upload('expiry-late', bytes);
    clock.advance(24 * HOUR + 1000);
    const refused = await stack.api('POST', '/v1/registry/register', { uploadId: late.uploadId, manifest });
    expect(refused.status).toBe(410);
    expect(refused.body.error).toMatchObject({ code: 'UPLOAD_EXPIRED', field: 'uploadId' });
    expect((await stack.container.store.head(late.key))!.pendingUpload).toBe(true); // nothing claimed it
    expect((await fireExpiry()).expired).toContain(late.uploadId);
    expect((await stack.api('POST', '/v1/registry/register', { uploadId: late.uploadId, manifest })).body.error.code).toBe(
      'UPLOAD_NOT_FOUND',
    );
    expect((await uploadAndRegister(stack, 'expiry-late', bytes, { manifest })).status).toBe(201);
  });

  it('an upload the job has marked expired cannot be registered; a replay under a new upload leaves that upload pending, then expired', async () => {
    const bytes = randomBytes(500);
    const first = await uploadAndRegister(stack, 'expiry-replay', bytes);
    expect(first.status).toBe(201);
    const manifest = manifestFor('expiry-replay', bytes);
    const retry = await upload('expiry-replay', bytes);
    const replay = await stack.api('POST', '/v1/registry/register', {
      uploadId: retry.uploadId,
      manifest: { ...manifest, createdAt: (await stack.api('GET', `/v1/registry/${first.body.artifactId}`)).body.manifest.createdAt },
    });
    expect([200, 201, 409]).toContain(replay.status);
    expect((await uploadRow(retry.uploadId))!.registered_at).toBeNull();

    const other = randomBytes(501);
    const marked = await upload('expiry-replay', other);
    await stack.container.database.db
      .updateTable('uploads')
      .set({ expired_at: clock.now() })
      .where('upload_id', '=', marked.uploadId)
      .execute();
    const refused = await stack.api('POST', '/v1/registry/register', {
      uploadId: marked.uploadId,
      manifest: manifestFor('expiry-replay', other),
    });
    expect(refused.status).toBe(410);
    expect(refused.body.error.code).toBe('UPLOAD_EXPIRED');
    expect((await stack.container.store.head(marked.key))!.pendingUpload).toBe(true); // refused before anything was claimed
    clock.advance(25 * HOUR);
    const run = await fireExpiry();
    expect(run.expired).toEqual(expect.arrayContaining([retry.uploadId, marked.uploadId]));
    expect(await stack.container.store.head(retry.key)).toBeUndefined();
    expect(await stack.container.store.head(marked.key)).toBeUndefined();
  });

  it('leaves bytes a registration attempt retained (parity reports them) and still removes the row', async () => {
    const bytes = randomBytes(600);
    const u = await upload('expiry-retained', bytes);
    const info = (await stack.container.store.head(u.key))!;
    await stack.container.store.retain(u.key, info.versionId, new Date(Date.now() + HOUR));
    clock.advance(25 * HOUR);
    const run = await fireExpiry();
    expect(run.kept).toEqual([expect.objectContaining({ uploadId: u.uploadId, key: u.key })]);
    expect(await stack.container.store.head(u.key)).toBeDefined();
    expect(await uploadRow(u.uploadId)).toBeUndefined();
  });

  it("on AWS (lifecycle mode) expires the row and leaves the still-tagged bytes to the bucket's lifecycle rule", async () => {
    const c = stack.container;
    const aws = new RegistryService(c, {
      ...REGISTRY_DEFAULTS,
      pendingUploadBytes: 'lifecycle',
    });
    const u = await upload('expiry-aws', randomBytes(700));
    clock.advance(25 * HOUR);
    const run = await aws.expirePendingUploads();
    expect(run).toMatchObject({ expired: [u.uploadId], versionsRemoved: 0, kept: [] });
    expect(await uploadRow(u.uploadId)).toBeUndefined();
    expect((await c.store.head(u.key))!.pendingUpload).toBe(true);
  });
});

/**
 * Issue 25: each server caches the key ring with its version (audit_head.key_ring_seq) and
 * reads it again when an append finds another version under the head's lock. A rotation or a
 * revocation made by one server is therefore honoured by the other's very next registration —
 * no window in which a retired or revoked key signs. Two local servers on one PostgreSQL database.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeTimers } from '../support/fake-timers.js';
import { settled } from '../promotion/support.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { createTestDatabase } from '../support/postgres.js';
import { describeUnless, NO_POSTGRES } from '../support/unavailable.js';

const testDb = await createTestDatabase();
let a: Stack | undefined;
let b: Stack | undefined;

describeUnless(testDb ? undefined : NO_POSTGRES, 'the cached key ring across two servers (PostgreSQL server)', () => {
  beforeAll(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'aegis-keyring-'));
    const env = { MODEL_REGISTRY_DATABASE_URL: testDb!.url };
    a = await startStack(env, { dataDir, timers: new FakeTimers() });
    b = await startStack(env, { dataDir, timers: new FakeTimers() });
  });
  afterAll(async () => {
    await b?.close(); // the data folder is a's to remove
    await a?.stop();
    await testDb?.drop();
  });

  /** Registers new bytes on `s`; returns the reply and the signer of each of its audit events. */
  async function register(s: Stack) {
    const reg = await uploadAndRegister(s, 'ring-model', randomBytes(400));
    if (reg.status !== 201) return { reg, eventSigners: [] as string[] };
    const events = await s.api('GET', `/v1/audit?subject=${encodeURIComponent(`artifact:${reg.body.artifactId}`)}`);
    return { reg, eventSigners: (events.body.items as { signerId: string }[]).map((e) => e.signerId) };
  }
  const rotate = async (s: Stack, purpose: 'manifest' | 'audit', revoke = false) => {
    const res = await s.api('POST', '/v1/keys/rotate', { purpose, revoke });
    expect(res.status).toBe(200);
    return res.body as { previous: { kid: string } | null; current: { kid: string } };
  };
  const validates = async (s: Stack, version: number) =>
    (await s.api('GET', `/v1/registry/models/ring-model/versions/${version}/validate`)).body.ok as boolean;

  it("signs a's next manifest with the key b rotated in, though a had the old one cached", async () => {
    const first = await register(a!); // a now holds the ring
    expect(first.reg.status).toBe(201);
    const { previous, current } = await rotate(b!, 'manifest');
    expect(first.reg.body.signerId).toBe(previous!.kid);
    const next = await register(a!);
    expect(next.reg.status).toBe(201);
    expect(next.reg.body.signerId).toBe(current.kid);
    expect(await validates(a!, next.reg.body.version)).toBe(true);
    expect(await validates(b!, first.reg.body.version)).toBe(true);
  });

  it("signs a's next audit events with the audit key b rotated in", async () => {
    const before = await register(a!);
    const { previous, current } = await rotate(b!, 'audit');
    expect(new Set(before.eventSigners)).toEqual(new Set([previous!.kid]));
    const after = await register(a!);
    expect(new Set(after.eventSigners)).toEqual(new Set([current.kid]));
    const verify = await a!.api('GET', '/v1/audit/verify');
    expect(verify.body.ok).toBe(true);
  });

  it('never signs with a manifest key b revoked: a signs with its successor, and the chain verifies', async () => {
    await register(a!); // cached again after the last change
    const { previous, current } = await rotate(b!, 'manifest', true);
    const next = await register(a!);
    expect(next.reg.status).toBe(201);
    expect(next.reg.body.signerId).toBe(current.kid);
    expect(next.reg.body.signerId).not.toBe(previous!.kid);
    expect(await validates(a!, next.reg.body.version)).toBe(true);
    expect((await b!.api('GET', '/v1/audit/verify')).body.ok).toBe(true);
  });

  it('refuses to sign at all once b revoked the only manifest key, until one is rotated in', async () => {
    await register(a!);
    const keys = await b!.api('GET', '/v1/keys');
    const active = (keys.body.keys as { kid: string; purpose: string; notAfter: string | null; revokedAt: string | null }[]).find(
      (k) => k.purpose === 'manifest' && k.notAfter === null && k.revokedAt === null,
    )!;
    expect((await b!.api('POST', `/v1/keys/${active.kid}/revoke`)).status).toBe(200);
    const refused = await register(a!);
    expect(refused.reg.status).toBe(503);
    expect(refused.reg.body.error.code).toBe('NO_ACTIVE_SIGNING_KEY');
    const { current } = await rotate(b!, 'manifest');
    const next = await register(a!);
    expect(next.reg.status).toBe(201);
    expect(next.reg.body.signerId).toBe(current.kid);
  });

  /** Registers new bytes of `model` on `s` and requests their promotion to staging there. */
  async function promoteNew(s: Stack, model: string) {
    const reg = await uploadAndRegister(s, model, randomBytes(300));
    expect(reg.status).toBe(201);
    const res = await s.api('POST', `/v1/artifacts/${reg.body.artifactId}/promote`, { targetEnv: 'staging', reason: 'ring' });
    return { reg, res };
  }

  it("signs a's next promotion record with the manifest key b rotated in, though a decided with the ring it had cached", async () => {
    const warm = await promoteNew(a!, 'ring-promo-1'); // a's ring cached, and used by a promotion
    expect(warm.res.status).toBe(201);
    // registered before the rotation: its signer is in a's cached ring, which a uses until its commit finds the ring changed
    const next = await uploadAndRegister(a!, 'ring-promo-2', randomBytes(300));
    const { previous, current } = await rotate(b!, 'manifest');
    expect([warm.res.body.recordSignature.signerId, next.body.signerId]).toEqual([previous!.kid, previous!.kid]);
    const res = await a!.api('POST', `/v1/artifacts/${next.body.artifactId}/promote`, { targetEnv: 'staging', reason: 'ring' });
    expect(res.status).toBe(201);
    expect(res.body.recordSignature.signerId).toBe(current.kid);
    const events = await b!.api('GET', `/v1/audit?subject=${encodeURIComponent(`promotion:${res.body.promotionId}`)}`);
    expect((events.body.items as { payload: { recordSignature: unknown } }[]).map((e) => e.payload.recordSignature)).toEqual([
      res.body.recordSignature,
    ]);
    // nothing of a's runs on (a rollout's append would read the ring afresh, and the next test needs a's cached one)
    for (const id of [warm.res.body.promotionId, res.body.promotionId]) expect((await settled(a!, id)).status).toBe('succeeded');
  });

  it("refuses a's promotion of an artifact whose manifest key b revoked, though a's cached ring still trusted it", async () => {
    // signed by the key about to be revoked, with the ring a caches (that key unrevoked in it)
    const victim = await uploadAndRegister(a!, 'ring-promo-3', randomBytes(300));
    expect(victim.status).toBe(201);
    const { previous } = await rotate(b!, 'manifest', true);
    expect(previous!.kid).toBe(victim.body.signerId);
    const refused = await a!.api('POST', `/v1/artifacts/${victim.body.artifactId}/promote`, { targetEnv: 'staging', reason: 'ring' });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'VERIFICATION_FAILED', field: 'artifactId' });
    expect((await a!.api('GET', `/v1/artifacts/${victim.body.artifactId}/promotions`)).body.items ?? []).toEqual([]);
  });
});

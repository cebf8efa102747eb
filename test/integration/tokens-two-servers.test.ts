/**
 * Issue 15: a revocation is effective at once in the server that made it, and within
 * AEGIS_TOKEN_CACHE_SECONDS in every other server on the same database — never later. Two
 * local servers on one PostgreSQL database share one frozen clock the test moves by hand.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeTimers } from '../support/fake-timers.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { createTestDatabase } from '../support/postgres.js';
import { describeUnless, NO_POSTGRES } from '../support/unavailable.js';

/** Time stands still until the test moves it. */
class FrozenClock {
  #at = Date.now();
  now(): Date {
    return new Date(this.#at);
  }
  advance(ms: number): void {
    this.#at += ms;
  }
}

const CACHE_SECONDS = 5;
const testDb = await createTestDatabase();
let a: Stack | undefined;
let b: Stack | undefined;
const clock = new FrozenClock();

describeUnless(testDb ? undefined : NO_POSTGRES, 'token revocation across two servers (PostgreSQL server)', () => {
  beforeAll(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'aegis-tokens-'));
    const env = { MODEL_REGISTRY_DATABASE_URL: testDb!.url, AEGIS_TOKEN_CACHE_SECONDS: String(CACHE_SECONDS) };
    a = await startStack(env, { clock, dataDir, timers: new FakeTimers() });
    b = await startStack(env, { clock, dataDir, timers: new FakeTimers() });
  });
  afterAll(async () => {
    await b?.close(); // the data folder is a's to remove
    await a?.stop();
    await testDb?.drop();
  });

  const status = async (s: Stack, token: string) => (await s.api('GET', '/v1/registry/models', undefined, { token })).status;
  const create = async (principal: string) => {
    const res = await a!.api('POST', '/v1/tokens', { principal, role: 'publisher' });
    expect(res.status).toBe(201);
    return res.body as { token: string; tokenId: string };
  };

  it('refuses a revoked token at once where it was revoked, and in the other server once its cached read is CACHE_SECONDS old', async () => {
    const t = await create('two-servers-revoked');
    expect([await status(a!, t.token), await status(b!, t.token)]).toEqual([200, 200]); // b reads it now
    expect((await a!.api('POST', `/v1/tokens/${t.tokenId}/revoke`)).status).toBe(200);
    expect(await status(a!, t.token)).toBe(401);
    // b trusts what it read for less than the bound…
    expect(await status(b!, t.token)).toBe(200);
    clock.advance(CACHE_SECONDS * 1000 - 1);
    expect(await status(b!, t.token)).toBe(200);
    // …and not a millisecond longer
    clock.advance(1);
    const refused = await b!.api('GET', '/v1/registry/models', undefined, { token: t.token });
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toContain(`token ${t.tokenId} was revoked`);
  });

  it('refuses a rotated-out token in the other server within the bound, and takes the new one there at once', async () => {
    const t = await create('two-servers-rotated');
    expect(await status(b!, t.token)).toBe(200);
    const rotated = await a!.api('POST', `/v1/tokens/${t.tokenId}/rotate`, {});
    expect(rotated.status).toBe(201);
    expect([await status(a!, t.token), await status(b!, rotated.body.token)]).toEqual([401, 200]);
    clock.advance(CACHE_SECONDS * 1000);
    expect(await status(b!, t.token)).toBe(401);
  });

  it('refuses a token in the other server at once when that server read it only after the revocation', async () => {
    const t = await create('two-servers-unread');
    expect((await a!.api('POST', `/v1/tokens/${t.tokenId}/revoke`)).status).toBe(200);
    expect(await status(b!, t.token)).toBe(401);
  });
});

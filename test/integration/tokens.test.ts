/**
 * Issue 15, tokens: local bearer tokens expire, are listed, revoked and rotated by an admin
 * through the HTTP API, record their last use without a write per request, and are audited
 * without their secrets. Time moves by the injected clock, never by sleeping.
 */
import { sha256Hex } from '../../lib/kernel/canonical.js';
import { ShiftedClock } from '../promotion/support.js';
import { startStack, type Stack } from '../support/local-stack.js';

const DAY = 86_400_000;
let stack: Stack;
let clock: ShiftedClock;

beforeAll(async () => {
  clock = new ShiftedClock();
  stack = await startStack({}, { clock });
});
afterAll(async () => {
  await stack?.stop();
});

async function create(body: Record<string, unknown>) {
  const res = await stack.api('POST', '/v1/tokens', body);
  expect(res.status).toBe(201);
  return res.body as { token: string; tokenId: string; principal: string; role: string; createdAt: string; expiresAt: string };
}
const asToken = (token: string) => stack.api('GET', '/v1/registry/models', undefined, { token });
const listAll = async () => (await stack.api('GET', '/v1/tokens?limit=500')).body.items as Record<string, unknown>[];
const events = async (type: string) => (await stack.api('GET', `/v1/audit?type=${type}&limit=1000`)).body.items as any[];

describe('token expiry', () => {
  it('gives a token 90 days by default, and the lifetime asked for with expiresIn', async () => {
    const plain = await create({ principal: 'ci-default', role: 'publisher' });
    expect(Date.parse(plain.expiresAt) - Date.parse(plain.createdAt)).toBe(90 * DAY);
    expect(plain.tokenId).toMatch(/^tok_[0-9a-f]{16}$/);
    const short = await create({ principal: 'ci-short', role: 'publisher', expiresIn: '12h' });
    expect(Date.parse(short.expiresAt) - Date.parse(short.createdAt)).toBe(DAY / 2);
  });

  it('refuses an expired token with 401 TOKEN_EXPIRED that names it and says what to do', async () => {
    const t = await create({ principal: 'ci-expiring', role: 'publisher', expiresIn: '1h' });
    expect((await asToken(t.token)).status).toBe(200);
    clock.advance(3_600_000);
    const res = await asToken(t.token);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'TOKEN_EXPIRED', field: 'Authorization' });
    expect(res.body.error.message).toContain(`token ${t.tokenId} expired at ${t.expiresAt}`);
    expect(res.body.error.message).toContain(`aegis tokens rotate ${t.tokenId}`);
    const listed = (await listAll()).find((x) => x.tokenId === t.tokenId);
    expect(listed).toMatchObject({ state: 'expired', revokedAt: null });
  });

  it('refuses a lifetime over AEGIS_TOKEN_MAX_TTL (365d by default) or not a duration, naming expiresIn', async () => {
    const over = await stack.api('POST', '/v1/tokens', { principal: 'x', role: 'publisher', expiresIn: '366d' });
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'expiresIn', details: { maxTtlSeconds: 365 * 86_400 } });
    expect(over.body.error.message).toMatch(/longer than the longest token lifetime, 365d \(AEGIS_TOKEN_MAX_TTL\)/);
    for (const bad of ['soon', '0d', '30', '-1d', 30]) {
      const res = await stack.api('POST', '/v1/tokens', { principal: 'x', role: 'publisher', expiresIn: bad });
      expect([bad, res.status, res.body.error.field]).toEqual([bad, 400, 'expiresIn']);
    }
    expect((await stack.api('POST', '/v1/tokens', { principal: 'x', role: 'publisher', expiresIn: '365d' })).status).toBe(201);
  });
});

describe('listing tokens', () => {
  it('lists every token newest first with its state, never a secret or a hash, in pages', async () => {
    const a = await create({ principal: 'lister-a', role: 'auditor' });
    const b = await create({ principal: 'lister-b', role: 'approver' });
    const all = await listAll();
    expect(all.slice(0, 2).map((t) => t.tokenId)).toEqual([b.tokenId, a.tokenId]);
    expect(all[0]).toEqual({
      tokenId: b.tokenId,
      principal: 'lister-b',
      role: 'approver',
      scope: 'global',
      state: 'active',
      createdAt: b.createdAt,
      createdBy: 'dev-admin',
      expiresAt: b.expiresAt,
      lastUsedAt: null,
      revokedAt: null,
      revokedBy: null,
    });
    expect(all.find((t) => t.principal === 'dev-admin')).toMatchObject({ role: 'admin', createdBy: 'system', state: 'active' });
    const text = JSON.stringify(all);
    expect(text).not.toContain(b.token);
    expect(text).not.toContain(sha256Hex(b.token).slice(0, 16));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { tokenId: string }[]; nextCursor: string | null } } = await stack.api(
        'GET',
        `/v1/tokens?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((t) => t.tokenId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((t) => t.tokenId));
  });

  it('refuses a cursor that is not a token id from nextCursor, and a bad limit, naming the field', async () => {
    const malformed = await stack.api('GET', '/v1/tokens?cursor=abc');
    expect([malformed.status, malformed.body.error.field]).toEqual([400, 'query.cursor']);
    const unknown = await stack.api('GET', `/v1/tokens?cursor=tok_${'0'.repeat(16)}`);
    expect([unknown.status, unknown.body.error.field]).toEqual([400, 'query.cursor']);
    const limit = await stack.api('GET', '/v1/tokens?limit=0');
    expect([limit.status, limit.body.error.field]).toEqual([400, 'query.limit']);
  });

  it('records the last use at most once a minute, not on every request', async () => {
    const t = await create({ principal: 'busy', role: 'publisher' });
    const lastUsed = async () => (await listAll()).find((x) => x.tokenId === t.tokenId)!.lastUsedAt as string | null;
    expect(await lastUsed()).toBeNull();
    expect((await asToken(t.token)).status).toBe(200);
    const first = await lastUsed();
    expect(first).not.toBeNull();
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      expect((await asToken(t.token)).status).toBe(200);
    }
    expect(await lastUsed()).toBe(first);
    clock.advance(10_000); // a minute after the first use
    expect((await asToken(t.token)).status).toBe(200);
    const second = await lastUsed();
    expect(Date.parse(second!) - Date.parse(first!)).toBeGreaterThanOrEqual(60_000);
  });
});

describe('revoking and rotating', () => {
  it('revokes a token: refused on the next request, listed as revoked, audited once; revoking again answers the same record', async () => {
    const t = await create({ principal: 'leaver', role: 'promoter' });
    expect((await asToken(t.token)).status).toBe(200);
    const res = await stack.api('POST', `/v1/tokens/${t.tokenId}/revoke`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenId: t.tokenId, principal: 'leaver', role: 'promoter', state: 'revoked', revokedBy: 'dev-admin' });
    const refused = await asToken(t.token);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatchObject({ code: 'UNAUTHENTICATED', field: 'Authorization' });
    expect(refused.body.error.message).toContain(`token ${t.tokenId} was revoked`);

    const again = await stack.api('POST', `/v1/tokens/${t.tokenId}/revoke`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    const revoked = (await events('token.revoked')).filter((e) => e.payload.tokenId === t.tokenId);
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({
      actor: 'dev-admin',
      subject: 'principal:leaver',
      payload: { tokenId: t.tokenId, principal: 'leaver', role: 'promoter', revokedAt: res.body.revokedAt },
    });
  });

  it('rotates a token: a new secret for the same principal and role, the old one revoked, audited without secrets', async () => {
    const old = await create({ principal: 'rotor', role: 'publisher' });
    const res = await stack.api('POST', `/v1/tokens/${old.tokenId}/rotate`, { expiresIn: '7d' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ principal: 'rotor', role: 'publisher', rotatedFrom: old.tokenId });
    expect(res.body.tokenId).not.toBe(old.tokenId);
    expect(Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt)).toBe(7 * DAY);
    expect((await asToken(old.token)).status).toBe(401);
    expect((await asToken(res.body.token)).status).toBe(200);
    const listed = await listAll();
    expect(listed.find((t) => t.tokenId === old.tokenId)).toMatchObject({ state: 'revoked', revokedBy: 'dev-admin' });
    expect(listed.find((t) => t.tokenId === res.body.tokenId)).toMatchObject({
      state: 'active',
      principal: 'rotor',
      createdBy: 'dev-admin',
    });

    const [rotated] = (await events('token.rotated')).filter((e) => e.payload.tokenId === old.tokenId);
    expect(rotated.payload).toEqual({
      tokenId: old.tokenId,
      newTokenId: res.body.tokenId,
      principal: 'rotor',
      role: 'publisher',
      expiresAt: res.body.expiresAt,
    });
    const everything = JSON.stringify(await events('token.rotated')) + JSON.stringify(await events('token.created'));
    for (const secret of [old.token, res.body.token]) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(sha256Hex(secret));
    }
    // and the created event now names the token and its expiry
    const [created] = (await events('token.created')).filter((e) => e.payload.tokenId === old.tokenId);
    expect(created.payload).toEqual({ principal: 'rotor', role: 'publisher', tokenId: old.tokenId, expiresAt: old.expiresAt });
  });

  it('refuses to rotate a revoked token (409), and answers 404 naming tokenId for a token that does not exist', async () => {
    const t = await create({ principal: 'gone', role: 'publisher' });
    await stack.api('POST', `/v1/tokens/${t.tokenId}/revoke`);
    const conflict = await stack.api('POST', `/v1/tokens/${t.tokenId}/rotate`, {});
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({ code: 'CONFLICT', field: 'tokenId' });
    const missing = `tok_${'f'.repeat(16)}`;
    for (const action of ['revoke', 'rotate']) {
      const res = await stack.api('POST', `/v1/tokens/${missing}/${action}`, {});
      expect([action, res.status, res.body.error.code, res.body.error.field]).toEqual([action, 404, 'NOT_FOUND', 'tokenId']);
      expect(res.body.error.message).toContain(missing);
    }
    const malformed = await stack.api('POST', '/v1/tokens/not-a-token/revoke');
    expect([malformed.status, malformed.body.error.field]).toEqual([400, 'tokenId']);
    const badBody = await stack.api('POST', `/v1/tokens/${missing}/rotate`, { expiresIn: '400d' });
    expect([badBody.status, badBody.body.error.field]).toEqual([400, 'expiresIn']);
  });

  it('lets only admins list, create, revoke and rotate tokens', async () => {
    const other = await create({ principal: 'victim', role: 'publisher' });
    for (const role of ['publisher', 'promoter', 'approver', 'operator', 'auditor']) {
      const { token } = await create({ principal: `not-admin-${role}`, role });
      const calls = [
        await stack.api('GET', '/v1/tokens', undefined, { token }),
        await stack.api('POST', '/v1/tokens', { principal: 'x', role: 'admin' }, { token }),
        await stack.api('POST', `/v1/tokens/${other.tokenId}/revoke`, undefined, { token }),
        await stack.api('POST', `/v1/tokens/${other.tokenId}/rotate`, {}, { token }),
      ];
      expect([role, ...calls.map((c) => c.status)]).toEqual([role, 403, 403, 403, 403]);
    }
    expect((await asToken(other.token)).status).toBe(200);
    expect((await stack.api('GET', '/v1/tokens', undefined, { token: null })).status).toBe(401);
  });
});

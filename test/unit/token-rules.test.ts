import { formatDuration, parseDuration } from '../../lib/kernel/duration.js';
import { AegisError } from '../../lib/kernel/errors.js';
import { TokenCache } from '../../lib/modules/tokens/cache.js';
import { DEFAULT_TOKEN_TTL_SECONDS, lastUseIsStale, tokenLifetime, tokenState } from '../../lib/modules/tokens/domain.js';
import type { StoredToken } from '../../lib/modules/tokens/store.js';

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const token = (tokenId: string): StoredToken => ({
  tokenId,
  principal: 'p',
  role: 'publisher',
  createdAt: at(0),
  createdBy: 'admin',
  expiresAt: at(86_400_000),
  lastUsedAt: null,
  revokedAt: null,
  revokedBy: null,
  scope: null,
});

describe('token rules', () => {
  it('reads durations in minutes, hours and days, and nothing else', () => {
    expect(['90m', '12h', '30d', '365d'].map(parseDuration)).toEqual([5400, 43_200, 2_592_000, 31_536_000]);
    expect(['', '0d', '30', '1y', '1.5d', ' 1d', '01d', '-1d', '1D'].map(parseDuration)).toEqual(Array(9).fill(undefined));
    expect([31_536_000, 43_200, 5400, 61].map(formatDuration)).toEqual(['365d', '12h', '90m', '61s']);
  });

  it('gives 90 days by default (or the maximum when lower) and refuses more than the maximum, naming expiresIn', () => {
    expect(tokenLifetime(undefined, { maxTtlSeconds: 365 * 86_400 })).toBe(DEFAULT_TOKEN_TTL_SECONDS);
    expect(tokenLifetime(undefined, { maxTtlSeconds: 86_400 })).toBe(86_400);
    expect(tokenLifetime('1d', { maxTtlSeconds: 86_400 })).toBe(86_400);
    for (const bad of ['25h', 'tomorrow']) {
      let e: unknown;
      try {
        tokenLifetime(bad, { maxTtlSeconds: 86_400 });
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(AegisError);
      expect(e).toMatchObject({ code: 'VALIDATION_FAILED', field: 'expiresIn' });
    }
  });

  it('says a token is revoked before it says it expired, and expired from its expiry on', () => {
    const t = token('tok_1');
    expect(tokenState(t, at(86_400_000 - 1))).toBe('active');
    expect(tokenState(t, at(86_400_000))).toBe('expired');
    expect(tokenState({ ...t, revokedAt: at(5) }, at(10))).toBe('revoked');
    expect(tokenState({ ...t, revokedAt: at(5) }, at(86_400_001))).toBe('revoked');
  });

  it('writes a last use when none is recorded or the last is a minute old', () => {
    expect(lastUseIsStale(null, at(0))).toBe(true);
    expect(lastUseIsStale(at(0), at(59_999))).toBe(false);
    expect(lastUseIsStale(at(0), at(60_000))).toBe(true);
  });

  it('caches a read for less than its ttl, forgets a token on demand, and caches nothing with ttl 0', () => {
    const cache = new TokenCache(5000);
    cache.set('h1', token('tok_1'), at(0));
    cache.set('h2', token('tok_2'), at(0));
    expect(cache.get('h1', at(4999))?.tokenId).toBe('tok_1');
    expect(cache.get('h1', at(5000))).toBeUndefined();
    cache.forget('tok_2');
    expect(cache.get('h2', at(1))).toBeUndefined();
    const off = new TokenCache(0);
    off.set('h1', token('tok_1'), at(0));
    expect(off.get('h1', at(0))).toBeUndefined();
  });
});

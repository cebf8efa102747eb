import { leaseDecision, leaseExpiry, revokedHolder, secondsUntilDue } from '../../lib/modules/rollout/lease.js';

const at = (s: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, s));

describe('the rollout lease decision', () => {
  it('gives a free rollout token 1, renews the holder without raising the token, and refuses another runner while the lease holds', () => {
    expect(leaseDecision(undefined, 'a', at(0))).toEqual({ kind: 'acquire', token: 1, takenFrom: null });
    const held = { holder: 'a', token: 1, expiresAt: at(30), dueAt: at(20) };
    expect(leaseDecision(held, 'a', at(29))).toEqual({ kind: 'renew', token: 1 });
    expect(leaseDecision(held, 'b', at(29))).toEqual({ kind: 'refuse', holder: 'a', token: 1, expiresAt: at(30) });
  });

  it('lets another runner take an expired lease with a higher token (the fence against the previous holder), from the expiry instant on', () => {
    const held = { holder: 'a', token: 4, expiresAt: at(30), dueAt: null };
    expect(leaseDecision(held, 'b', at(30))).toEqual({ kind: 'acquire', token: 5, takenFrom: 'a' });
    // the previous holder coming back after that is refused by the new token, not renewed
    expect(leaseDecision({ holder: 'b', token: 5, expiresAt: at(60), dueAt: null }, 'a', at(31))).toMatchObject({
      kind: 'refuse',
      holder: 'b',
      token: 5,
    });
  });

  it('refuses the runner a lease was taken away from, expired or not, and lets any other runner take it', () => {
    const revoked = { holder: revokedHolder('a'), token: 4, expiresAt: at(30), dueAt: null };
    expect(leaseDecision(revoked, 'a', at(31))).toEqual({ kind: 'refuse', holder: 'revoked:a', token: 4, expiresAt: at(30) });
    expect(leaseDecision(revoked, 'b', at(31))).toEqual({ kind: 'acquire', token: 5, takenFrom: 'revoked:a' });
  });

  it('holds through the wait after a step plus the lease seconds, and tells a successor what is left of the wait', () => {
    expect(leaseExpiry(at(0), 20, 30)).toEqual(at(50));
    expect(leaseExpiry(at(0), -5, 30)).toEqual(at(30));
    expect(secondsUntilDue(at(20), at(5))).toBe(15);
    expect(secondsUntilDue(at(20), at(25))).toBe(0);
    expect(secondsUntilDue(null, at(25))).toBeUndefined();
  });
});

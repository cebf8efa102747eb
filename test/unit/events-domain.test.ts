import fc from 'fast-check';
import { AUDIT_EVENT_TYPES } from '../../lib/kernel/audit-chain.js';
import { filterText, matchesFilters, MAX_RETRY_DELAY_MS, parseFilters, retryDelayMs } from '../../lib/modules/events/domain.js';

const known = [...AUDIT_EVENT_TYPES];

describe('subscription filters', () => {
  it('parses types, prefixes and * as written, and writes them back the same', () => {
    const f = parseFilters(['promotion.rolled_back', 'drift.*', '*', 'drift.*'], known);
    expect(f).toEqual([
      { pattern: 'promotion.rolled_back', prefix: false },
      { pattern: 'drift.', prefix: true },
      { pattern: '', prefix: true },
    ]);
    expect(f.map(filterText)).toEqual(['promotion.rolled_back', 'drift.*', '*']);
  });

  it('refuses an unknown type or a prefix matching none, naming the entry', () => {
    expect(() => parseFilters(['*', 'promotion.nothing'], known)).toThrow(expect.objectContaining({ field: 'events[1]' }));
    expect(() => parseFilters(['nothing.*'], known, 'query.type')).toThrow(expect.objectContaining({ field: 'query.type[0]' }));
    // a prefix is whole segments: `promo.*` is not `promotion.*`
    expect(() => parseFilters(['promo.*'], known)).toThrow(/matches no event type/);
  });

  it('matches exactly the types a filter names or prefixes', () => {
    fc.assert(
      fc.property(fc.constantFrom(...known), fc.constantFrom(...known), (wanted, type) => {
        const area = `${wanted.split('.')[0]}.*`;
        expect(matchesFilters(type, parseFilters([wanted], known))).toBe(type === wanted);
        expect(matchesFilters(type, parseFilters([area], known))).toBe(type.startsWith(area.slice(0, -1)));
        expect(matchesFilters(type, parseFilters(['*'], known))).toBe(true);
      }),
    );
  });
});

describe('retry delays', () => {
  it('double from the base per attempt, up to 15 minutes, less at most a fifth of jitter', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, 2000, 0))).toEqual([2000, 4000, 8000, 16000]);
    expect(retryDelayMs(30, 2000, 0)).toBe(MAX_RETRY_DELAY_MS);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 10, max: 600_000 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (attempts, base, jitter) => {
          const full = Math.min(MAX_RETRY_DELAY_MS, base * 2 ** (attempts - 1));
          const d = retryDelayMs(attempts, base, jitter);
          expect(d).toBeLessThanOrEqual(full);
          expect(d).toBeGreaterThanOrEqual(Math.floor(full * 0.8));
        },
      ),
    );
  });
});

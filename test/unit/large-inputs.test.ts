import { RecordedMetricsSource } from '../../lib/platform/adapters/canary-metrics/recorded.js';
import { appendAll } from '../../lib/kernel/arrays.js';

/** Nothing proportional to external input goes through a spread (argument count) or recursion (stack). */
describe('input-proportional work without spreads', () => {
  it('loads a canary metrics recording of 300k samples', async () => {
    const at = '2026-11-22T10:00:00.000Z';
    const samples = Array.from({ length: 300_000 }, (_, i) => ({
      deploymentKey: 'm/prod',
      variant: i % 2 ? 'canary' : 'stable',
      at,
      latencyMs: i % 97,
      error: i % 50 === 0,
    }));
    const source = RecordedMetricsSource.fromJson(JSON.stringify({ samples }));
    const w = await source.window('m/prod', 'canary', null, new Date('2026-11-22T09:00:00Z'), new Date('2026-11-22T11:00:00Z'));
    expect(w.requests).toBe(150_000);
    expect(w.latenciesMs).toHaveLength(150_000);
    const direct = new RecordedMetricsSource(samples as never);
    expect(
      (await direct.window('m/prod', 'stable', null, new Date('2026-11-22T09:00:00Z'), new Date('2026-11-22T11:00:00Z'))).requests,
    ).toBe(150_000);
  });

  it('appendAll appends any number of items in order', () => {
    const big = Array.from({ length: 500_000 }, (_, i) => i);
    const target = [-1];
    expect(appendAll(target, big)).toBe(target);
    expect(target).toHaveLength(500_001);
    expect(target[500_000]).toBe(499_999);
    expect(appendAll([1], new Set([2, 3]).values())).toEqual([1, 2, 3]);
  });
});

/**
 * How `aegis canary status` and `aegis promotions` show a strategy, its phase and a shadow
 * window's agreement (the verdict fields the rollout adds to the promotion view), and the body
 * `aegis promote`'s strategy flags make.
 */
import { formatStatus } from '../../lib/clients/cli/serving-commands.js';
import { agreementText, describeStrategy, strategyBody } from '../../lib/clients/cli/strategy-options.js';
import type { PromotionReply, ServingStatusReply } from '../../lib/platform/http/schemas.js';

const variant = {
  artifactId: null,
  requests: 0,
  errors: 0,
  errorRate: null,
  latencyMs: { p50: null, p95: null, p99: null },
  quality: null,
};
const status: ServingStatusReply = {
  model: 'scorer',
  env: 'prod',
  percent: 0,
  promotionId: 'p-1',
  promotionStatus: 'rolling_out',
  window: { from: '2026-11-30T11:00:00.000Z', to: '2026-11-30T12:00:00.000Z' },
  variants: { stable: variant, canary: variant },
  verdicts: [
    {
      seq: 1,
      stageName: 'shadow',
      percent: 0,
      verdict: 'pass',
      reason: 'pass',
      next: 'wait',
      detail: '',
      judgedAt: '2026-11-30T11:10:00.000Z',
    },
    {
      seq: 2,
      stageName: 'canary stage 1 of 3',
      percent: 5,
      verdict: 'pass',
      reason: 'pass',
      next: 'step-up',
      detail: '',
      judgedAt: '2026-11-30T11:20:00.000Z',
    },
  ],
};
const shadow = { percent: 50, windows: 2, minAgreement: 0.9, then: 'canary' as const };
const canary = { percent: 5, windowSeconds: 600, steps: 3, rollbackThreshold: 0.02, maxInconclusive: 3 };
const verdict = (seq: number, extra: Partial<PromotionReply['verdicts'][number]>) =>
  ({ seq, ...extra }) as PromotionReply['verdicts'][number];
const rollout = { stage: null, stageName: 'shadow window 2 of 2 at 50 % mirrored', percent: 0, inconclusive: 0, windowSeconds: 600 };

describe('aegis canary status with the promotion of the route', () => {
  it('shows the strategy and phase, and each shadow window with its agreement (compared / agreed / rate)', () => {
    const text = formatStatus(status, {
      canary: { ...canary, strategy: 'shadow', shadow },
      rollout: { ...rollout, phase: 'shadow', shadowPassed: 1 },
      verdicts: [verdict(1, { phase: 'shadow', agreement: { compared: 400, agreed: 380, rate: 0.95 } }), verdict(2, {})],
    });
    expect(text.split('\n')).toEqual(
      expect.arrayContaining([
        '  strategy shadow: 50% mirrored, 2 passing window(s) at agreement >= 90.00%, then canary',
        '  phase shadow (1 of 2 window(s) passed): shadow window 2 of 2 at 50 % mirrored',
        '    #1 2026-11-30T11:10:00.000Z shadow at 0% [shadow]: pass (pass) → wait agreement 400 compared / 380 agreed / 95.00%',
        '    #2 2026-11-30T11:20:00.000Z canary stage 1 of 3 at 5%: pass (pass) → step-up',
      ]),
    );
  });

  it('reads promotions without the new fields (older servers, canary records) as a canary with no phase', () => {
    const text = formatStatus(status, { canary, rollout: { ...rollout, stage: 0, stageName: 'canary stage 1 of 3 at 5 %' }, verdicts: [] });
    expect(text).toContain('  strategy canary\n  phase canary: canary stage 1 of 3 at 5 %');
    expect(text).toContain('    #1 2026-11-30T11:10:00.000Z shadow at 0%: pass (pass) → wait\n');
    expect(formatStatus(status)).not.toMatch(/strategy|phase/);
  });

  it('says n/a for a window where nothing was compared, and shows a blue-green with its settings', () => {
    expect(agreementText({ agreement: { compared: 0, agreed: 0, rate: null } })).toBe(' agreement 0 compared / 0 agreed / n/a');
    expect(agreementText(undefined)).toBe('');
    expect(
      describeStrategy({
        canary: { ...canary, strategy: 'blue-green', blueGreen: { holdSeconds: 900, warmUpRequests: 20 } },
        rollout: { ...rollout, phase: 'hold', stageName: 'blue-green hold' },
      }),
    ).toEqual(['  strategy blue-green: 20 warm-up requests, blue held 900 s after the switch', '  phase hold: blue-green hold']);
  });
});

describe('aegis promote strategy flags', () => {
  it('sends only what was given, with numbers as numbers', () => {
    expect(strategyBody({})).toEqual({});
    expect(strategyBody({ strategy: 'shadow', shadowPercent: '25', minAgreement: '0.95', then: 'promote' })).toEqual({
      strategy: 'shadow',
      shadow: { percent: 25, minAgreement: 0.95, then: 'promote' },
    });
    expect(strategyBody({ strategy: 'blue-green', holdSeconds: '0', warmUpRequests: '5' })).toEqual({
      strategy: 'blue-green',
      blueGreen: { holdSeconds: 0, warmUpRequests: 5 },
    });
  });

  it('names the flag of a bad value', () => {
    expect(() => strategyBody({ strategy: 'shadow', shadowWindows: '21' })).toThrow(/^--shadow-windows: /);
    expect(() => strategyBody({ strategy: 'blue-green', shadowWindows: '2' })).toThrow(
      '--shadow-windows is a setting of --strategy shadow (the strategy is blue-green)',
    );
  });
});

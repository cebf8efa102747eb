/**
 * The rollout strategy on the command line (issue 19): `aegis promote --strategy …` with the
 * shadow and blue-green settings, checked before any request, and how a promotion's strategy,
 * phase and shadow agreement read in `aegis promotions` and `aegis canary status`.
 */
import { Option, type Command } from 'commander';
import type * as z from 'zod';
import { PromoteBody, type PromotionReply, type VerdictReply } from '../../platform/http/schemas.js';
import { CliError } from './context.js';

export interface StrategyFlags {
  strategy?: string;
  shadowPercent?: string;
  shadowWindows?: string;
  minAgreement?: string;
  then?: string;
  holdSeconds?: string;
  warmUpRequests?: string;
}

/** The flag of each body field, for errors that name what the caller typed. */
const FLAG: Record<string, string> = {
  strategy: '--strategy',
  'shadow.percent': '--shadow-percent',
  'shadow.windows': '--shadow-windows',
  'shadow.minAgreement': '--min-agreement',
  'shadow.then': '--then',
  'blueGreen.holdSeconds': '--hold-seconds',
  'blueGreen.warmUpRequests': '--warm-up-requests',
};

export function addStrategyOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--strategy <strategy>', 'how the candidate meets traffic (default canary)').choices(['canary', 'shadow', 'blue-green']),
    )
    .option('--shadow-percent <n>', 'shadow: share of requests mirrored to the candidate, 1-100 (default 100)')
    .option('--shadow-windows <n>', 'shadow: passing windows before it moves on (default 1)')
    .option('--min-agreement <fraction>', 'shadow: least share of mirrored answers equal to the stable one, 0-1 (default 0.9)')
    .addOption(
      new Option('--then <next>', 'shadow: after it passes, the canary stages or 100 % at once (default canary)').choices([
        'canary',
        'promote',
      ]),
    )
    .option('--hold-seconds <n>', 'blue-green: seconds blue stays routable after the switch (default 600)')
    .option('--warm-up-requests <n>', 'blue-green: warm-up requests green must all answer before the switch (default 20)');
}

const number = (flag: string, v: string | undefined, integer: boolean): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !/^\s*-?\d+\s*$/.test(v)))
    throw new CliError(`${flag} ${v}: not ${integer ? 'a whole number' : 'a number'}`, 2);
  return n;
};

type StrategyBody = Pick<z.input<typeof PromoteBody>, 'strategy' | 'shadow' | 'blueGreen'>;

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * The body fields of the strategy flags (none given: none sent, the server's canary). Settings of
 * another strategy, and values the API would refuse, are a CliError naming the flag.
 *
 * @example strategyBody({ strategy: 'shadow', minAgreement: '0.95' }) // { strategy: 'shadow', shadow: { minAgreement: 0.95 } }
 */
export function strategyBody(o: StrategyFlags): StrategyBody {
  const shadow = defined({
    percent: number('--shadow-percent', o.shadowPercent, true),
    windows: number('--shadow-windows', o.shadowWindows, true),
    minAgreement: number('--min-agreement', o.minAgreement, false),
    then: o.then,
  });
  const blueGreen = defined({
    holdSeconds: number('--hold-seconds', o.holdSeconds, true),
    warmUpRequests: number('--warm-up-requests', o.warmUpRequests, true),
  });
  const strategy = o.strategy ?? 'canary';
  for (const [settings, own, prefix] of [
    [shadow, 'shadow', 'shadow'],
    [blueGreen, 'blue-green', 'blueGreen'],
  ] as const) {
    const first = Object.keys(settings)[0];
    if (first && strategy !== own)
      throw new CliError(`${FLAG[`${prefix}.${first}`]} is a setting of --strategy ${own} (the strategy is ${strategy})`, 2);
  }
  const body = defined({
    strategy: o.strategy,
    shadow: Object.keys(shadow).length ? shadow : undefined,
    blueGreen: Object.keys(blueGreen).length ? blueGreen : undefined,
  });
  const parsed = PromoteBody.safeParse({ targetEnv: 'staging', reason: 'check', ...body });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.');
    throw new CliError(`${FLAG[field] ?? field}: ${issue.message}`, 2);
  }
  return body as StrategyBody;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/** A judged shadow window's agreement, as ` agreement 1000 compared / 950 agreed / 95.00%` (empty: none recorded). */
export const agreementText = (v: Pick<VerdictReply, 'agreement'> | undefined): string =>
  v?.agreement
    ? ` agreement ${v.agreement.compared} compared / ${v.agreement.agreed} agreed / ${v.agreement.rate === null || v.agreement.rate === undefined ? 'n/a' : pct(v.agreement.rate)}`
    : '';

/** The promotion's strategy with its settings, and where its rollout is (its phase): one line each. */
export function describeStrategy(p: Pick<PromotionReply, 'canary' | 'rollout'>): string[] {
  const c = p.canary;
  const strategy = c.strategy ?? 'canary';
  const settings =
    strategy === 'shadow' && c.shadow
      ? `: ${c.shadow.percent}% mirrored, ${c.shadow.windows} passing window(s) at agreement >= ${pct(c.shadow.minAgreement)}, then ${c.shadow.then}`
      : strategy === 'blue-green' && c.blueGreen
        ? `: ${c.blueGreen.warmUpRequests} warm-up requests, blue held ${c.blueGreen.holdSeconds} s after the switch`
        : '';
  const lines = [`  strategy ${strategy}${settings}`];
  const r = p.rollout;
  if (r) {
    const passed = r.phase === 'shadow' && c.shadow ? ` (${r.shadowPassed ?? 0} of ${c.shadow.windows} window(s) passed)` : '';
    lines.push(`  phase ${r.phase ?? (r.stage === null ? 'none' : 'canary')}${passed}: ${r.stageName}`);
  }
  return lines;
}

import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { FEEDBACK_MAX_ITEMS } from '../../modules/serving/feedback.js';
import type { PromotionReply, ServingStatusReply } from '../../platform/http/schemas.js';
import { CliError, type CliContext } from './context.js';
import { agreementText, describeStrategy } from './strategy-options.js';

interface Item {
  requestId: unknown;
  label: unknown;
}

/**
 * The labels of a feedback file: a JSON array of `{ requestId, label }`, a JSON object with
 * such `items`, or JSON Lines of them (one object a line).
 */
export function parseFeedbackFile(text: string, path: string): Item[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new CliError(`--input ${path}: no labels`, 2);
  let items: unknown;
  try {
    const whole = JSON.parse(trimmed) as unknown;
    items = Array.isArray(whole) ? whole : (whole as { items?: unknown }).items;
  } catch {
    items = trimmed.split('\n').flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        return [JSON.parse(line) as unknown];
      } catch {
        throw new CliError(`--input ${path}: line ${i + 1} is not JSON`, 2);
      }
    });
  }
  if (!Array.isArray(items))
    throw new CliError(`--input ${path}: expected an array of { requestId, label }, { items: [...] }, or JSON Lines`, 2);
  return items.map((it, i) => {
    if (it === null || typeof it !== 'object' || !('requestId' in it) || !('label' in it))
      throw new CliError(`--input ${path}: item ${i} must be an object with requestId and label`, 2);
    return { requestId: (it as Item).requestId, label: (it as Item).label };
  });
}

const ENVS = ['staging', 'canary', 'prod'];
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}%`);
const ms = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)} ms`);

/**
 * The human form of a deployment's status; with the route's promotion, also its strategy and
 * phase, and each judged window's phase and shadow agreement (fields older servers do not send).
 */
export function formatStatus(s: ServingStatusReply, promotion?: Pick<PromotionReply, 'canary' | 'rollout' | 'verdicts'>): string {
  const lines = [
    `${s.model} in ${s.env}: canary ${s.percent}%  promotion ${s.promotionId ?? '-'} (${s.promotionStatus ?? '-'})`,
    ...(promotion ? describeStrategy(promotion) : []),
    `  window ${s.window.from} .. ${s.window.to}`,
  ];
  for (const name of ['stable', 'canary'] as const) {
    const v = s.variants[name];
    if (!v.artifactId) {
      lines.push(`  ${name.padEnd(6)}  (none)`);
      continue;
    }
    const q = v.quality ? `${pct(v.quality.rate)} of ${v.quality.labelled} labelled` : '-';
    lines.push(
      `  ${name.padEnd(6)}  ${v.artifactId}  requests ${v.requests}  errors ${v.errors} (${pct(v.errorRate)})  p50 ${ms(v.latencyMs.p50)}  p95 ${ms(v.latencyMs.p95)}  p99 ${ms(v.latencyMs.p99)}  quality ${q}`,
    );
  }
  if (s.verdicts.length) lines.push('  last verdicts:');
  for (const v of s.verdicts) {
    const judged = promotion?.verdicts?.find((p) => p.seq === v.seq);
    const phase = judged?.phase ? ` [${judged.phase}]` : '';
    lines.push(
      `    #${v.seq} ${v.judgedAt} ${v.stageName} at ${v.percent}%${phase}: ${v.verdict} (${v.reason}) → ${v.next}${agreementText(judged)}`,
    );
  }
  return lines.join('\n');
}

/** feedback (labels of served requests) and canary status. */
export function servingCommands(program: Command, ctx: CliContext): void {
  program
    .command('feedback')
    .description(`send ground-truth labels of served requests (sent in batches of ${FEEDBACK_MAX_ITEMS}; a label sent again is a no-op)`)
    .requiredOption('--model <model>', 'the model')
    .addOption(new Option('--env <env>', 'the environment that served them').choices(ENVS).makeOptionMandatory())
    .requiredOption('--input <file>', 'JSON array of { requestId, label }, { "items": [...] }, or JSON Lines')
    .action(async (o: { model: string; env: string; input: string }) => {
      const text = await readFile(o.input, 'utf8').catch((e: NodeJS.ErrnoException) => {
        throw new CliError(`cannot read --input ${o.input}: ${e.code ?? e.message}`, 2);
      });
      const items = parseFeedbackFile(text, o.input);
      const client = await ctx.client();
      const path = `/v1/serving/${encodeURIComponent(o.model)}/${encodeURIComponent(o.env)}/feedback`;
      const total = { accepted: 0, unchanged: 0 };
      for (let i = 0; i < items.length; i += FEEDBACK_MAX_ITEMS) {
        const r = await client.request<{ accepted: number; unchanged: number }>('POST', path, {
          items: items.slice(i, i + FEEDBACK_MAX_ITEMS),
        });
        total.accepted += r.accepted;
        total.unchanged += r.unchanged;
      }
      ctx.out(`${o.model} in ${o.env}: ${total.accepted} labels stored, ${total.unchanged} already stored`, {
        model: o.model,
        env: o.env,
        items: items.length,
        ...total,
      });
    });

  program
    .command('canary')
    .description('served canaries')
    .command('status')
    .description(
      "the split, per-variant requests, error rates, latency p50/p95/p99 and quality, the route's promotion (strategy, phase) and its last verdicts with shadow agreement",
    )
    .requiredOption('--model <model>', 'the model')
    .addOption(new Option('--env <env>', 'the environment').choices(ENVS).makeOptionMandatory())
    .option('--window <minutes>', 'minutes the counts cover, ending now', '60')
    .action(async (o: { model: string; env: string; window: string }) => {
      if (!/^\d+$/.test(o.window)) throw new CliError('--window must be a whole number of minutes', 2);
      const path = `/v1/serving/${encodeURIComponent(o.model)}/${encodeURIComponent(o.env)}/status?windowMinutes=${o.window}`;
      const api = await ctx.client();
      const s = await api.request<ServingStatusReply>('GET', path);
      const promotion = s.promotionId
        ? await api.request<PromotionReply>('GET', `/v1/promotions/${encodeURIComponent(s.promotionId)}`)
        : undefined;
      ctx.out(formatStatus(s, promotion), promotion ? { ...s, promotion } : s);
    });
}

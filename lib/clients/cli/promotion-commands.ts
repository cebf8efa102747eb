import { Option, type Command } from 'commander';
import type { ArtifactReply, PromotionReply, PromotionsReply, PromotionSummaryReply, VerdictReply } from '../../platform/http/schemas.js';
import { signApproval } from './approval-signing.js';
import { CliError, type CliContext } from './context.js';
import { promotionAbortCommand } from './promotion-abort-command.js';
import { addStrategyOptions, agreementText, describeStrategy, strategyBody, type StrategyFlags } from './strategy-options.js';

/** A promotion as its history lists it, or in full (`--id`, and every change) with its judged windows and trace. */
type Promotion = PromotionSummaryReply & Partial<Pick<PromotionReply, 'trace' | 'verdicts'>>;

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const p3 = (v: number) => v.toPrecision(3);
const msOf = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(1)} ms`);

/** One judged window in a few lines: the verdict and why, then each arm's numbers and the tests. */
function describeVerdict(v: VerdictReply): string[] {
  const head = `  window ${v.seq}  ${v.stageName} at ${v.percent}%  ${v.from} → ${v.to}  ${v.verdict.toUpperCase()} (${v.reason}) → ${v.next}${agreementText(v)}`;
  const m = v.judgement?.metrics;
  const arm = (name: 'stable' | 'canary') => {
    const err = v.errors ? ` ${v.errors[name]} errors (${pct(v.errors[name] / Math.max(1, v.requests[name]))})` : '';
    const lat = m?.latency ? `, p95 ${msOf(m.latency[name].p95)} p99 ${msOf(m.latency[name].p99)}` : '';
    const q = m?.quality ? `, quality ${pct(m.quality[name])} of ${m.quality.labelled[name]} labels` : '';
    return `    ${name.padEnd(6)} ${v.requests[name]} requests${err}${lat}${q}`;
  };
  const tests = m
    ? [
        `    tests  errors ${m.errorRate?.test ?? '?'} p=${m.errorRate ? p3(m.errorRate.pValue) : '?'}, latency Mann–Whitney (${m.latency?.source ?? '?'}) p=${m.latency ? p3(m.latency.pValue) : '?'}` +
          `${m.quality?.judged ? `, quality p=${p3(m.quality.pValue)} (drop ${pct(m.quality.relativeDrop)})` : ''}` +
          `${m.guardrails?.sampleRatio?.checked ? `, sample ratio p=${p3(m.guardrails.sampleRatio.pValue)}` : ''}` +
          `${v.judgement?.significance ? `; alpha ${p3(v.judgement.significance.perComparison)} each` : ''}`,
      ]
    : [];
  return [head, arm('stable'), arm('canary'), ...tests, ...(v.verdict === 'pass' ? [] : [`    ${v.detail}`])];
}

const describe = (p: Promotion) =>
  [
    `${p.promotionId}  ${p.modelName} → ${p.targetEnv}  ${p.status.toUpperCase()}`,
    `  decision ${p.policyDecision.decision} (${p.policyDecision.rules.join(', ')})`,
    ...(p.threshold
      ? [
          `  approvals ${p.approvals.filter((a) => a.valid !== false).length}/${p.threshold}: ${p.approvals.map((a) => `${a.approverId}${a.valid === false ? ' (no longer counts)' : ''}`).join(', ') || 'none yet'}`,
        ]
      : []),
    ...(p.rollout ? [`  rollout: ${p.rollout.stageName ?? `stage ${p.rollout.stage ?? 'none'}, ${p.rollout.percent}%`}`] : []),
    ...(p.kind === 'promote' && (p.canary.strategy ?? 'canary') !== 'canary' ? describeStrategy(p) : []),
    ...(p.verdicts ?? []).flatMap(describeVerdict),
    ...(p.trace ?? []).map((t) => `  ${String(t.step).padStart(3)} ${t.enteredAt} ${t.state}${t.error ? `  ERROR ${t.error}` : ''}`),
  ].join('\n');

/** promote, rollback, promotions, approve, abort, keys generate|add. */
export function promotionCommands(program: Command, ctx: CliContext): void {
  const promote = program
    .command('promote')
    .description('promote an artifact to an environment (policy-gated; 3-of-5 approvals when SentinelNet asks)')
    .option('--artifact-id <id>', 'the artifact')
    .option('--model <name>', 'or a model …')
    .option('--version <n>', '… and version')
    .addOption(new Option('--env <env>', 'target environment').choices(['staging', 'canary', 'prod']).makeOptionMandatory())
    .requiredOption('--reason <text>', 'why (recorded and audited)')
    .option('--canary-percent <n>', 'first canary percent')
    .option('--canary-steps <n>', 'canary stages before full promotion (0: none)')
    .option('--canary-window <seconds>', 'seconds per judged window')
    .option('--rollback-threshold <fraction>', 'relative quality drop that rolls the canary back when significant (default 0.02)')
    .option('--min-requests <n>', 'requests each arm needs before a window can pass or fail (default 200)')
    .option(
      '--min-labelled <n>',
      'labelled predictions (feedback) each arm needs: every window is then judged on quality, inconclusive until both have them',
    )
    .option('--max-inconclusive <n>', 'inconclusive windows per stage before rolling back with insufficient-traffic (default 3)');
  addStrategyOptions(promote).action(
    async (
      o: StrategyFlags & {
        artifactId?: string;
        model?: string;
        version?: string;
        env: string;
        reason: string;
        canaryPercent?: string;
        canarySteps?: string;
        canaryWindow?: string;
        rollbackThreshold?: string;
        minRequests?: string;
        minLabelled?: string;
        maxInconclusive?: string;
      },
    ) => {
      if (!o.artifactId === !(o.model && o.version)) throw new CliError('give --artifact-id, or --model and --version', 2);
      const num = (flag: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (v.trim() === '' || !Number.isFinite(n)) throw new CliError(`${flag} ${v}: not a number`, 2);
        return n;
      };
      const given = {
        percent: num('--canary-percent', o.canaryPercent),
        steps: num('--canary-steps', o.canarySteps),
        windowSeconds: num('--canary-window', o.canaryWindow),
        rollbackThreshold: num('--rollback-threshold', o.rollbackThreshold),
        minRequests: num('--min-requests', o.minRequests),
        minLabelled: num('--min-labelled', o.minLabelled),
        maxInconclusive: num('--max-inconclusive', o.maxInconclusive),
      };
      const canary = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
      const strategy = strategyBody(o);
      const path = o.artifactId
        ? `/v1/artifacts/${encodeURIComponent(o.artifactId)}/promote`
        : `/v1/registry/models/${encodeURIComponent(o.model!)}/versions/${encodeURIComponent(o.version!)}/promote`;
      const p = await (
        await ctx.client()
      ).request<PromotionReply>('POST', path, {
        targetEnv: o.env,
        reason: o.reason,
        ...(Object.keys(canary).length ? { canary } : {}),
        ...strategy,
      });
      // a warning, not an error: the promotion went ahead
      for (const w of p.warnings ?? []) process.stderr.write(`aegis: warning: ${w}\n`);
      ctx.out(
        `${describe(p)}${p.status === 'pending_multisig' ? `\n  waiting for approvals: aegis approve --promotion ${p.promotionId} --key <file> --kid <approver key id>` : ''}`,
        p,
      );
    },
  );

  promotionAbortCommand(program, ctx, describe);

  program
    .command('rollback')
    .description('roll an environment back to an earlier artifact (policy-checked; multisig when --critical)')
    .requiredOption('--model <name>', 'model')
    .addOption(new Option('--env <env>', 'environment').choices(['staging', 'canary', 'prod']).makeOptionMandatory())
    .requiredOption('--to <artifactId>', 'the earlier artifact to serve again')
    .requiredOption('--reason <text>', 'why')
    .option('--critical', 'a critical rollback (SentinelNet may require multisig)', false)
    .action(async (o: { model: string; env: string; to: string; reason: string; critical: boolean }) => {
      const p = await (
        await ctx.client()
      ).request<PromotionReply>('POST', `/v1/registry/models/${encodeURIComponent(o.model)}/rollback`, {
        targetEnv: o.env,
        toArtifactId: o.to,
        reason: o.reason,
        critical: o.critical,
      });
      ctx.out(describe(p), p);
    });

  program
    .command('promotions')
    .description("a promotion with its approvals and rollout trace (--id), or an artifact's history (--artifact-id)")
    .option('--id <promotionId>', 'one promotion')
    .option('--artifact-id <id>', 'every promotion of an artifact')
    .action(async (o: { id?: string; artifactId?: string }) => {
      if (!o.id === !o.artifactId) throw new CliError('give exactly one of --id or --artifact-id', 2);
      const api = await ctx.client();
      if (o.id) {
        const p = await api.request<PromotionReply>('GET', `/v1/promotions/${encodeURIComponent(o.id)}`);
        return ctx.out(describe(p), p);
      }
      const r = await api.request<PromotionsReply>('GET', `/v1/artifacts/${encodeURIComponent(o.artifactId!)}/promotions`);
      ctx.out([`${r.items.length} promotion(s)`, ...r.items.map(describe)].join('\n'), r);
    });

  program
    .command('approve')
    .description('sign an approval locally with your approver key and send only the signature')
    .requiredOption('--promotion <id>', 'the promotion')
    .requiredOption('--key <file>', 'your Ed25519 private key (PEM, from aegis keys generate)')
    .requiredOption('--kid <id>', 'your enrolled approver key id')
    .option('--expires-in <duration>', 'how long the approval stays valid (max 7d)', '24h')
    .action(async (o: { promotion: string; key: string; kid: string; expiresIn: string }) => {
      const api = await ctx.client();
      const p = await api.request<PromotionReply>('GET', `/v1/promotions/${encodeURIComponent(o.promotion)}`);
      const { manifestSha256 } = await api.request<ArtifactReply>('GET', `/v1/artifacts/${encodeURIComponent(p.artifactId)}`);
      const body = await signApproval(
        { promotionId: p.promotionId, artifactId: p.artifactId, manifestSha256, targetEnv: p.targetEnv },
        o,
        `${p.modelName} → ${p.targetEnv}`,
      );
      const after = await api.request<PromotionReply>('POST', `/v1/promotions/${encodeURIComponent(p.promotionId)}/approvals`, body);
      ctx.out(describe(after), after);
    });
}

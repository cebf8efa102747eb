import type { Command } from 'commander';
import type { ArtifactReply, QuarantineReply } from '../../platform/http/schemas.js';
import { signApproval } from './approval-signing.js';
import { CliError, type CliContext } from './context.js';

const path = (artifactId: string, rest = '') => `/v1/artifacts/${encodeURIComponent(artifactId)}/quarantine${rest}`;

/** An artifact's quarantine in a few lines: the state, then each request with its approvals and effects. */
function describe(v: QuarantineReply): string {
  const q = v.quarantine;
  const head = q
    ? `${v.artifactId}  ${v.modelName}  QUARANTINED by ${q.quarantinedBy} at ${q.quarantinedAt}: ${q.reason}`
    : `${v.artifactId}  ${v.modelName}  not quarantined`;
  const requests = v.requests.flatMap((r) => [
    `  ${r.requestId}  ${r.action}  ${r.status.toUpperCase()}  by ${r.requestedBy} at ${r.createdAt}: ${r.reason}`,
    ...(r.threshold
      ? [`    approvals ${r.approvals.length}/${r.threshold}: ${r.approvals.map((a) => a.approverId).join(', ') || 'none yet'}`]
      : []),
    ...(r.status === 'pending_multisig'
      ? [`    waiting for approvals: aegis quarantine approve ${v.artifactId} --key <file> --kid <approver key id>`]
      : []),
    ...(r.action === 'quarantine' && r.status === 'applied' && r.effects === null
      ? ['    enforcement not finished (ask again to enforce it)']
      : []),
    ...(r.effects ?? []).map((e) => `    ${e.kind} ${e.env}${e.promotionId ? ` (${e.promotionId})` : ''}: ${e.detail}`),
  ]);
  return [head, ...requests].join('\n');
}

/**
 * aegis quarantine <artifactId> --reason R, and quarantine release|show|approve: stop a
 * compromised artifact (security or admin), lift it (admin, always multisig), read it, and
 * approve a pending request with a locally held approver key (as `aegis approve` does).
 */
export function quarantineCommands(program: Command, ctx: CliContext): void {
  const quarantine = program
    .command('quarantine')
    .description(
      'quarantine an artifact (security, admin): promotions to it refused, pending ones cancelled, where it serves rolled back or drained; quarantine release|show|approve',
    )
    .argument('[artifactId]', 'the artifact to quarantine')
    .option('--reason <text>', 'why (recorded, signed and audited)')
    .action(async (artifactId: string | undefined, o: { reason?: string }) => {
      if (!artifactId || !o.reason) throw new CliError('give the artifact and --reason: aegis quarantine <artifactId> --reason <text>', 2);
      const v = await (await ctx.client()).request<QuarantineReply>('POST', path(artifactId), { reason: o.reason });
      ctx.out(describe(v), v);
    });
  quarantine
    .command('release <artifactId>')
    // `--reason` is the parent's option (commander gives it to `quarantine`, whichever comes first)
    .usage('<artifactId> --reason <text>')
    .description('request the release of a quarantine (admin); applied once the approvals are in (3 of 5 by default)')
    .action(async (artifactId: string, _o: unknown, cmd: Command) => {
      const { reason } = cmd.optsWithGlobals<{ reason?: string }>();
      if (!reason) throw new CliError('give --reason: aegis quarantine release <artifactId> --reason <text>', 2);
      const v = await (await ctx.client()).request<QuarantineReply>('POST', path(artifactId, '/release'), { reason });
      ctx.out(describe(v), v);
    });
  quarantine
    .command('show <artifactId>')
    .description("an artifact's quarantine: every request, its approvals and what enforcing it did")
    .action(async (artifactId: string) => {
      const v = await (await ctx.client()).request<QuarantineReply>('GET', path(artifactId));
      ctx.out(describe(v), v);
    });
  quarantine
    .command('approve <artifactId>')
    .description("sign an approval of the artifact's pending quarantine or release request locally with your approver key")
    .requiredOption('--key <file>', 'your Ed25519 private key (PEM, from aegis keys generate)')
    .requiredOption('--kid <id>', 'your enrolled approver key id')
    .option('--expires-in <duration>', 'how long the approval stays valid (max 7d)', '24h')
    .action(async (artifactId: string, o: { key: string; kid: string; expiresIn: string }) => {
      const api = await ctx.client();
      const v = await api.request<QuarantineReply>('GET', path(artifactId));
      const pending = v.requests.find((r) => r.status === 'pending_multisig');
      if (!pending) throw new CliError(`artifact ${artifactId} has no quarantine or release request waiting for approvals`);
      const { manifestSha256 } = await api.request<ArtifactReply>('GET', `/v1/artifacts/${encodeURIComponent(artifactId)}`);
      const body = await signApproval(
        { promotionId: pending.requestId, artifactId, manifestSha256, targetEnv: `quarantine:${pending.action}` },
        o,
        `the ${pending.action} of ${v.modelName} (request ${pending.requestId})`,
      );
      const after = await api.request<QuarantineReply>(
        'POST',
        `/v1/quarantine-requests/${encodeURIComponent(pending.requestId)}/approvals`,
        body,
      );
      ctx.out(describe(after), after);
    });
}

import type { Command } from 'commander';
import type { AuditArchiveReply, AuditListReply, AuditVerifyReply } from '../../platform/http/schemas.js';
import type { CliContext } from './context.js';

const checkpointText = (r: AuditVerifyReply) =>
  r.checkpoint ? `head checkpoint seq ${r.checkpoint.seq} of ${r.checkpoint.ts}` : 'no head checkpoint yet';

/** audit-verify, audit list, audit archive. */
export function auditCommands(program: Command, ctx: CliContext): void {
  program
    .command('audit-verify')
    .description(
      'verify the audit chain: continuity, hashes, signatures, signers, parity with the archive, and the database against the newest signed head checkpoint',
    )
    .option('--from-archive', 'verify the archived chain instead of the database copy', false)
    .option('--since <seq>', 'start at this seq (the event before it is trusted)')
    .action(async (o: { fromArchive: boolean; since?: string }) => {
      const q = new URLSearchParams({ fromArchive: String(o.fromArchive), ...(o.since ? { since: o.since } : {}) });
      const r = await (await ctx.client()).request<AuditVerifyReply>('GET', `/v1/audit/verify?${q}`);
      const lines = r.ok
        ? [
            `VERIFIED  ${r.checked} event(s) from the ${r.source}, head seq ${r.headSeq}; archived through ${r.archivedThrough ?? 'nothing yet'}; parity ${r.parity}; ${checkpointText(r)}`,
          ]
        : [
            `BROKEN at seq ${r.firstBreak!.seq}: ${r.firstBreak!.problem}`,
            `  ${r.firstBreak!.detail}`,
            `  source ${r.source}; parity ${r.parity}; archived through ${r.archivedThrough ?? 'nothing'}; ${checkpointText(r)}`,
          ];
      ctx.out(lines.join('\n'), r);
      if (!r.ok) process.exitCode = 1;
    });

  const audit = program.command('audit').description('the audit log');
  audit
    .command('list')
    .description('events in chain order')
    .option('--subject <s>', 'e.g. artifact:<id>, dataset:<id>@<v>, key:<kid>')
    .option('--type <t>', 'e.g. artifact.registered')
    .option('--since <iso>', 'events at or after this time (ISO, with an offset)')
    .option('--until <iso>', 'events before this time (ISO, with an offset)')
    .option('--limit <n>', 'page size', '100')
    .option('--cursor <seq>', 'nextCursor of the previous page')
    .action(async (o: { subject?: string; type?: string; since?: string; until?: string; limit: string; cursor?: string }) => {
      const q = new URLSearchParams({
        limit: o.limit,
        ...(o.subject ? { subject: o.subject } : {}),
        ...(o.type ? { type: o.type } : {}),
        ...(o.since ? { since: o.since } : {}),
        ...(o.until ? { until: o.until } : {}),
        ...(o.cursor ? { cursor: o.cursor } : {}),
      });
      const r = await (await ctx.client()).request<AuditListReply>('GET', `/v1/audit?${q}`);
      const rows = r.items.map((e) => `  ${String(e.seq).padStart(6)}  ${e.ts}  ${e.type.padEnd(20)} ${e.subject}  by ${e.actor}`);
      ctx.out([`${r.items.length} event(s)`, ...rows, ...(r.nextCursor ? [`  more: --cursor ${r.nextCursor}`] : [])].join('\n'), r);
    });
  audit
    .command('archive')
    .description('archive events not yet archived to the Object-Lock store (also runs on a schedule)')
    .action(async () => {
      const r = await (await ctx.client()).request<AuditArchiveReply>('POST', '/v1/audit/archive');
      ctx.out(`archived ${r.events} event(s) in ${r.segments} segment(s); archive now ends at seq ${r.archivedThrough}`, r);
    });
}

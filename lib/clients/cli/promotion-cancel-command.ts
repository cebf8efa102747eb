import type { Command } from 'commander';
import type { PromotionReply } from '../../platform/http/schemas.js';
import type { CliContext } from './context.js';

/** aegis cancel: ends a pending multisig promotion (its requester or an admin), audited with the reason. */
export function promotionCancelCommand(program: Command, ctx: CliContext): void {
  program
    .command('cancel')
    .description('cancel a pending multisig promotion (its requester or an admin); audited with the reason')
    .requiredOption('--promotion <id>', 'the pending promotion')
    .requiredOption('--reason <text>', 'why (recorded and audited)')
    .action(async (o: { promotion: string; reason: string }) => {
      const p = await (
        await ctx.client()
      ).request<PromotionReply>('POST', `/v1/promotions/${encodeURIComponent(o.promotion)}/cancel`, { reason: o.reason });
      ctx.out(`${p.status} ${p.promotionId}  ${p.modelName} → ${p.targetEnv}  (${p.approvals.length} approval(s) discarded)`, p);
    });
}

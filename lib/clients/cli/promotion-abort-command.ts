import type { Command } from 'commander';
import type { PromotionReply } from '../../platform/http/schemas.js';
import type { CliContext } from './context.js';

/**
 * aegis abort: takes a rolling-out promotion's rollout over and rolls it back (a canary's share
 * to 0, a shadow stopped, a blue-green in its hold back to blue); audited with the caller and reason.
 */
export function promotionAbortCommand(program: Command, ctx: CliContext, describe: (p: PromotionReply) => string): void {
  program
    .command('abort')
    .description(
      'abort a rolling-out promotion: its rollout rolled back to the stable artifact (promoter or admin); audited with the reason',
    )
    .argument('<promotionId>', 'the rolling-out promotion')
    .requiredOption('--reason <text>', 'why (recorded and audited)')
    .action(async (promotionId: string, o: { reason: string }) => {
      const p = await (
        await ctx.client()
      ).request<PromotionReply>('POST', `/v1/promotions/${encodeURIComponent(promotionId)}/abort`, { reason: o.reason });
      ctx.out(`abort requested: the rollout is rolled back to the stable artifact\n${describe(p)}`, p);
    });
}

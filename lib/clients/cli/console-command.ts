import type { Command } from 'commander';
import type { WhoamiReply } from '../../platform/http/schemas.js';
import { CliError, type CliContext } from './context.js';

/** console: a one-time sign-in link to the web console (local mode); whoami: who the CLI calls as. */
export function consoleCommands(program: Command, ctx: CliContext): void {
  program
    .command('console')
    .description('print a one-time sign-in link to the local web console for this CLI token (valid 10 minutes)')
    .action(async () => {
      const client = await ctx.client();
      if (client.signsWithSigv4) throw new CliError('on AWS the console signs in with Cognito: open the stack output ConsoleUrl', 2);
      const r = await client.request<{ path: string; expiresAt: string }>('POST', '/session/codes');
      const url = `${client.baseUrl}${r.path}`;
      ctx.out(`${url}\n(one use, until ${r.expiresAt})`, { url, expiresAt: r.expiresAt });
    });
  program
    .command('whoami')
    .description('the principal, role and scope the server sees for these credentials')
    .action(async () => {
      const r = await (await ctx.client()).request<WhoamiReply>('GET', '/v1/whoami');
      const scope =
        r.scope === 'global' ? 'global' : `prefixes ${r.scope.prefixes.join(', ') || '—'}; teams ${r.scope.teams.join(', ') || '—'}`;
      ctx.out(`${r.principal} (${r.role}; scope ${scope}); may call ${r.routes.length} routes`, r);
    });
}

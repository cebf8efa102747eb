import { Option, type Command } from 'commander';
import { ROLES } from '../../kernel/identity.js';
import type { TokenCreateReply, TokenRecordReply, TokenRotateReply, TokensReply } from '../../platform/http/schemas.js';
import type { CliContext } from './context.js';

const tokenPath = (id: string, action: 'revoke' | 'rotate') => `/v1/tokens/${encodeURIComponent(id)}/${action}`;

const row = (t: TokenRecordReply) =>
  `  ${t.tokenId}  ${t.state.padEnd(7)}  ${t.role.padEnd(9)} ${t.principal}  expires ${t.expiresAt}  last used ${t.lastUsedAt ?? 'never'}${
    t.revokedAt ? `  revoked ${t.revokedAt} by ${t.revokedBy ?? '?'}` : ''
  }`;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** The secret on stdout alone (so `$(aegis tokens create …)` captures it), what it is on stderr. */
function issued(ctx: CliContext, r: TokenCreateReply, what: string): void {
  if (!ctx.globals.json) process.stderr.write(`aegis: ${what} ${r.tokenId} for ${r.principal} (${r.role}), expires ${r.expiresAt}\n`);
  ctx.out(r.token, r);
}

/** tokens create|list|revoke|rotate: local-mode bearer tokens (admin). */
export function tokenCommands(program: Command, ctx: CliContext): void {
  const tokens = program.command('tokens').description('local-mode bearer tokens (admin; on AWS, IAM identities instead)');
  tokens
    .command('create')
    .description('create a token for a principal and role (the secret is shown once)')
    .requiredOption('--principal <id>', 'who the token is for')
    .addOption(new Option('--role <role>', 'role').choices(ROLES).makeOptionMandatory())
    .option('--expires-in <duration>', 'lifetime, e.g. 12h, 30d (default 90d; at most AEGIS_TOKEN_MAX_TTL on the server)')
    .option('--scope-prefix <prefix>', 'limit the role to models whose name starts with this (repeatable)', collect, [])
    .option('--scope-team <team>', 'limit the role to models of this team (repeatable)', collect, [])
    .action(async (o: { principal: string; role: string; expiresIn?: string; scopePrefix: string[]; scopeTeam: string[] }) => {
      const scoped = o.scopePrefix.length + o.scopeTeam.length > 0;
      const body = {
        principal: o.principal,
        role: o.role,
        ...(o.expiresIn ? { expiresIn: o.expiresIn } : {}),
        ...(scoped ? { scope: { prefixes: o.scopePrefix, teams: o.scopeTeam } } : {}),
      };
      issued(ctx, await (await ctx.client()).request<TokenCreateReply>('POST', '/v1/tokens', body), 'created');
    });
  tokens
    .command('list')
    .description('tokens, newest first: id, state, role, principal, expiry, last use, revocation (never a secret)')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <c>', 'nextCursor of the previous page')
    .action(async (o: { limit: string; cursor?: string }) => {
      const q = new URLSearchParams({ limit: o.limit, ...(o.cursor ? { cursor: o.cursor } : {}) });
      const r = await (await ctx.client()).request<TokensReply>('GET', `/v1/tokens?${q}`);
      ctx.out(
        [`${r.items.length} token(s)`, ...r.items.map(row), ...(r.nextCursor ? [`  more: --cursor ${r.nextCursor}`] : [])].join('\n'),
        r,
      );
    });
  tokens
    .command('revoke <tokenId>')
    .description('revoke a token: refused at once by the server that revoked it, within AEGIS_TOKEN_CACHE_SECONDS by others')
    .action(async (id: string) => {
      const r = await (await ctx.client()).request<TokenRecordReply>('POST', tokenPath(id, 'revoke'));
      ctx.out(`revoked ${r.tokenId} (${r.principal}, ${r.role}) at ${r.revokedAt ?? '?'} by ${r.revokedBy ?? '?'}`, r);
    });
  tokens
    .command('rotate <tokenId>')
    .description('a new secret for the same principal and role (shown once); the old token is revoked')
    .option('--expires-in <duration>', 'lifetime of the new token, e.g. 12h, 30d (default 90d)')
    .action(async (id: string, o: { expiresIn?: string }) => {
      const r = await (
        await ctx.client()
      ).request<TokenRotateReply>('POST', tokenPath(id, 'rotate'), o.expiresIn ? { expiresIn: o.expiresIn } : {});
      issued(ctx, r, `rotated ${r.rotatedFrom} (now revoked) into`);
    });
}

/**
 * `aegis webhooks create|list|show|delete|secret|test|deliveries|replay` (admin): signed event
 * deliveries to HTTP receivers. A secret the caller chooses comes from a file or stdin, never
 * from a flag's value; a generated one is printed once. Exit codes: 0 done, 1 refused (or a test
 * fire the receiver refused), 2 usage, 3 not allowed.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { output } from 'zod';
import type {
  DeliveriesReply,
  ReplayReply,
  WebhookCreateReply,
  WebhookDeleteReply,
  WebhookReply,
  WebhookSecretReply,
  WebhooksReply,
  WebhookTestReply,
} from '../../platform/http/schemas.js';
import { CliError, type CliContext } from './context.js';
import {
  describeDeliveries,
  describeTest,
  describeWebhook,
  readSecret,
  secretLines,
  webhookRow,
  type SecretSource,
} from './webhook-format.js';

const webhookPath = (id: string, action = '') => `/v1/webhooks/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;

/** `--events a,b` (also repeatable): the event types or prefixes, in order, none empty. */
function eventList(value: string, previous: string[] = []): string[] {
  const items = value.split(',').map((e) => e.trim());
  if (items.some((e) => e === ''))
    throw new InvalidArgumentError('--events is a comma-separated list of event types or prefixes (promotion.*, *)');
  return [...previous, ...items];
}

function seqList(value: string, previous: number[] = []): number[] {
  const n = Number(value);
  if (!/^\d{1,15}$/.test(value) || n < 1) throw new InvalidArgumentError('--seq must be a positive integer (a seq of the chain)');
  return [...previous, n];
}

const secretOptions = (c: Command) =>
  c
    .option('--secret-file <file>', 'read the HMAC secret (24-256 printable characters) from this file (trailing newlines dropped)')
    .option('--secret-stdin', 'read the HMAC secret from stdin', false);

interface CreateFlags extends SecretSource {
  events: string[];
  format: 'aegis' | 'slack';
  description?: string;
}

/**
 * `--url` is the API's address (a global option, read after the command too): given after
 * `webhooks create` it would send the request, admin credentials included, to the receiver.
 */
function refuseUrlFlag(): void {
  const args = process.argv.slice(2);
  const at = args.indexOf('webhooks');
  if (at !== -1 && args.slice(at).some((a) => a === '--url' || a.startsWith('--url=')))
    throw new CliError(
      "--url is the API's address: give the receiver's URL as the argument (aegis webhooks create https://… --events …), and --url, if at all, before the command",
      2,
    );
}

async function create(ctx: CliContext, url: string, o: CreateFlags): Promise<void> {
  refuseUrlFlag();
  const secret = await readSecret(o);
  const body = {
    url,
    events: o.events,
    format: o.format,
    ...(o.description !== undefined && { description: o.description }),
    ...(secret !== undefined && { secret }),
  };
  const r = await (await ctx.client()).request<WebhookCreateReply>('POST', '/v1/webhooks', body);
  const id = r.webhook.subscriptionId;
  ctx.out([`created ${id}`, ...describeWebhook(r.webhook).slice(1), ...secretLines(id, r.secret)].join('\n'), r);
}

async function setSecret(ctx: CliContext, id: string, o: SecretSource): Promise<void> {
  const secret = await readSecret(o);
  const r = await (
    await ctx.client()
  ).request<WebhookSecretReply>('POST', webhookPath(id, 'secret'), secret === undefined ? {} : { secret });
  ctx.out([`secret of ${id} set: deliveries are signed with it from now on`, ...secretLines(id, r.secret)].join('\n'), r);
}

async function test(ctx: CliContext, id: string): Promise<void> {
  const r = await (await ctx.client()).request<WebhookTestReply>('POST', webhookPath(id, 'test'));
  ctx.out(describeTest(id, r), r);
  if (!r.ok) process.exitCode = 1;
}

function readCommands(webhooks: Command, ctx: CliContext): void {
  webhooks
    .command('list')
    .description('every webhook (and the stack event bus): format, pending and dead deliveries, last delivery, URL, events')
    .action(async () => {
      const r = await (await ctx.client()).request<WebhooksReply>('GET', '/v1/webhooks');
      ctx.out([`${r.items.length} subscription(s)`, ...r.items.map(webhookRow)].join('\n'), r);
    });
  webhooks
    .command('show <id>')
    .description('one webhook')
    .action(async (id: string) => {
      const r = await (await ctx.client()).request<WebhookReply>('GET', webhookPath(id));
      ctx.out(describeWebhook(r).join('\n'), r);
    });
  webhooks
    .command('deliveries <id>')
    .description("a webhook's deliveries, newest first: seq, status, type, attempts, the receiver's last answer")
    .addOption(new Option('--status <status>', 'only these (dead: the dead letters)').choices(['pending', 'delivered', 'dead']))
    .option('--limit <n>', 'page size (1-500)', '100')
    .option('--cursor <seq>', 'nextCursor of the previous page')
    .action(async (id: string, o: { status?: string; limit: string; cursor?: string }) => {
      const q = new URLSearchParams({
        limit: o.limit,
        ...(o.status ? { status: o.status } : {}),
        ...(o.cursor ? { cursor: o.cursor } : {}),
      });
      const r = await (await ctx.client()).request<DeliveriesReply>('GET', `${webhookPath(id, 'deliveries')}?${q}`);
      ctx.out(describeDeliveries(r), r);
    });
}

function writeCommands(webhooks: Command, ctx: CliContext): void {
  webhooks
    .command('delete <id>')
    .description('delete a webhook: nothing more is sent to it (audited)')
    .action(async (id: string) => {
      const r = await (await ctx.client()).request<output<typeof WebhookDeleteReply>>('DELETE', webhookPath(id));
      ctx.out(`deleted ${r.subscriptionId}`, r);
    });
  secretOptions(
    webhooks
      .command('secret <id>')
      .description(
        'set a new HMAC secret (rotation, or after a rebuild-index: restored webhooks wait for one); generated and shown once unless given',
      ),
  ).action((id: string, o: SecretSource) => setSecret(ctx, id, o));
  webhooks
    .command('test <id>')
    .description('send a test delivery now (X-Aegis-Test: true, not a chain event) and print the answer; exit 1 when refused')
    .action((id: string) => test(ctx, id));
  webhooks
    .command('replay <id>')
    .description('send dead deliveries again, in chain order: all, or those of --seq')
    .option('--seq <n>', 'the seq of a dead delivery (repeatable)', seqList)
    .action(async (id: string, o: { seq?: number[] }) => {
      const r = await (
        await ctx.client()
      ).request<output<typeof ReplayReply>>('POST', webhookPath(id, 'replay'), o.seq ? { seqs: o.seq } : {});
      ctx.out(`${r.requeued} dead deliver${r.requeued === 1 ? 'y' : 'ies'} of ${id} queued again`, r);
    });
}

/** aegis webhooks …: admin only. */
export function webhookCommands(program: Command, ctx: CliContext): void {
  const webhooks = program.command('webhooks').description('signed event deliveries to HTTP receivers (admin)');
  secretOptions(
    webhooks
      .command('create')
      .description('subscribe a receiver URL to event types or prefixes; a generated secret is printed once')
      .argument('<url>', 'the receiver: https:// (http:// and private addresses only where the server allows them)')
      .requiredOption('--events <list>', 'comma-separated event types or prefixes: promotion.rolled_back,drift.*, or * for all', eventList)
      .addOption(
        new Option('--format <format>', 'aegis: the event as JSON; slack: {"text": …} for a Slack-compatible incoming webhook')
          .choices(['aegis', 'slack'])
          .default('aegis'),
      )
      .option('--description <text>', 'what it is for (recorded in the audit chain)'),
  ).action((url: string, o: CreateFlags) => create(ctx, url, o));
  readCommands(webhooks, ctx);
  writeCommands(webhooks, ctx);
}

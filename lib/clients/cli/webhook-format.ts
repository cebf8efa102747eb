/** How `aegis webhooks …` prints subscriptions, deliveries and test fires, and where a secret comes from. */
import { readFileSync } from 'node:fs';
import type { DeliveriesReply, WebhookReply, WebhookTestReply } from '../../platform/http/schemas.js';
import { CliError } from './context.js';

/** Where a secret the caller chose comes from: never a flag's value (it would land in shell history). */
export interface SecretSource {
  secretFile?: string;
  secretStdin?: boolean;
}

/** Trailing line ends are what `echo` or an editor add, not part of the secret. */
const chomp = (s: string) => s.replace(/[\r\n]+$/, '');

async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text;
}

/** The secret the caller gave (a file or stdin), or undefined: the server generates one and answers it once. */
export async function readSecret(o: SecretSource): Promise<string | undefined> {
  if (o.secretFile !== undefined && o.secretStdin) throw new CliError('give --secret-file or --secret-stdin, not both', 2);
  let secret: string;
  let from: string;
  if (o.secretFile !== undefined) {
    from = `secret file ${o.secretFile}`;
    try {
      secret = chomp(readFileSync(o.secretFile, 'utf8'));
    } catch (e) {
      throw new CliError(`cannot read ${from}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else if (o.secretStdin) {
    from = 'stdin';
    secret = chomp(await readStdin());
  } else return undefined;
  if (secret === '') throw new CliError(`the secret from ${from} is empty`, 2);
  return secret;
}

/** A generated secret: labelled on stdout, and a warning on stderr that it is never shown again. */
export function secretLines(id: string, secret: string | undefined): string[] {
  if (secret === undefined) return [];
  process.stderr.write(
    `aegis: warning: the secret of ${id} is shown this once; give it to the receiver now (a new one: aegis webhooks secret ${id})\n`,
  );
  return [`secret: ${secret}`];
}

const when = (iso: string | null) => iso ?? 'never';

export const webhookRow = (w: WebhookReply): string =>
  `  ${w.subscriptionId}  ${w.kind === 'bus' ? 'bus    ' : w.format.padEnd(7)}  pending ${w.pending}  dead ${w.dead}  last delivered ${when(
    w.lastDeliveredAt,
  )}${w.kind === 'webhook' && !w.hasSecret ? '  NO SECRET' : ''}  ${w.target}  [${w.events.join(', ')}]`;

const secretState = (w: WebhookReply) =>
  w.kind === 'bus'
    ? 'none (the bus is not signed per subscription)'
    : w.hasSecret
      ? 'set'
      : `NOT SET: its deliveries wait (aegis webhooks secret ${w.subscriptionId})`;

export function describeWebhook(w: WebhookReply): string[] {
  return [
    `${w.kind === 'bus' ? 'event bus' : 'webhook'} ${w.subscriptionId}`,
    `  ${w.kind === 'bus' ? 'bus    ' : 'url    '}  ${w.target}`,
    `  format   ${w.format}`,
    `  events   ${w.events.join(', ')}`,
    ...(w.description ? [`  about    ${w.description}`] : []),
    `  secret   ${secretState(w)}`,
    `  created  ${w.createdAt} by ${w.createdBy}`,
    `  pending ${w.pending}, dead ${w.dead}, last delivered ${when(w.lastDeliveredAt)}`,
  ];
}

export function describeTest(id: string, r: WebhookTestReply): string {
  const status = r.status === null ? 'no answer' : `HTTP ${r.status}`;
  return r.ok ? `ok: ${id} answered ${status} in ${r.ms} ms` : `FAILED: ${id}: ${r.error ?? status} (${r.ms} ms)`;
}

export function describeDeliveries(r: DeliveriesReply): string {
  const rows = r.items.map((d) => {
    const next = d.status === 'pending' ? `next ${d.nextAttemptAt}` : `finished ${d.finishedAt ?? '?'}`;
    const last = d.lastStatus === null ? '' : `  HTTP ${d.lastStatus}`;
    const error = d.lastError === null || d.status === 'delivered' ? '' : `  ${d.lastError}`;
    return `  ${String(d.seq).padStart(6)}  ${d.status.padEnd(9)} ${d.eventType.padEnd(28)} attempts ${d.attempts}${last}  ${next}${error}`;
  });
  return [
    `${r.items.length} deliver${r.items.length === 1 ? 'y' : 'ies'}`,
    ...rows,
    ...(r.nextCursor ? [`  more: --cursor ${r.nextCursor}`] : []),
  ].join('\n');
}

/**
 * `aegis events tail`: follows the chain through the long-polled `GET /v1/events`, one line per
 * event (or one JSON object per line with --json, for `| jq`), until SIGINT/SIGTERM (exit 0) or
 * `--max` events. A network error, 429 or 5xx is retried with backoff (said on stderr); any
 * other refusal ends the run with the API's message (exit 1; 3 for 401/403).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import { ApiError, type AegisClient } from '../http/client.js';
import type { EventsReply } from '../../platform/http/schemas.js';
import type { CliContext } from './context.js';

/** The longest a long poll waits on the server (API Gateway ends a request at 29 s). */
const MAX_WAIT_SECONDS = 20;
const MAX_PAGE = 500;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

function positiveInteger(flag: string) {
  return (v: string): number => {
    if (!/^\d{1,15}$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${flag} must be a positive integer`);
    return Number(v);
  };
}

interface TailFlags {
  type?: string;
  since?: number;
  max?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Worth another try: the server or the network failed, or throttled; not a refusal of the request. */
const transient = (e: unknown): e is ApiError => e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500);

const line = (e: AuditEvent) => `${String(e.seq).padStart(6)}  ${e.ts}  ${e.type.padEnd(28)} ${e.subject}  by ${e.actor}`;

/** The long poll's wait: well inside one HTTP attempt's time limit (`--timeout`). */
const waitFor = (timeoutSeconds: number) => Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(timeoutSeconds) - 5));

class Tail {
  #failures = 0;
  #remaining: number;
  /** the seq the next page starts after; undefined until the head is known (no --since) */
  #after: number | undefined;

  constructor(
    private readonly api: AegisClient,
    private readonly o: TailFlags,
    private readonly json: boolean,
    private readonly waitSeconds: number,
  ) {
    this.#remaining = o.max ?? Infinity;
    this.#after = o.since === undefined ? undefined : o.since - 1;
  }

  async run(): Promise<void> {
    let announced = false;
    while (this.#remaining > 0) {
      const first = this.#after === undefined;
      const page = await this.#page(first ? 0 : this.waitSeconds);
      if (!page) continue;
      if (!announced) {
        announced = true;
        const from = first ? (page.items[0]?.seq ?? page.cursor + 1) : this.#after! + 1;
        process.stderr.write(`aegis: following events from seq ${from}${this.o.type ? ` of ${this.o.type}` : ''} (Ctrl-C stops)\n`);
      }
      for (const e of page.items.slice(0, this.#remaining)) process.stdout.write(`${this.json ? JSON.stringify(e) : line(e)}\n`);
      this.#remaining -= page.items.length;
      this.#after = page.cursor;
      // a server-side wait of 0 (a short --timeout) must not turn into a busy loop
      if (!first && page.items.length === 0 && this.waitSeconds === 0) await sleep(FIRST_BACKOFF_MS);
    }
  }

  /** One long poll; undefined after a transient failure (said on stderr, slept off). */
  async #page(wait: number): Promise<EventsReply | undefined> {
    const q = new URLSearchParams({
      wait: String(wait),
      limit: String(Math.min(MAX_PAGE, this.#remaining)),
      ...(this.#after !== undefined && { after: String(this.#after) }),
      ...(this.o.type !== undefined && { type: this.o.type }),
    });
    try {
      const page = await this.api.request<EventsReply>('GET', `/v1/events?${q}`);
      this.#failures = 0;
      return page;
    } catch (e) {
      if (!transient(e)) throw e;
      const full = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.#failures++);
      const delay = Math.round(full * (0.5 + Math.random() / 2));
      process.stderr.write(
        `aegis: ${e.message}${e.status ? ` [${e.code} ${e.status}]` : ''}; trying again in ${(delay / 1000).toFixed(1)} s\n`,
      );
      await sleep(delay);
      return undefined;
    }
  }
}

/** Ends the run quietly: a signal, or a reader that went away (`| head`). */
function stopQuietly(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

/** aegis events tail. */
export function eventsCommands(program: Command, ctx: CliContext): void {
  const events = program.command('events').description('the event stream: the audit chain as it grows');
  events
    .command('tail')
    .description('follow events as they are appended (auditor, security, admin): one line each, or one JSON object per line with --json')
    .option('--type <types>', 'comma-separated event types or prefixes: promotion.*,drift.suggestion (default: all)')
    .addOption(
      new Option('--since <seq>', 'start with the event of this seq, then follow (default: only events appended from now on)').argParser(
        positiveInteger('--since'),
      ),
    )
    .addOption(new Option('--max <n>', 'stop (exit 0) after printing this many events').argParser(positiveInteger('--max')))
    .action(async (o: TailFlags) => {
      stopQuietly();
      await new Tail(await ctx.client(), o, ctx.globals.json, waitFor(ctx.globals.timeout)).run();
    });
}

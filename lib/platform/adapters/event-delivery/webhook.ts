import { lookup as dnsLookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { signWebhook, webhookBody, WEBHOOK_HEADERS } from '../../../kernel/webhook.js';
import type { DeliveryOutcome, WebhookDelivery, WebhookSender, WebhookTarget } from '../../ports/event-delivery.js';
import { WebhookAddressRules, type AddressRulesConfig } from './address-rules.js';
import { AddressRefusedError, postOnce, PostTimeoutError, type PostAnswer, type ResolveHost } from './http-post.js';

export interface HttpWebhookSenderOptions {
  /** the SSRF rules: `Config.events.{allowHttp, allowedCidrs}` */
  rules: AddressRulesConfig;
  /** whole-exchange budget of one delivery (`Config.events.timeoutMs`) */
  timeoutMs: number;
  /** resolves a host name to all its addresses @default dns.lookup(host, { all: true }) */
  lookup?: ResolveHost;
  /** the signature's timestamp @default () => new Date() */
  now?: () => Date;
  /** extra trust anchors for https receivers (a private CA; tests) */
  tls?: { ca?: string | Buffer };
}

export const WEBHOOK_USER_AGENT = 'aegis-webhooks/1';

const systemLookup: ResolveHost = (hostname) => dnsLookup(hostname, { all: true });

/** A receiver's text, on one line and short, for the delivery's record. */
const answerExcerpt = (text: string) => {
  const line = text.replace(/\p{Cc}+/gu, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
};

/** What an answer means for the delivery: 2xx delivered, 410 stop for good, a redirect and the rest a retryable failure. */
function outcomeOf(answer: PostAnswer): Omit<DeliveryOutcome, 'ms'> {
  const { status } = answer;
  if (status >= 200 && status <= 299) return { ok: true, status, retryable: false };
  const said = answerExcerpt(answer.text);
  const tail = said === '' ? '' : `: ${said}`;
  if (status === 410)
    return { ok: false, status, retryable: false, error: `HTTP 410 Gone: the receiver asked for no more deliveries${tail}` };
  if (status >= 300 && status <= 399) {
    const to = answer.location === undefined ? '' : ` to ${answerExcerpt(answer.location)}`;
    return { ok: false, status, retryable: true, error: `HTTP ${status}: redirected${to}; redirects are not followed` };
  }
  return { ok: false, status, retryable: true, error: `HTTP ${status}${tail}` };
}

/** A failure before any answer: refused addresses are final; timeouts and network errors are worth another attempt. */
function failureOf(err: unknown): Omit<DeliveryOutcome, 'ms'> {
  if (err instanceof AddressRefusedError) return { ok: false, retryable: false, error: `refused: ${err.reason}` };
  if (err instanceof PostTimeoutError) return { ok: false, retryable: true, error: err.message };
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ERR_INVALID_CHAR' || e.code === 'ERR_INVALID_HTTP_TOKEN')
    return { ok: false, retryable: false, error: `the request could not be built (${e.code})` };
  const code = e.code !== undefined && !e.message.includes(e.code) ? ` (${e.code})` : '';
  return { ok: false, retryable: true, error: `could not deliver: ${e.message}${code}` };
}

/**
 * Webhook deliveries as HTTP POSTs (both modes): the event as JSON (or a Slack line), signed
 * `X-Aegis-Signature: t=…,v1=HMAC-SHA256(secret, "<t>.<body>")`, to a URL the address rules
 * accept — checked again at connect time against every address the host resolves to, so a
 * name that rebinds to a private address after `refusal()` accepted it is still refused.
 *
 * @example
 * const sender = new HttpWebhookSender({ rules: config.events, timeoutMs: config.events.timeoutMs });
 * await sender.refusal('https://10.0.0.5/hook'); // '10.0.0.5 is a private address (10.0.0.0/8); allow it with …'
 * const outcome = await sender.send({ url, secret, format: 'aegis' }, { event, attempt: 1 });
 */
export class HttpWebhookSender implements WebhookSender {
  private readonly rules: WebhookAddressRules;
  private readonly timeoutMs: number;
  private readonly resolve: ResolveHost;
  private readonly now: () => Date;
  private readonly ca: string | Buffer | undefined;

  constructor(opts: HttpWebhookSenderOptions) {
    if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs <= 0)
      throw new RangeError(`timeoutMs must be a positive integer, got ${opts.timeoutMs}`);
    this.rules = new WebhookAddressRules(opts.rules);
    this.timeoutMs = opts.timeoutMs;
    this.resolve = opts.lookup ?? systemLookup;
    this.now = opts.now ?? (() => new Date());
    this.ca = opts.tls?.ca;
  }

  async send(target: WebhookTarget, delivery: WebhookDelivery): Promise<DeliveryOutcome> {
    const started = performance.now();
    const ms = () => Math.round(performance.now() - started);
    const checked = this.rules.url(target.url);
    if (!checked.ok) return { ok: false, retryable: false, error: `refused: ${checked.reason}`, ms: ms() };
    if (target.secret === '') return { ok: false, retryable: false, error: 'the subscription has no signing secret', ms: ms() };
    const { event, attempt, test } = delivery;
    const body = webhookBody(event, target.format, { test: test === true });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': WEBHOOK_USER_AGENT,
      [WEBHOOK_HEADERS.eventId]: event.eventId,
      [WEBHOOK_HEADERS.eventType]: event.type,
      [WEBHOOK_HEADERS.eventSeq]: String(event.seq),
      [WEBHOOK_HEADERS.attempt]: String(attempt),
      [WEBHOOK_HEADERS.signature]: signWebhook(target.secret, body, Math.floor(this.now().getTime() / 1000)),
      ...(test === true ? { [WEBHOOK_HEADERS.test]: 'true' } : {}),
    };
    try {
      const answer = await postOnce({
        url: checked.accepted.url,
        headers,
        body,
        timeoutMs: this.timeoutMs,
        resolve: this.resolve,
        refuse: (host, addresses) => this.rules.addresses(host, addresses),
        ...(this.ca !== undefined ? { ca: this.ca } : {}),
      });
      return { ...outcomeOf(answer), ms: ms() };
    } catch (err) {
      return { ...failureOf(err), ms: ms() };
    }
  }

  async refusal(url: string): Promise<string | null> {
    const checked = this.rules.url(url);
    if (!checked.ok) return checked.reason;
    const { host, literal } = checked.accepted;
    if (literal !== 0) return null;
    let addresses: readonly { address: string }[];
    try {
      addresses = await this.resolve(host);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return `${host} could not be resolved (${e.code ?? e.message})`;
    }
    return this.rules.addresses(
      host,
      addresses.map((a) => a.address),
    );
  }
}

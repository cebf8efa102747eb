/**
 * Webhooks on the wire: the headers, the body of each format, and the Stripe-style HMAC
 * signature a receiver checks (`X-Aegis-Signature: t=<unix seconds>,v1=<hex>`). Pure: the
 * sender (platform) and any receiver (a consumer's code, tests) share it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditEvent } from './audit-chain.js';

/** The headers every delivery carries (`test` only on a test fire, with the value `true`). */
export const WEBHOOK_HEADERS = {
  eventId: 'X-Aegis-Event-Id',
  eventType: 'X-Aegis-Event-Type',
  eventSeq: 'X-Aegis-Event-Seq',
  attempt: 'X-Aegis-Delivery-Attempt',
  signature: 'X-Aegis-Signature',
  test: 'X-Aegis-Test',
} as const;

export type WebhookFormat = 'aegis' | 'slack';

/** How far a signature's timestamp may be from the receiver's clock, either way, by default. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/**
 * The body of one delivery. `aegis`: the audit event with every field, so a consumer can check
 * its Ed25519 `signature` (over `hash`, by `signerId`) against `GET /v1/keys`; a test fire adds
 * `"test": true`. `slack`: `{ "text": "<one line>" }`, what a Slack incoming webhook posts.
 *
 * @example
 * webhookBody(event, 'slack'); // '{"text":"Aegis: promotion.applied on fraud@3 by alice (seq 42, event 0193…)"}'
 */
export function webhookBody(event: AuditEvent, format: WebhookFormat, opts: { test?: boolean } = {}): string {
  if (format === 'slack') return JSON.stringify({ text: slackLine(event, opts.test === true) });
  // Fields picked one by one: a row carrying more (a database column) does not leak onto the wire.
  const { seq, eventId, type, actor, subject, payload, ts, prevHash, hash, signature, signerId } = event;
  const body = { seq, eventId, type, actor, subject, payload, ts, prevHash, hash, signature, signerId };
  return JSON.stringify(opts.test === true ? { ...body, test: true } : body);
}

/** Slack reads `<…>` as links and mentions (`<!channel>`) and `&` as an entity: escaped, as Slack asks. */
const slackEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function slackLine(e: AuditEvent, test: boolean): string {
  const line = `Aegis: ${e.type} on ${e.subject} by ${e.actor} (seq ${e.seq}, event ${e.eventId})`;
  return slackEscape(test ? `[test] ${line}` : line);
}

const mac = (secret: string, t: number, body: string | Uint8Array) => createHmac('sha256', secret).update(`${t}.`).update(body).digest();

function checkSecrets(secret: string | readonly string[]): readonly string[] {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0 || secrets.some((s) => s.length === 0)) throw new RangeError('a webhook secret must not be empty');
  return secrets;
}

/**
 * `t=<unixSeconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Several secrets (a rotation:
 * the new one and the old one) give one `v1=` each, so a receiver holding either verifies.
 *
 * @example
 * signWebhook('whsec_…', body, Math.floor(Date.now() / 1000)); // 't=1764555000,v1=5f2b…'
 */
export function signWebhook(secret: string | readonly string[], body: string | Uint8Array, unixSeconds: number): string {
  if (!Number.isSafeInteger(unixSeconds) || unixSeconds < 0)
    throw new RangeError(`unixSeconds must be a non-negative integer, got ${unixSeconds}`);
  const v1 = checkSecrets(secret).map((s) => `v1=${mac(s, unixSeconds, body).toString('hex')}`);
  return [`t=${unixSeconds}`, ...v1].join(',');
}

export type WebhookVerification = { ok: true } | { ok: false; code: 'malformed' | 'mismatch' | 'stale' | 'future'; reason: string };

/** A header far longer than a few rotations' worth of `v1=` entries is not a signature. */
const MAX_HEADER_LENGTH = 1024;

interface ParsedSignature {
  t: number;
  v1: Buffer[];
}

/** Parses `t=…,v1=…[,v1=…]`; other schemes (`v0=`) are ignored, as Stripe's receivers do. */
function parseSignatureHeader(header: string): ParsedSignature | string {
  if (header.length > MAX_HEADER_LENGTH) return `the header is longer than ${MAX_HEADER_LENGTH} characters`;
  let t: number | undefined;
  const v1: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return `"${part.trim().slice(0, 20)}" is not <scheme>=<value>`;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined) return 'the header names t= twice';
      if (!/^[0-9]{1,12}$/.test(value)) return 't= is not a unix time in seconds';
      t = Number(value);
    } else if (key === 'v1') {
      if (!/^[0-9a-fA-F]{64}$/.test(value)) return 'a v1= value is not 64 hex digits (an HMAC-SHA256)';
      v1.push(Buffer.from(value, 'hex'));
    }
  }
  if (t === undefined) return 'the header has no t=';
  if (v1.length === 0) return 'the header has no v1=';
  return { t, v1 };
}

/**
 * Checks a delivery's `X-Aegis-Signature` against the raw body as received. Every `v1=` entry
 * is compared in constant time against every secret given; the timestamp must lie within
 * `toleranceSeconds` of `now` either way (a replayed old delivery, a clock far ahead).
 *
 * @example
 * const v = verifyWebhook(secret, rawBody, req.headers['x-aegis-signature'] ?? '', { now: new Date() });
 * if (!v.ok) return reply(400, v.reason);
 */
export function verifyWebhook(
  secret: string | readonly string[],
  body: string | Uint8Array,
  header: string,
  opts: { now: Date; toleranceSeconds?: number },
): WebhookVerification {
  const secrets = checkSecrets(secret);
  const tolerance = opts.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) throw new RangeError(`toleranceSeconds must be >= 0, got ${tolerance}`);
  const parsed = parseSignatureHeader(header);
  if (typeof parsed === 'string') return { ok: false, code: 'malformed', reason: `malformed signature header: ${parsed}` };
  let matched = false;
  for (const s of secrets) {
    const expected = mac(s, parsed.t, body);
    // No early exit: the time taken does not say which entry (or whether any) matched.
    for (const candidate of parsed.v1) matched = timingSafeEqual(candidate, expected) || matched;
  }
  if (!matched) return { ok: false, code: 'mismatch', reason: 'no v1 signature matches the body with this secret' };
  const age = Math.floor(opts.now.getTime() / 1000) - parsed.t;
  if (age > tolerance) return { ok: false, code: 'stale', reason: `the signature is ${age} s old (tolerance ${tolerance} s)` };
  if (-age > tolerance) return { ok: false, code: 'future', reason: `the signature is dated ${-age} s ahead (tolerance ${tolerance} s)` };
  return { ok: true };
}

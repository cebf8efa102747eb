import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import type { AuditEvent } from '../../lib/kernel/audit-chain.js';
import { signWebhook, verifyWebhook, webhookBody } from '../../lib/kernel/webhook.js';

const SECRET = 'whsec_test_0123456789abcdef';
const T = 1_764_555_000;
const now = new Date(T * 1000);
const BODY = '{"seq":7,"type":"promotion.applied","note":"ünïcode ✓"}';

const event: AuditEvent = {
  seq: 42,
  eventId: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  type: 'promotion.applied',
  actor: 'alice',
  subject: 'models/fraud@3',
  payload: { promotionId: 'p-1', env: 'prod' },
  ts: '2026-12-01T02:30:00.000Z',
  prevHash: 'a'.repeat(64),
  hash: 'b'.repeat(64),
  signature: 'c2lnbmF0dXJl',
  signerId: 'audit-key-1',
};

/** The HMAC as openssl computes it: an implementation that shares no code with ours. */
function opensslHmac(secret: string, message: string): string {
  const out = execFileSync('openssl', ['dgst', '-sha256', '-hmac', secret], { input: Buffer.from(message, 'utf8') }).toString();
  return out.trim().split(/\s+/).pop()!;
}

describe('webhook signature (t=…,v1=HMAC-SHA256(secret, "<t>.<body>"))', () => {
  test('signs as openssl computes HMAC-SHA256 over "<t>.<body>" (utf-8)', () => {
    const header = signWebhook(SECRET, BODY, T);
    expect(header).toBe(`t=${T},v1=${opensslHmac(SECRET, `${T}.${BODY}`)}`);
  });

  test('a signed body verifies, as a string and as the raw bytes a receiver holds', () => {
    const header = signWebhook(SECRET, BODY, T);
    expect(verifyWebhook(SECRET, BODY, header, { now })).toEqual({ ok: true });
    expect(verifyWebhook(SECRET, Buffer.from(BODY, 'utf8'), header, { now })).toEqual({ ok: true });
  });

  test('a tampered body, a wrong secret or a changed timestamp do not verify', () => {
    const header = signWebhook(SECRET, BODY, T);
    expect(verifyWebhook(SECRET, BODY.replace('7', '8'), header, { now })).toMatchObject({ ok: false, code: 'mismatch' });
    expect(verifyWebhook('whsec_other', BODY, header, { now })).toMatchObject({ ok: false, code: 'mismatch' });
    const moved = header.replace(`t=${T}`, `t=${T + 1}`);
    expect(verifyWebhook(SECRET, BODY, moved, { now })).toMatchObject({ ok: false, code: 'mismatch' });
  });

  test('refuses a stale timestamp (a replay) and one too far ahead, with the tolerance as the edge', () => {
    const header = signWebhook(SECRET, BODY, T);
    expect(verifyWebhook(SECRET, BODY, header, { now: new Date((T + 300) * 1000) })).toEqual({ ok: true });
    const stale = verifyWebhook(SECRET, BODY, header, { now: new Date((T + 301) * 1000) });
    expect(stale).toEqual({ ok: false, code: 'stale', reason: 'the signature is 301 s old (tolerance 300 s)' });
    expect(verifyWebhook(SECRET, BODY, header, { now: new Date((T - 300) * 1000) })).toEqual({ ok: true });
    expect(verifyWebhook(SECRET, BODY, header, { now: new Date((T - 301) * 1000) })).toMatchObject({ ok: false, code: 'future' });
    expect(verifyWebhook(SECRET, BODY, header, { now: new Date((T + 30) * 1000), toleranceSeconds: 10 })).toMatchObject({
      ok: false,
      code: 'stale',
    });
  });

  test.each([
    ['empty', ''],
    ['no t', `v1=${'a'.repeat(64)}`],
    ['no v1', `t=${T}`],
    ['t twice', `t=${T},t=${T},v1=${'a'.repeat(64)}`],
    ['t not a number', `t=soon,v1=${'a'.repeat(64)}`],
    ['negative t', `t=-5,v1=${'a'.repeat(64)}`],
    ['short v1', `t=${T},v1=abcd`],
    ['v1 not hex', `t=${T},v1=${'z'.repeat(64)}`],
    ['a part without =', `t=${T},v1`],
    ['only v0 (an unknown scheme)', `t=${T},v0=${'a'.repeat(64)}`],
    ['far too long', `t=${T},${`v1=${'a'.repeat(64)},`.repeat(20)}v1=${'a'.repeat(64)}`],
  ])('a malformed header (%s) is refused as malformed', (_name, header) => {
    const v = verifyWebhook(SECRET, BODY, header, { now });
    expect(v).toMatchObject({ ok: false, code: 'malformed' });
    expect(!v.ok && v.reason).toMatch(/^malformed signature header: /);
  });

  test('secret rotation: a header with two v1 entries verifies with either secret, and not with a third', () => {
    const header = signWebhook(['whsec_new', 'whsec_old'], BODY, T);
    expect(header.split(',')).toHaveLength(3);
    expect(verifyWebhook('whsec_new', BODY, header, { now })).toEqual({ ok: true });
    expect(verifyWebhook('whsec_old', BODY, header, { now })).toEqual({ ok: true });
    expect(verifyWebhook('whsec_third', BODY, header, { now })).toMatchObject({ ok: false, code: 'mismatch' });
    // a receiver in the middle of its own rotation holds both secrets
    expect(verifyWebhook(['whsec_third', 'whsec_old'], BODY, signWebhook('whsec_old', BODY, T), { now })).toEqual({ ok: true });
  });

  test('unknown schemes and spaces around entries are tolerated beside a valid v1', () => {
    const v1 = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    expect(verifyWebhook(SECRET, BODY, ` t=${T} , v0=${'f'.repeat(64)}, v1=${v1.toUpperCase()}`, { now })).toEqual({ ok: true });
  });

  test('refuses to sign or verify with an empty secret, or with a timestamp that is not whole seconds', () => {
    expect(() => signWebhook('', BODY, T)).toThrow(/must not be empty/);
    expect(() => signWebhook([], BODY, T)).toThrow(/must not be empty/);
    expect(() => verifyWebhook('', BODY, `t=${T},v1=${'a'.repeat(64)}`, { now })).toThrow(/must not be empty/);
    expect(() => signWebhook(SECRET, BODY, 1.5)).toThrow(RangeError);
    expect(() => signWebhook(SECRET, BODY, -1)).toThrow(RangeError);
    expect(() => verifyWebhook(SECRET, BODY, signWebhook(SECRET, BODY, T), { now, toleranceSeconds: -1 })).toThrow(RangeError);
  });
});

describe('webhook bodies', () => {
  test('aegis: every field of the audit event, nothing more; a test fire says so', () => {
    const withExtra = { ...event, internalColumn: 'x' } as AuditEvent;
    const parsed = JSON.parse(webhookBody(withExtra, 'aegis'));
    expect(parsed).toEqual(event);
    expect(Object.keys(parsed)).toEqual([
      'seq',
      'eventId',
      'type',
      'actor',
      'subject',
      'payload',
      'ts',
      'prevHash',
      'hash',
      'signature',
      'signerId',
    ]);
    expect(JSON.parse(webhookBody(event, 'aegis', { test: true }))).toEqual({ ...event, test: true });
  });

  test('slack: one line with type, subject, actor, seq and event id under "text"', () => {
    const parsed = JSON.parse(webhookBody(event, 'slack'));
    expect(parsed).toEqual({
      text: 'Aegis: promotion.applied on models/fraud@3 by alice (seq 42, event 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b)',
    });
    expect(JSON.parse(webhookBody(event, 'slack', { test: true })).text).toMatch(/^\[test\] Aegis: promotion\.applied/);
  });

  test('slack: an actor cannot mention the channel or forge a link (<, >, & escaped)', () => {
    const text = JSON.parse(webhookBody({ ...event, actor: '<!channel> & <https://evil|click>' }, 'slack')).text as string;
    expect(text).toContain('by &lt;!channel&gt; &amp; &lt;https://evil|click&gt;');
    expect(text).not.toMatch(/[<>]/);
  });
});

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventHash, eventStatement, type AuditEvent } from '../../lib/kernel/audit-chain.js';
import { verifyRaw } from '../../lib/kernel/signatures.js';
import { verifyWebhook, WEBHOOK_HEADERS } from '../../lib/kernel/webhook.js';
import type { ResolveHost } from '../../lib/platform/adapters/event-delivery/http-post.js';
import { HttpWebhookSender } from '../../lib/platform/adapters/event-delivery/webhook.js';
import type { WebhookTarget } from '../../lib/platform/ports/event-delivery.js';

const SECRET = 'whsec_integration_5f1d2c';
const NOW = new Date('2026-12-01T03:00:00Z');
const LOOPBACK = { allowHttp: true, allowedCidrs: ['127.0.0.0/8'] };
const PRODUCTION = { allowHttp: false, allowedCidrs: [] };

/** A real audit event, signed with a real Ed25519 key, as the chain holds it. */
const auditKey = generateKeyPairSync('ed25519');
const publicKeyB64 = auditKey.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
const unsigned = {
  seq: 17,
  eventId: '0193c0de-0000-7000-8000-000000000017',
  type: 'promotion.applied',
  actor: 'alice',
  subject: 'models/fraud@3',
  payload: { promotionId: 'p-9', env: 'prod' },
  ts: '2026-12-01T02:59:59.000Z',
  prevHash: '1'.repeat(64),
  signerId: 'audit-1',
};
const hash = eventHash(unsigned);
const event: AuditEvent = {
  ...unsigned,
  hash,
  signature: sign(null, eventStatement(unsigned.seq, hash), auditKey.privateKey).toString('base64'),
};

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Receiver {
  url: string;
  port: number;
  received: Received[];
  connections: number;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(server: Server, handler: Handler, scheme: 'http' | 'https'): Promise<Receiver> {
  const rx: Receiver = { url: '', port: 0, received: [], connections: 0 };
  server.on('connection', () => rx.connections++);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      rx.received.push({ headers: req.headers, body });
      handler(req, res, body);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rx.port = (server.address() as AddressInfo).port;
  rx.url = `${scheme}://127.0.0.1:${rx.port}/hooks/aegis?team=risk`;
  return rx;
}

const receiver = (handler: Handler) => listen(createHttpServer(), handler, 'http');
const answer = (status: number, text = '', headers: Record<string, string> = {}) =>
  receiver((_req, res) => res.writeHead(status, headers).end(text));

/** A resolver that answers from a table; each name's list may change between calls (rebinding). */
function table(answers: Record<string, string[] | string[][]>): ResolveHost & { calls: string[] } {
  const calls: string[] = [];
  const seen = new Map<string, number>();
  const resolve = async (host: string) => {
    calls.push(host);
    const entry = answers[host];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    const n = seen.get(host) ?? 0;
    seen.set(host, n + 1);
    const list = (Array.isArray(entry[0]) ? (entry as string[][])[Math.min(n, entry.length - 1)] : entry) as string[];
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

const sender = (over: Partial<ConstructorParameters<typeof HttpWebhookSender>[0]> = {}) =>
  new HttpWebhookSender({ rules: LOOPBACK, timeoutMs: 2000, now: () => NOW, ...over });
const target = (url: string, format: WebhookTarget['format'] = 'aegis'): WebhookTarget => ({ url, secret: SECRET, format });

describe('HttpWebhookSender: delivering', () => {
  test('POSTs the signed event with its headers; the HMAC and the Ed25519 signature both verify', async () => {
    const rx = await answer(204);
    const outcome = await sender().send(target(rx.url), { event, attempt: 2 });
    expect(outcome).toMatchObject({ ok: true, status: 204, retryable: false });
    expect(outcome.error).toBeUndefined();
    expect(rx.received).toHaveLength(1);
    const { headers, body } = rx.received[0]!;
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'aegis-webhooks/1',
      'x-aegis-event-id': event.eventId,
      'x-aegis-event-type': 'promotion.applied',
      'x-aegis-event-seq': '17',
      'x-aegis-delivery-attempt': '2',
    });
    expect(headers['x-aegis-test']).toBeUndefined();
    expect(JSON.parse(body)).toEqual(event);
    const signature = headers[WEBHOOK_HEADERS.signature.toLowerCase()] as string;
    expect(signature).toMatch(new RegExp(`^t=${NOW.getTime() / 1000},v1=[0-9a-f]{64}$`));
    expect(verifyWebhook(SECRET, body, signature, { now: NOW })).toEqual({ ok: true });
    expect(verifyWebhook('whsec_wrong', body, signature, { now: NOW })).toMatchObject({ ok: false, code: 'mismatch' });
    const delivered = JSON.parse(body) as AuditEvent;
    expect(verifyRaw('ed25519', publicKeyB64, eventStatement(delivered.seq, eventHash(delivered)), delivered.signature)).toBe(true);
  });

  test('a test fire carries X-Aegis-Test and says so in its body; Slack gets one line of text', async () => {
    const rx = await answer(200, 'ok');
    await sender().send(target(rx.url), { event, attempt: 1, test: true });
    expect(rx.received[0]!.headers['x-aegis-test']).toBe('true');
    expect(JSON.parse(rx.received[0]!.body)).toEqual({ ...event, test: true });
    await sender().send(target(rx.url, 'slack'), { event, attempt: 1 });
    const slack = rx.received[1]!;
    expect(JSON.parse(slack.body)).toEqual({ text: expect.stringContaining('promotion.applied on models/fraud@3 by alice (seq 17') });
    expect(verifyWebhook(SECRET, slack.body, slack.headers['x-aegis-signature'] as string, { now: NOW })).toEqual({ ok: true });
  });

  test('a 500 is a retryable failure with the status and the start of the answer, never the secret or the body', async () => {
    const rx = await answer(500, 'database\nunavailable');
    const outcome = await sender().send(target(rx.url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, status: 500, retryable: true, error: 'HTTP 500: database unavailable' });
    expect(outcome.error).not.toContain(SECRET);
    expect(outcome.error).not.toContain(event.hash);
  });

  test('410 Gone stops the deliveries (not retryable)', async () => {
    const rx = await answer(410);
    const outcome = await sender().send(target(rx.url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, status: 410, retryable: false });
    expect(outcome.error).toMatch(/^HTTP 410 Gone/);
  });

  test('a redirect is not followed: the target it names receives nothing', async () => {
    const elsewhere = await answer(200);
    const rx = await answer(302, '', { location: elsewhere.url });
    const outcome = await sender().send(target(rx.url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, status: 302, retryable: true });
    expect(outcome.error).toBe(`HTTP 302: redirected to ${elsewhere.url}; redirects are not followed`);
    expect(rx.received).toHaveLength(1);
    expect(elsewhere.connections).toBe(0);
  });

  test('a receiver that never answers times out after the budget, retryably', async () => {
    const rx = await receiver(() => undefined);
    const outcome = await sender({ timeoutMs: 300 }).send(target(rx.url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, retryable: true, error: 'timed out after 300 ms' });
    expect(outcome.ms).toBeGreaterThanOrEqual(290);
    expect(outcome.ms).toBeLessThan(1500);
  });

  test('an endless error answer is read only as far as its first kilobyte', async () => {
    const rx = await receiver((_req, res) => {
      res.writeHead(503);
      res.write('x'.repeat(4096)); // and never ends
    });
    const outcome = await sender({ timeoutMs: 5000 }).send(target(rx.url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, status: 503, retryable: true });
    expect(outcome.ms).toBeLessThan(2000);
    expect(outcome.error!.length).toBeLessThan(260);
  });

  test('a 200 whose body never ends is delivered at once', async () => {
    const rx = await receiver((_req, res) => res.writeHead(200).write('accepted'));
    const outcome = await sender({ timeoutMs: 3000 }).send(target(rx.url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(outcome.ms).toBeLessThan(1500);
  });

  test('a subscription without a secret is not sent to (nothing unsigned leaves)', async () => {
    const rx = await answer(200);
    const outcome = await sender().send({ url: rx.url, secret: '', format: 'aegis' }, { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, retryable: false, error: 'the subscription has no signing secret' });
    expect(rx.connections).toBe(0);
  });

  test('nobody listening is a retryable network failure', async () => {
    const rx = await answer(200);
    const closed = rx.url;
    const s = servers.pop()!;
    await new Promise((r) => s.close(r));
    const outcome = await sender().send(target(closed), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, retryable: true });
    expect(outcome.error).toMatch(/ECONNREFUSED/);
    expect(outcome.status).toBeUndefined();
  });
});

describe('HttpWebhookSender: address rules (production-like: https only, no allowed networks)', () => {
  const lookup = table({
    'hooks.example.com': ['93.184.216.34'],
    'dual.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'internal.example.com': ['10.0.0.7'],
    'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
  });
  const prod = new HttpWebhookSender({ rules: PRODUCTION, timeoutMs: 2000, lookup });

  test.each([
    ['http://hooks.example.com/x', /^http:\/\/ is not allowed here: use https:\/\//],
    ['https://127.0.0.1/x', /^127\.0\.0\.1 is a loopback address \(127\.0\.0\.0\/8\); allow it with AEGIS_WEBHOOK_ALLOWED_CIDRS$/],
    ['https://10.0.0.1/x', /^10\.0\.0\.1 is a private address \(10\.0\.0\.0\/8\)/],
    ['https://169.254.169.254/latest/meta-data/', /^169\.254\.169\.254 is a link-local address .*\(169\.254\.0\.0\/16\)/],
    ['https://[::1]/x', /^::1 is the loopback address \(::1\/128\)/],
    ['https://[::ffff:127.0.0.1]/x', /^::ffff:7f00:1 is the IPv4-mapped form of 127\.0\.0\.1, a loopback address/],
    ['https://0.0.0.0/x', /^0\.0\.0\.0 is an unspecified .*\(0\.0\.0\.0\/8\)/],
    ['https://user:pw@hooks.example.com/x', /^the URL must not carry credentials/],
    ['https://internal.example.com/x', /^internal\.example\.com resolves to a refused address: 10\.0\.0\.7 is a private address/],
    ['https://mixed.example.com/x', /^mixed\.example\.com resolves to a refused address: 127\.0\.0\.1 is a loopback address/],
    ['https://nowhere.example.com/x', /^nowhere\.example\.com could not be resolved \(ENOTFOUND\)$/],
  ])('refusal(%s) names the rule', async (url, reason) => {
    await expect(prod.refusal(url)).resolves.toMatch(reason);
  });

  test('public addresses pass, by name and as literals (nothing is connected to)', async () => {
    await expect(prod.refusal('https://hooks.example.com/x')).resolves.toBeNull();
    await expect(prod.refusal('https://dual.example.com:8443/x')).resolves.toBeNull();
    await expect(prod.refusal('https://93.184.216.34/x')).resolves.toBeNull();
    await expect(prod.refusal('https://[2606:2800:220:1:248:1893:25c8:1946]/x')).resolves.toBeNull();
  });

  test('send refuses a refused URL before any connection, not retryably', async () => {
    for (const url of ['https://10.0.0.1/x', 'https://user:pw@hooks.example.com/x', 'http://hooks.example.com/x']) {
      const outcome = await prod.send(target(url), { event, attempt: 1 });
      expect(outcome).toMatchObject({ ok: false, retryable: false, error: expect.stringMatching(/^refused: /) });
      expect(outcome.error).not.toContain('pw');
    }
  });

  test('a name resolving to a refused address is refused at connect time: no connection is made', async () => {
    const rx = await answer(200);
    const rules = { allowHttp: true, allowedCidrs: [] };
    const hosts = table({ 'hooks.example.com': ['127.0.0.1'], 'internal.example.com': ['10.0.0.7'] });
    const s = new HttpWebhookSender({ rules, timeoutMs: 2000, lookup: hosts });
    for (const host of ['hooks.example.com', 'internal.example.com']) {
      const outcome = await s.send(target(`http://${host}:${rx.port}/x`), { event, attempt: 1 });
      expect(outcome).toMatchObject({
        ok: false,
        retryable: false,
        error: expect.stringMatching(`^refused: ${host} resolves to a refused address`),
      });
    }
    expect(hosts.calls).toEqual(['hooks.example.com', 'internal.example.com']);
    expect(rx.connections).toBe(0);
  });

  test('DNS rebinding: a name that passed refusal() and then resolves to loopback is refused at send', async () => {
    const rx = await answer(200);
    const hosts = table({ 'rebind.example.com': [['93.184.216.34'], ['127.0.0.1']] });
    const s = new HttpWebhookSender({ rules: { allowHttp: true, allowedCidrs: [] }, timeoutMs: 2000, lookup: hosts });
    const url = `http://rebind.example.com:${rx.port}/x`;
    await expect(s.refusal(url)).resolves.toBeNull();
    const outcome = await s.send(target(url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: false, retryable: false });
    expect(outcome.error).toMatch(/127\.0\.0\.1 is a loopback address/);
    expect(rx.connections).toBe(0);
  });

  test('a name resolving to an allowed network is delivered to, through the injected resolver', async () => {
    const rx = await answer(202);
    const hosts = table({ 'hooks.internal.test': ['127.0.0.1'] });
    const s = new HttpWebhookSender({ rules: LOOPBACK, timeoutMs: 2000, lookup: hosts });
    const outcome = await s.send(target(`http://hooks.internal.test:${rx.port}/x`), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: true, status: 202 });
    expect(rx.received[0]!.headers.host).toBe(`hooks.internal.test:${rx.port}`);
  });

  test('an invalid allowed network fails at construction', () => {
    expect(() => new HttpWebhookSender({ rules: { allowHttp: false, allowedCidrs: ['10.0.0.0/40'] }, timeoutMs: 1000 })).toThrow(
      /AEGIS_WEBHOOK_ALLOWED_CIDRS/,
    );
    expect(() => new HttpWebhookSender({ rules: PRODUCTION, timeoutMs: 0 })).toThrow(RangeError);
  });
});

describe('HttpWebhookSender over https', () => {
  let dir: string;
  let cert: Buffer;
  let key: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-webhook-tls-'));
    execFileSync(
      'openssl',
      // prettier-ignore
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'hook.key', '-out', 'hook.crt',
        '-subj', '/CN=hooks.example.test', '-addext', 'subjectAltName=DNS:hooks.example.test', '-days', '1'],
      { cwd: dir, stdio: 'pipe', input: '' },
    );
    cert = await readFile(join(dir, 'hook.crt'));
    key = await readFile(join(dir, 'hook.key'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('delivers to a name resolved through the rules, trusting the given CA; refuses an unknown certificate', async () => {
    const rx = await listen(createHttpsServer({ cert, key }), (_req, res) => res.writeHead(200).end(), 'https');
    const lookup = table({ 'hooks.example.test': ['127.0.0.1'] });
    const url = `https://hooks.example.test:${rx.port}/x`;
    const trusted = new HttpWebhookSender({
      rules: { allowHttp: false, allowedCidrs: ['127.0.0.1'] },
      timeoutMs: 3000,
      lookup,
      tls: { ca: cert },
    });
    const outcome = await trusted.send(target(url), { event, attempt: 1 });
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(JSON.parse(rx.received[0]!.body)).toEqual(event);
    const untrusted = new HttpWebhookSender({ rules: { allowHttp: false, allowedCidrs: ['127.0.0.1'] }, timeoutMs: 3000, lookup });
    const refused = await untrusted.send(target(url), { event, attempt: 1 });
    expect(refused).toMatchObject({ ok: false, retryable: true });
    expect(refused.error).toMatch(/certificate/);
    expect(rx.received).toHaveLength(1);
  });
});

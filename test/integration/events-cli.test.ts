/**
 * `aegis webhooks …` and `aegis events tail`, spawned as a user runs them, against the local
 * stack and a real receiver that checks every delivery's HMAC: create (the generated secret
 * printed once) → test fire → list/show → deliveries → replay of a dead letter → delete; secrets
 * from a file or stdin, never a flag; the tail against the chain as GET /v1/audit lists it,
 * waiting for the next event, stopped by a signal, retrying a 503, exiting on a 4xx.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../lib/kernel/audit-chain.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

let stack: Stack;
let receiver: Receiver;
let work: string;
let auditorToken: string;
let publisherToken: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-events-cli-'));
  // a refused delivery is retried once, 40 ms later, then goes to the dead letters
  stack = await startStack({ AEGIS_EVENT_RETRY_BASE_MS: '40', AEGIS_EVENT_MAX_ATTEMPTS: '2' });
  receiver = await startReceiver();
  auditorToken = (await stack.api('POST', '/v1/tokens', { principal: 'tail-auditor', role: 'auditor' })).body.token;
  publisherToken = (await stack.api('POST', '/v1/tokens', { principal: 'tail-publisher', role: 'publisher' })).body.token;
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await receiver?.close();
  await rm(work, { recursive: true, force: true });
});

const env = (token = stack.adminToken) => ({ AEGIS_URL: stack.url, AEGIS_TOKEN: token });
const aegis = (...args: string[]) => aegisCli(args, env());

let datasets = 0;
async function dataset(): Promise<string> {
  const id = `cli-events-ds-${++datasets}`;
  const res = await stack.api('POST', '/v1/datasets', { id, version: '1', checksum: `sha256:${'e'.repeat(64)}`, uri: `s3://x/${id}` });
  expect(res.status).toBe(201);
  return id;
}

const head = async () => Number((await stack.container.database.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow()).seq);

/** `aegis …` left running: its output as it comes, stdin to write to, and how it ended. */
function started(args: string[], token = stack.adminToken) {
  const { NODE_OPTIONS: _omit, ...base } = process.env;
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [join(process.cwd(), 'bin/aegis.js'), ...args], {
    env: { ...base, ...env(token) },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const ended = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  void ended.then(() => clearTimeout(timer));
  return {
    child,
    out,
    ended,
    /** waits until stderr says the tail follows the chain */
    async following(): Promise<void> {
      const deadline = Date.now() + 30_000;
      while (!/following events from seq/.test(out.stderr)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the tail did not start: ${out.stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** `aegis …` with `input` on stdin, to completion. */
async function withStdin(args: string[], input: string) {
  const p = started(args);
  p.child.stdin.end(input);
  const code = await p.ended;
  return { code, ...p.out };
}

describe('aegis webhooks', () => {
  it('create prints the generated secret once, test-fires, lists, shows, lists and replays a dead letter, deletes', async () => {
    const created = await aegis('webhooks', 'create', receiver.url, '--events', 'dataset.registered', '--description', 'cli test');
    expect(created.code).toBe(0);
    const id = /^created (wh_[0-9a-f-]{36})$/m.exec(created.stdout)![1]!;
    const secret = /^secret: (whsec_\S+)$/m.exec(created.stdout)![1]!;
    expect(created.stdout.split(secret)).toHaveLength(2); // once
    expect(created.stderr).toMatch(/warning: the secret of wh_\S+ is shown this once/);
    receiver.secret = secret;

    const fired = await aegis('webhooks', 'test', id);
    expect([fired.code, fired.stdout]).toEqual([0, expect.stringMatching(/^ok: wh_\S+ answered HTTP 204 in \d+ ms/)]);
    const test = receiver.deliveries[receiver.deliveries.length - 1]!;
    expect([test.signed, test.headers['x-aegis-test'], test.body.type]).toEqual([true, 'true', 'subscription.test']);
    receiver.fail(1, 503);
    const refused = await aegis('--json', 'webhooks', 'test', id);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, status: 503, error: expect.stringMatching(/HTTP 503/) });

    const listed = await aegis('webhooks', 'list');
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+aegis\\s+pending \\d+\\s+dead 0 .* ${receiver.url.replace(/[.]/g, '\\.')}`));
    const shown = JSON.parse((await aegis('--json', 'webhooks', 'show', id)).stdout);
    expect(shown).toEqual((await stack.api('GET', `/v1/webhooks/${id}`)).body);
    expect(shown).toMatchObject({ events: ['dataset.registered'], description: 'cli test', hasSecret: true });
    expect(JSON.stringify(shown)).not.toContain(secret);

    // refused twice (AEGIS_EVENT_MAX_ATTEMPTS=2): a dead letter, listed, then replayed
    receiver.fail(2);
    const dsId = await dataset();
    for (let i = 0; (await stack.api('GET', `/v1/webhooks/${id}`)).body.dead !== 1; i++) {
      if (i > 400) throw new Error('no dead letter');
      await new Promise((r) => setTimeout(r, 25));
    }
    const dead = await aegis('webhooks', 'deliveries', id, '--status', 'dead');
    expect(dead.stdout).toMatch(/^1 delivery\n\s+\d+\s+dead\s+dataset\.registered\s+attempts 2\s+HTTP 500/);
    const deadJson = JSON.parse((await aegis('--json', 'webhooks', 'deliveries', id, '--status', 'dead', '--limit', '5')).stdout);
    expect(deadJson.items).toEqual([expect.objectContaining({ eventType: 'dataset.registered', status: 'dead', attempts: 2 })]);
    const replayed = await aegis('webhooks', 'replay', id, '--seq', String(deadJson.items[0].seq));
    expect([replayed.code, replayed.stdout.trim()]).toEqual([0, `1 dead delivery of ${id} queued again`]);
    await receiver.until((events) => events.some((e) => e.type === 'dataset.registered' && (e.payload as { id: string }).id === dsId));
    expect(JSON.parse((await aegis('--json', 'webhooks', 'replay', id)).stdout)).toEqual({ requeued: 0 });

    const deleted = await aegis('webhooks', 'delete', id);
    expect([deleted.code, deleted.stdout.trim()]).toEqual([0, `deleted ${id}`]);
    const gone = await aegis('--json', 'webhooks', 'show', id);
    expect(gone.code).toBe(1);
    expect(JSON.parse(gone.stdout).error).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });

  it('takes a chosen secret from stdin or a file (never printed), generates and prints one on `secret`', async () => {
    const chosen = 'a-secret-from-stdin-0123456789';
    const created = await withStdin(
      ['--json', 'webhooks', 'create', receiver.url, '--events', 'dataset.*', '--secret-stdin'],
      `${chosen}\n`,
    );
    expect(created.code).toBe(0);
    const reply = JSON.parse(created.stdout);
    expect(reply.secret).toBeUndefined();
    expect(created.stdout + created.stderr).not.toContain(chosen);
    const id = reply.webhook.subscriptionId as string;
    receiver.secret = chosen;
    expect((await aegis('webhooks', 'test', id)).code).toBe(0);

    const file = join(work, 'secret.txt');
    await writeFile(file, 'another-secret-from-a-file-0123\n');
    const set = await aegis('webhooks', 'secret', id, '--secret-file', file);
    expect([set.code, set.stdout.trim(), set.stderr]).toEqual([0, `secret of ${id} set: deliveries are signed with it from now on`, '']);
    expect((await aegis('webhooks', 'test', id)).code).toBe(1); // the receiver still holds the old one
    receiver.secret = 'another-secret-from-a-file-0123';
    expect((await aegis('webhooks', 'test', id)).code).toBe(0);

    const generated = await aegis('webhooks', 'secret', id);
    receiver.secret = /^secret: (whsec_\S+)$/m.exec(generated.stdout)![1]!;
    expect(generated.stderr).toMatch(/shown this once/);
    expect((await aegis('webhooks', 'test', id)).code).toBe(0);
    expect((await aegis('webhooks', 'delete', id)).code).toBe(0);
  });

  it('refuses bad flags before any request (exit 2), and a refused subscription with the API message (exit 1)', async () => {
    const file = join(work, 'empty.txt');
    await writeFile(file, '\n');
    const usage: string[][] = [
      ['webhooks', 'create', receiver.url], // no --events
      ['webhooks', 'create', '--events', '*'], // no URL
      ['webhooks', 'create', receiver.url, '--events', '*', '--secret', 'in-the-shell-history-0123456'],
      ['webhooks', 'create', receiver.url, '--events', 'a,,b'],
      ['webhooks', 'create', receiver.url, '--events', '*', '--format', 'teams'],
      ['webhooks', 'create', receiver.url, '--events', '*', '--secret-file', file],
      ['webhooks', 'create', receiver.url, '--events', '*', '--secret-file', file, '--secret-stdin'],
      ['webhooks', 'replay', 'wh_x', '--seq', '0'],
      ['webhooks', 'deliveries', 'wh_x', '--status', 'lost'],
      ['webhooks', 'show'],
    ];
    const before = (await stack.api('GET', '/v1/webhooks')).body.items.length;
    for (const args of usage) expect([args, (await aegis(...args)).code]).toEqual([args, 2]);
    // --url is the API's address: after `webhooks` it would send the admin's request to the receiver
    const seen = receiver.deliveries.length;
    const url = await aegis('webhooks', 'create', receiver.url, '--events', '*', '--url', receiver.url);
    expect([url.code, url.stderr]).toEqual([
      2,
      expect.stringMatching(/--url is the API's address: give the receiver's URL as the argument/),
    ]);
    expect(receiver.deliveries).toHaveLength(seen);
    const missing = await aegis('webhooks', 'create', receiver.url, '--events', '*', '--secret-file', join(work, 'nope'));
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringMatching(/cannot read secret file .*nope: ENOENT/)]);
    const privateUrl = await aegis('--json', 'webhooks', 'create', 'http://10.1.2.3/hook', '--events', '*');
    expect(privateUrl.code).toBe(1);
    expect(JSON.parse(privateUrl.stdout).error).toMatchObject({ field: 'url', message: expect.stringMatching(/private address/) });
    const unknownType = await aegis('webhooks', 'create', receiver.url, '--events', 'promotion.nothing');
    expect([unknownType.code, unknownType.stderr]).toEqual([
      1,
      expect.stringMatching(
        /^aegis: promotion\.nothing is not an event type Aegis appends .*\(field: events\[0\]\) \[VALIDATION_FAILED 400\]/,
      ),
    ]);
    expect((await stack.api('GET', '/v1/webhooks')).body.items).toHaveLength(before);
    const notAdmin = await aegisCli(['webhooks', 'list'], env(auditorToken));
    expect(notAdmin.code).toBe(3);
  });
});

describe('aegis events tail', () => {
  it('--json --since prints exactly the chain events of the types asked, in order, as GET /v1/audit lists them', async () => {
    const since = (await head()) + 1;
    await dataset();
    const created = await stack.api('POST', '/v1/webhooks', { url: receiver.url, events: ['artifact.*'] });
    await dataset();
    await stack.api('DELETE', `/v1/webhooks/${created.body.webhook.subscriptionId}`);
    await stack.api('POST', '/v1/tokens', { principal: 'not-asked-for', role: 'reader' });
    const expected = ((await stack.api('GET', `/v1/audit?cursor=${since - 1}&limit=1000`)).body.items as AuditEvent[]).filter(
      (e) => e.type === 'dataset.registered' || e.type.startsWith('subscription.'),
    );
    expect(expected.map((e) => e.type)).toEqual([
      'dataset.registered',
      'subscription.created',
      'dataset.registered',
      'subscription.deleted',
    ]);

    const tail = await aegisCli(
      [
        'events',
        'tail',
        '--json',
        '--since',
        String(since),
        '--type',
        'dataset.registered,subscription.*',
        '--max',
        String(expected.length),
      ],
      env(auditorToken),
    );
    expect(tail.code).toBe(0);
    expect(
      tail.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(expected);
    expect(tail.stderr).toBe(`aegis: following events from seq ${since} of dataset.registered,subscription.* (Ctrl-C stops)\n`);

    const human = await aegisCli(['events', 'tail', '--since', String(since), '--type', 'subscription.*', '--max', '1'], env(auditorToken));
    const e = expected[1]!;
    expect(human.stdout).toBe(`${String(e.seq).padStart(6)}  ${e.ts}  ${e.type.padEnd(28)} ${e.subject}  by ${e.actor}\n`);
  });

  it('without --since waits for the next event of the type asked and prints it', async () => {
    await dataset(); // before the tail: not printed
    const tail = started(['events', 'tail', '--json', '--type', 'dataset.registered', '--max', '1'], auditorToken);
    await tail.following();
    await stack.api('POST', '/v1/tokens', { principal: 'skipped-by-the-filter', role: 'reader' });
    const id = await dataset();
    expect(await tail.ended).toBe(0);
    const lines = tail.out.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'dataset.registered', payload: { id } });
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('runs until %s, then exits 0 without a stack trace', async (signal) => {
    const tail = started(['events', 'tail'], auditorToken);
    await tail.following();
    const id = await dataset();
    for (let i = 0; !tail.out.stdout.includes('dataset.registered'); i++) {
      if (i > 400) throw new Error(`nothing printed: ${tail.out.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    tail.child.kill(signal);
    expect(await tail.ended).toBe(0);
    expect(tail.out.stdout).toMatch(new RegExp(`dataset\\.registered\\s+dataset:${id}@1\\s+by dev-admin`));
    expect(tail.out.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 with the API message on a 4xx, 3 for a role that may not read the chain, 2 on bad flags', async () => {
    const bad = await aegisCli(['events', 'tail', '--type', 'nothing.*'], env(auditorToken));
    expect([bad.code, bad.stderr]).toEqual([
      1,
      expect.stringMatching(
        /^aegis: nothing\.\* matches no event type Aegis appends \(field: query\.type\[0\]\) \[VALIDATION_FAILED 400\]/,
      ),
    ]);
    const json = await aegisCli(['--json', 'events', 'tail', '--type', 'nothing.*'], env(auditorToken));
    expect([json.code, JSON.parse(json.stdout).error]).toEqual([1, expect.objectContaining({ field: 'query.type[0]', status: 400 })]);
    expect((await aegisCli(['events', 'tail'], env(publisherToken))).code).toBe(3);
    for (const args of [
      ['--since', '0'],
      ['--since', 'soon'],
      ['--max', '-1'],
      ['--max', '1.5'],
      ['--types', 'x'],
    ])
      expect([args, (await aegisCli(['events', 'tail', ...args], env(auditorToken))).code]).toEqual([args, 2]);
  });

  it('retries a 503 and a dropped connection with backoff, saying so on stderr, then goes on from its cursor', async () => {
    const seen: string[] = [];
    const event = {
      seq: 7,
      eventId: 'e7',
      type: 'dataset.registered',
      actor: 'a',
      subject: 'dataset:x@1',
      payload: {},
      ts: '2026-01-01T00:00:00.000Z',
    };
    const server: Server = createServer((req, res) => {
      seen.push(req.url!);
      if (seen.length === 1)
        return res
          .writeHead(503, { 'content-type': 'application/json' })
          .end('{"error":{"code":"DATABASE_UNAVAILABLE","message":"try again"}}');
      if (seen.length === 2) return req.socket.destroy();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [event], cursor: 9 }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await aegisCli(['--retries', '0', 'events', 'tail', '--json', '--since', '7', '--max', '1'], {
        AEGIS_URL: url,
        AEGIS_TOKEN: 't',
      });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toEqual(event);
      expect(res.stderr).toMatch(/aegis: try again \[DATABASE_UNAVAILABLE 503\]; trying again in \d\.\d s\n/);
      expect(res.stderr).toMatch(/aegis: cannot reach .*; trying again in \d\.\d s\n/);
      expect(seen).toEqual(Array(3).fill('/v1/events?wait=20&limit=1&after=6'));
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startStack, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { COMMAND_MODULES } from '../../lib/clients/cli/commands.js';

/** What a user of the AWS CLI, gh or mlflow expects of `aegis`: version, exit codes, JSON errors, retries. */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const env = () => ({ AEGIS_URL: stack.url, AEGIS_TOKEN: stack.adminToken });

/** A server that answers each request with the next of `answers` (the last one repeats), counting requests. */
async function scripted(answers: ((res: ServerResponse) => void)[]): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    answers[Math.min(seen.length - 1, answers.length - 1)]!(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
const unavailable = (res: ServerResponse) =>
  res
    .writeHead(503, { 'content-type': 'application/json' })
    .end(JSON.stringify({ error: { code: 'DATABASE_UNAVAILABLE', message: 'try again', requestId: 'r1' } }));
const models = (res: ServerResponse) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [{ name: 'm1' }] }));

describe('aegis conventions', () => {
  it('prints its version with --version and exits 0', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const res = await aegisCli(['--version']);
    expect([res.code, res.stdout.trim()]).toEqual([0, version]);
    // after a program option that takes a value (it was "unknown option '--version'", exit 2)
    const after = await aegisCli(['--url', 'http://127.0.0.1:1', '--version']);
    expect([after.code, after.stdout.trim()]).toEqual([0, version]);
  });

  it("exits 2 on a usage error (unknown option, missing value, bad value), with commander's message", async () => {
    const unknown = await aegisCli(['list', '--no-such-flag'], env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--no-such-flag'/);
    const missing = await aegisCli(['get'], env());
    expect(missing.code).toBe(2);
    const bad = await aegisCli(['--timeout', 'soon', 'list'], env());
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--timeout must be a positive number/);
  });

  it('loads every command for --help and a mistyped command (commander lists and suggests from all), one for a run', async () => {
    const help = await aegisCli(['--help']);
    expect(help.code).toBe(0);
    const listed = [...help.stdout.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]);
    expect(listed).toEqual(['serve', ...COMMAND_MODULES.flatMap((m) => m.commands), 'help']);
    const typo = await aegisCli(['regster'], env());
    expect([typo.code, typo.stderr]).toEqual([2, expect.stringMatching(/unknown command 'regster'\n\(Did you mean register\?\)/)]);
    // a global option's value is not the command: `keys` runs (its own help), not `register`
    const keys = await aegisCli(['--token', 'register', 'keys', '--help']);
    expect([keys.code, keys.stdout]).toEqual([0, expect.stringContaining('Usage: aegis keys')]);
  });

  it('with --json, answers a refused request with a JSON error on stdout and the same exit code', async () => {
    const id = randomUUID();
    const plain = await aegisCli(['get', id], env());
    const json = await aegisCli(['--json', 'get', id], env());
    expect(plain.code).toBe(1);
    expect(json.code).toBe(plain.code);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'NOT_FOUND', message: expect.any(String), field: 'artifactId', status: 404, requestId: expect.any(String) },
    });
    const auth = await aegisCli(['--json', 'list'], { AEGIS_URL: stack.url, AEGIS_TOKEN: 'not-a-token' });
    expect(auth.code).toBe(3);
    expect(JSON.parse(auth.stdout).error).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    const usage = await aegisCli(['--json', 'list', '--no-such-flag'], env());
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({ error: { code: 'USAGE', message: expect.stringMatching(/unknown option/) } });
  });

  it('retries a read through two 503s and succeeds on the third attempt', async () => {
    const server = await scripted([unavailable, unavailable, models]);
    try {
      const res = await aegisCli(['--json', 'list'], { AEGIS_URL: server.url, AEGIS_TOKEN: 't' });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject({ items: [{ name: 'm1' }] });
      expect(server.seen).toEqual(Array(3).fill('GET /v1/registry/models?limit=50'));
    } finally {
      await server.close();
    }
  });

  it('gives up after --retries and exits 1 with the last answer; never repeats a write without an idempotency key', async () => {
    const server = await scripted([unavailable]);
    try {
      const read = await aegisCli(['--json', '--retries', '1', 'list'], { AEGIS_URL: server.url, AEGIS_TOKEN: 't' });
      expect(read.code).toBe(1);
      expect(JSON.parse(read.stdout).error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', status: 503 });
      expect(server.seen).toHaveLength(2);
      server.seen.length = 0;
      const write = await aegisCli(['--json', 'audit', 'archive'], { AEGIS_URL: server.url, AEGIS_TOKEN: 't' });
      expect(write.code).toBe(1);
      expect(server.seen).toEqual(['POST /v1/audit/archive']);
    } finally {
      await server.close();
    }
  });

  it('times out an attempt that gets no answer, and retries it', async () => {
    const server = await scripted([() => undefined]); // never answers
    try {
      const res = await aegisCli(['--json', '--timeout', '0.3', '--retries', '1', 'list'], { AEGIS_URL: server.url, AEGIS_TOKEN: 't' });
      expect(res.code).toBe(1);
      expect(JSON.parse(res.stdout).error).toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/within 0.3 s/) });
      expect(server.seen).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});

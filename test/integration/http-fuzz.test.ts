import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import fc from 'fast-check';
import { ROUTES } from '../../lib/platform/http/routes.js';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { ScriptedJudge, settled } from '../promotion/support.js';

/**
 * Fuzzes the HTTP surface of the local server: methods, paths (route templates with hostile
 * segments and escapes), queries, headers and bodies (JSON near the schemas, deep, with
 * duplicate keys, not JSON at all), as every role and none. Whatever arrives: no 5xx, the
 * process keeps serving, and the audit chain verifies afterwards. Fixed seed and run count.
 */
const SEED = Number(process.env.AEGIS_FUZZ_SEED ?? 9_2026);
const RUNS = Number(process.env.AEGIS_FUZZ_RUNS ?? 600);

let stack: Stack;
const tokens: Record<string, string> = {};
const known = { artifactId: '', promotionId: '', manifestSha256: '' };
const crashes: unknown[] = [];
const onCrash = (e: unknown) => crashes.push(e);

beforeAll(async () => {
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  stack = await startStack({}, { judge: new ScriptedJudge(), waitMs: 5 });
  for (const role of ['publisher', 'promoter', 'approver', 'operator', 'auditor'])
    tokens[role] = (await stack.api('POST', '/v1/tokens', { principal: `fuzz-${role}`, role })).body.token;
  tokens.admin = stack.adminToken;
  // real ids, so the fuzz reaches past "not found" on the id-taking routes
  const reg = await uploadAndRegister(stack, 'fuzz-model', randomBytes(500));
  known.artifactId = reg.body.artifactId;
  known.manifestSha256 = (await stack.api('GET', `/v1/registry/${known.artifactId}`)).body.manifestSha256;
  known.promotionId = (
    await stack.api('POST', `/v1/registry/${known.artifactId}/promote`, { targetEnv: 'staging', reason: 'fuzz' })
  ).body.promotionId;
  await settled(stack, known.promotionId);
}, 120_000);
afterAll(async () => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  await stack?.stop();
});

interface Reply {
  status: number;
  body: string;
}

/**
 * One request over a fresh connection, bytes exactly as given. The socket is not half-closed
 * (Node aborts in-flight requests of a client that does); it is ended only when the server
 * has not answered within the grace period. Status 0 when the server answers nothing.
 */
function send(bytes: Buffer, graceMs = 10_000): Promise<Reply> {
  const port = Number(new URL(stack.url).port);
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    socket.on('data', (d) => (data = Buffer.concat([data, d])));
    socket.on('error', () => undefined);
    const grace = setTimeout(() => socket.end(), graceMs);
    const hard = setTimeout(() => socket.destroy(), graceMs + 5_000);
    socket.on('close', () => {
      clearTimeout(grace);
      clearTimeout(hard);
      // skip interim 1xx replies (Expect: 100-continue)
      const text = data.toString('latin1').replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, body: text.slice(text.indexOf('\r\n\r\n') + 4, 2000) });
    });
    socket.write(bytes);
  });
}

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const printable = (max: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
// header values: anything but CR/LF (framing is fuzzed separately), including control and latin-1 bytes
const headerValue = fc.string({
  unit: fc
    .integer({ min: 0, max: 255 })
    .filter((c) => c !== 10 && c !== 13)
    .map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

const segment = fc.oneof(
  fc.uuid(),
  fc.constant('').map(() => known.artifactId),
  fc.constant('').map(() => known.promotionId),
  fc.constantFrom(
    'fuzz-model',
    'transactions',
    '2026-11',
    '1',
    '0',
    '-1',
    '99999999999',
    '..',
    '.',
    '%2e%2e',
    '%',
    '%zz',
    '%E0%A4%A',
    '%00',
    '%2F',
    '%C0%AF',
    'a'.repeat(300),
    'approver-1',
  ),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  printable(16).map((s) => s.replace(/[ ?#/]/g, '')),
);

const queryValue = fc.oneof(
  printable(20).map(encodeURIComponent),
  fc.constantFrom(
    '0',
    '1',
    '500',
    '1001',
    '-5',
    '1e3',
    'true',
    'false',
    '999999999999999999',
    '%zz',
    'artifact.registered',
    'x'.repeat(400),
  ),
);
const query = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('limit', 'cursor', 'subject', 'type', 'since', 'fromArchive'), printable(8).map(encodeURIComponent)),
      queryValue,
    ),
    { maxLength: 3 },
  )
  .map((kv) => (kv.length ? `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));

const templates = Object.values(ROUTES).map((r) => ({ method: r.method as string, path: r.path as string }));
const target = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.constantFrom(...templates), fc.array(segment, { minLength: 3, maxLength: 3 }), query)
      .map(([t, segs, q]) => ({ method: t.method, path: t.path.replace(/\{\w+\}/g, () => segs.shift() ?? 'x') + q })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(segment, { maxLength: 4 }), query)
      .map(([segs, q]) => ({ method: 'PUT', path: `/v1/uploads/artifacts/${segs.join('/')}${q}` })),
  },
  { weight: 1, arbitrary: fc.tuple(printable(40), query).map(([p, q]) => ({ method: 'GET', path: `/${p.replace(/ /g, '')}${q}` })) },
);
const method = (preferred: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(preferred) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') },
  );

const iso = fc.oneof(
  fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  printable(30),
);
const name = fc.oneof(fc.constantFrom('fuzz-model', 'fraud', 'transactions', 'a', 'UPPER', '../x', ''), printable(20));
// JSON near what each route parses: valid fields mixed with wrong types and unknown keys
const near = fc.oneof(
  fc.record({ modelName: name, size: fc.oneof(fc.integer({ min: -5, max: 10_000 }), fc.double()) }, { requiredKeys: [] }),
  fc.record(
    {
      uploadId: fc.uuid(),
      manifest: fc.oneof(
        fc.constant(null),
        fc.jsonValue({ maxDepth: 3 }),
        fc.constant('').map(() => manifestFor('fuzz-model', randomBytes(8))),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      id: name,
      version: name,
      checksum: fc.oneof(
        hex(64).map((h) => `sha256:${h}`),
        printable(20),
      ),
      uri: printable(30),
      schema: fc.jsonValue({ maxDepth: 4 }),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      targetEnv: fc.constantFrom('staging', 'canary', 'prod', 'moon'),
      reason: printable(30),
      canary: fc.record(
        {
          percent: fc.integer({ min: -1, max: 101 }),
          steps: fc.integer({ min: -1, max: 21 }),
          windowSeconds: fc.integer({ min: -1, max: 10 }),
        },
        { requiredKeys: [] },
      ),
      toArtifactId: fc.oneof(
        fc.uuid(),
        fc.constant('').map(() => known.artifactId),
      ),
      critical: fc.boolean(),
    },
    { requiredKeys: [] },
  ),
  fc.record({ approverId: name, signature: fc.base64String({ maxLength: 120 }), expiresAt: iso }, { requiredKeys: [] }),
  fc.record({ principal: name, role: fc.constantFrom('publisher', 'admin', 'auditor', 'root') }, { requiredKeys: [] }),
  fc.record(
    {
      kid: name,
      purpose: fc.constantFrom('approver', 'manifest', 'signoff'),
      publicKey: fc.base64String({ maxLength: 80 }),
      owner: name,
      notAfter: iso,
    },
    { requiredKeys: [] },
  ),
  // rotation without revoking the audit key: revoking it voids every event it signed, by design
  fc.record({ purpose: fc.constantFrom('manifest', 'audit', 'approver'), revoke: fc.constant(false) }, { requiredKeys: [] }),
  fc.record(
    { manifest: fc.dictionary(printable(10), fc.jsonValue({ maxDepth: 3 })), signature: fc.jsonValue({ maxDepth: 2 }) },
    { requiredKeys: [] },
  ),
);
const nested = (n: number, open: string, close: string, leaf = '1') => `${open.repeat(n)}${leaf}${close.repeat(n)}`;
const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(Buffer.alloc(0)) },
  { weight: 6, arbitrary: near.map((v) => Buffer.from(JSON.stringify(v))) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 60, max: 30_000 }), fc.boolean())
      .map(([n, obj]) =>
        Buffer.from(obj ? `{"schema":${nested(n, '{"a":', '}')},"manifest":${nested(n, '[', ']')}}` : nested(n, '[', ']')),
      ),
  },
  { weight: 1, arbitrary: near.map((v) => Buffer.from(JSON.stringify(v).replace(/^\{"([^"]+)":/, '{"$1":0,"$1":'))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: printable(200).map((s) => Buffer.from(s)) },
);
const headerName = fc.oneof(
  fc.constantFrom(
    'content-type',
    'idempotency-key',
    'x-forwarded-for',
    'accept',
    'expect',
    'authorization',
    'content-encoding',
    'host',
    'transfer-encoding',
  ),
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz-0123456789!#$%&*+.^_|~'), minLength: 1, maxLength: 12 }),
);
// mostly none or printable (deeper into the handlers); some with control and latin-1 bytes (the parser's refusals)
const extraHeaders = fc.oneof(
  { weight: 4, arbitrary: fc.constant<[string, string][]>([]) },
  { weight: 3, arbitrary: fc.array(fc.tuple(headerName, printable(40)), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.tuple(headerName, headerValue), { minLength: 1, maxLength: 3 }) },
);
const token = fc.oneof(
  { weight: 4, arbitrary: fc.constant('admin') },
  { weight: 4, arbitrary: fc.constantFrom('publisher', 'promoter', 'approver', 'operator', 'auditor') },
  { weight: 1, arbitrary: fc.constantFrom('none', 'bogus') },
);

const request = fc.record({ target, token, extraHeaders, body }).chain((r) => method(r.target.method).map((m) => ({ ...r, method: m })));

function serialise(r: { target: { path: string }; method: string; token: string; extraHeaders: [string, string][]; body: Buffer }): Buffer {
  let auth = '';
  if (r.token === 'bogus') auth = 'Authorization: Bearer aegis_not-a-token\r\n';
  else if (r.token !== 'none') auth = `Authorization: Bearer ${tokens[r.token]}\r\n`;
  // keys cannot be revoked or rotated with revoke by the fuzz: revoking the audit key voids the chain by design
  if (/\/v1\/keys\/[^/]+\/revoke/.test(r.target.path) && (r.token === 'admin' || r.token === 'operator'))
    auth = `Authorization: Bearer ${tokens.auditor}\r\n`;
  const headers = r.extraHeaders.map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const head = `${r.method} ${r.target.path} HTTP/1.1\r\nHost: fuzz\r\n${auth}${headers}Content-Length: ${r.body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), r.body]);
}

describe('HTTP fuzz of the local server', () => {
  it(`answers ${RUNS} generated requests without a 5xx, keeps serving, and the audit chain verifies`, async () => {
    const statuses = new Map<number, number>();
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const reply = await send(serialise(r));
        const code = /"code":"([A-Z_]+)"/.exec(reply.body)?.[1] ?? '';
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (reply.status >= 400 && !code && r.method !== 'HEAD')
          throw new Error(`${r.method} ${r.target.path} → ${reply.status} without a JSON error code: ${reply.body.slice(0, 200)}`);
        if (reply.status === 0 || reply.status >= 500) {
          throw new Error(`${r.method} ${r.target.path} → ${reply.status} ${reply.body.slice(0, 300)}`);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // a few framings the generator does not build: every one gets a coded 4xx or nothing, never a 5xx
    for (const raw of [
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /v1/datasets HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"a"',
      '\u0000\u0001\u0002 garbage\r\n\r\n',
      `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    ]) {
      const reply = await send(Buffer.from(raw, 'latin1'), 1_000);
      expect(reply.status).toBeLessThan(500);
    }
    expect([...statuses.keys()].filter((s) => s >= 500 || s === 0)).toEqual([]);
    // the generator reaches past the parser and the schemas, not only into the first refusal
    expect(statuses.get(200) ?? 0).toBeGreaterThan(RUNS / 20);
    expect([...codes.keys()].filter(Boolean).length).toBeGreaterThanOrEqual(8);
    expect(crashes).toEqual([]);
    expect((await stack.api('GET', '/healthz')).status).toBe(200);
    const verify = await stack.api('GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ ok: true, firstBreak: null });
  }, 120_000);
});

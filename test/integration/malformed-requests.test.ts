import { connect } from 'node:net';
import { createLocalServer, listen } from '../../lib/platform/http/local-server.js';
import { HANDLER_BUILDERS } from '../../lambdas/index.js';
import { startStack, type Stack } from '../support/local-stack.js';

/** Malformed input outside the body: a coded 4xx from the local server, never a 500 or a bare reply. */
let stack: Stack;
let port: number;
beforeAll(async () => {
  stack = await startStack();
  port = Number(new URL(stack.url).port);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: any;
}

/** Sends bytes exactly as given (fetch would normalise them) and reads the reply until the server closes or it is complete (ending after a grace period if the server waits for more). */
function raw(text: string | Buffer, p = port): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(p, '127.0.0.1');
    let data = Buffer.alloc(0);
    const done = () => {
      const s = data.toString('latin1');
      const head = s.slice(0, s.indexOf('\r\n\r\n'));
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      let body: unknown = s.slice(head.length + 4);
      if (headers['transfer-encoding'] === 'chunked') body = (body as string).replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '');
      try {
        body = JSON.parse(body as string);
      } catch {
        /* keep text */
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body });
    };
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      const s = data.toString('latin1');
      const end = s.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = /\r\ncontent-length: *(\d+)/i.exec(s.slice(0, end));
      if (len && data.length >= end + 4 + Number(len[1])) socket.destroy();
    });
    socket.on('close', done);
    socket.on('error', reject);
    // not half-closed: Node aborts the in-flight requests of a client that half-closes
    const grace = setTimeout(() => socket.end(), 5_000);
    socket.on('close', () => clearTimeout(grace));
    socket.setTimeout(15_000, () => socket.destroy());
    socket.write(text);
  });
}

const get = (target: string, extra = '') =>
  raw(`GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${stack.adminToken}\r\nConnection: close\r\n${extra}\r\n`);
const coded = (r: RawReply) => ({ status: r.status, code: r.body?.error?.code, field: r.body?.error?.field });

describe('the request line and the path', () => {
  it.each([
    ['a broken percent-escape in a path parameter', '/v1/registry/%E0%A4%A'],
    ['a lone percent sign', '/v1/registry/models/%/versions'],
    ['a broken escape in an upload key', '/v1/uploads/artifacts/m/%ZZ?exp=1&sig=00'],
  ])('answers %s with 400 INVALID_PATH_ENCODING', async (_name, target) => {
    const r = await (target.startsWith('/v1/uploads')
      ? raw(`PUT ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
      : get(target));
    expect(coded(r)).toEqual({ status: 400, code: 'INVALID_PATH_ENCODING', field: 'path' });
    expect(r.body.error.requestId).toEqual(expect.any(String));
    expect(r.headers['x-request-id']).toBe(r.body.error.requestId);
  });

  it('answers an unparsable absolute-form target with a coded 400', async () => {
    const r = await get('http://[::1');
    expect(coded(r)).toMatchObject({ status: 400, code: expect.stringMatching(/^(INVALID_PATH_ENCODING|MALFORMED_REQUEST)$/) });
  });

  it('answers a malformed query with a coded 400 naming the parameter', async () => {
    const r = await get('/v1/registry/models?limit=%ZZ');
    expect(coded(r)).toEqual({ status: 400, code: 'VALIDATION_FAILED', field: 'query.limit' });
    const nul = await get('/v1/registry/%00');
    expect(coded(nul)).toEqual({ status: 400, code: 'VALIDATION_FAILED', field: 'artifactId' });
  });

  it('names the request id in every error the local server itself answers (404, 405)', async () => {
    for (const r of [await get('/v1/nowhere'), await raw('DELETE /v1/registry/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]) {
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.body.error.requestId).toEqual(expect.any(String));
      expect(r.headers['x-request-id']).toBe(r.body.error.requestId);
    }
  });
});

describe('headers and framing', () => {
  it.each([
    ['a control character in a header value', 'X-Note: a\u0001b\r\n'],
    ['a non-numeric Content-Length', 'Content-Length: abc\r\n'],
    ['a header line without a colon', 'this is not a header\r\n'],
  ])('answers %s with 400 MALFORMED_REQUEST as JSON', async (_name, header) => {
    const r = await get('/v1/registry/models', header);
    expect(coded(r)).toEqual({ status: 400, code: 'MALFORMED_REQUEST', field: 'headers' });
    expect(r.headers['content-type']).toBe('application/json');
  });

  it('answers oversized headers with 431 HEADERS_TOO_LARGE as JSON', async () => {
    const r = await get('/v1/registry/models', `X-Big: ${'b'.repeat(64 * 1024)}\r\n`);
    expect(coded(r)).toEqual({ status: 431, code: 'HEADERS_TOO_LARGE', field: 'headers' });
  });

  it('answers a broken chunked body with 400, not 500, and writes nothing', async () => {
    const before = Number(
      (
        await stack.container.database.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    const r = await raw(
      `POST /v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${stack.adminToken}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n{"id"\r\nZZ\r\n`,
    );
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('MALFORMED_REQUEST');
    const after = Number(
      (
        await stack.container.database.db
          .selectFrom('audit_events')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
    expect(after).toBe(before);
  });

  it('answers a malformed Authorization header with 401, not 500', async () => {
    for (const value of ['Bearer', 'Bearer a b c', 'Basic Zm9vOmJhcg==', '\u00ff\u00fe']) {
      const r = await raw(
        Buffer.from(`GET /v1/registry/models HTTP/1.1\r\nHost: x\r\nAuthorization: ${value}\r\nConnection: close\r\n\r\n`, 'latin1'),
      );
      expect(coded(r)).toEqual({ status: 401, code: 'UNAUTHENTICATED', field: 'Authorization' });
    }
  });

  it('keeps serving after all of that', async () => {
    expect((await get('/healthz')).status).toBe(200);
  });
});

describe('server faults on paths the local server answers itself', () => {
  it('carries the request id in every 5xx body, on the upload path and the routes alike', async () => {
    const server = createLocalServer(HANDLER_BUILDERS, () => Promise.reject(new Error('database is unreachable')));
    const url = await listen(server, 0, '127.0.0.1');
    const p = Number(new URL(url).port);
    try {
      const logged = console.error;
      console.error = () => undefined;
      const upload = await raw(
        'PUT /v1/uploads/artifacts/m/x/artifact?exp=1&sig=00 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        p,
      );
      const route = await raw('GET /v1/registry/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', p);
      console.error = logged;
      for (const r of [upload, route]) {
        expect(r.status).toBeGreaterThanOrEqual(500);
        expect(r.body.error).toMatchObject({ code: expect.any(String), requestId: expect.any(String) });
        expect(r.headers['x-request-id']).toBe(r.body.error.requestId);
        expect(JSON.stringify(r.body)).not.toMatch(/unreachable/);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

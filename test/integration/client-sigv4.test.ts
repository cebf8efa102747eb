import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { AegisClient, ApiError } from '../../lib/clients/http/client.js';

/** What API Gateway's IAM authorization checks: a SigV4 signature over method, path, query, headers and body. */
describe('AegisClient SigV4 signing (AWS mode)', () => {
  it('signs requests for execute-api so that the signature recomputes from what was received', async () => {
    let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string } | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen = { method: req.method!, url: req.url!, headers: req.headers, body };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // secretlint-disable-next-line -- the AWS SigV4 test suite's published example credentials
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
    try {
      const client = new AegisClient({
        baseUrl: `http://127.0.0.1:${port}/prod`,
        sigv4: { region: 'eu-west-1', credentials: async () => credentials },
      });
      expect(await client.request('POST', '/v1/registry/verify-manifest?x=1&y=b&y=a', { manifest: {} })).toEqual({ ok: true });
    } finally {
      server.close();
    }
    expect(seen!.url).toBe('/prod/v1/registry/verify-manifest?x=1&y=b&y=a');
    const auth = String(seen!.headers.authorization);
    expect(auth).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*host[^,]*, Signature=[0-9a-f]{64}$/,
    );
    expect(seen!.headers.authorization).not.toMatch(/Bearer/);

    // Recompute the signature from the received request with the same clock.
    const amzDate = String(seen!.headers['x-amz-date']);
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)![1]!.split(';');
    const headers: Record<string, string> = {};
    for (const h of signedHeaders) headers[h] = String(seen!.headers[h]);
    const signer = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials, sha256: Sha256 });
    const when = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const again = await signer.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: '/prod/v1/registry/verify-manifest',
        query: { x: '1', y: ['b', 'a'] },
        headers,
        body: seen!.body,
      },
      { signingDate: when },
    );
    expect(/Signature=([0-9a-f]{64})/.exec(String(again.headers.authorization))![1]).toBe(/Signature=([0-9a-f]{64})/.exec(auth)![1]);
  });

  it('sends {} for a write without a body (API Gateway validates POST bodies as JSON objects) and nothing for a read', async () => {
    const seen: { method: string; body: string; type: string | undefined }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, body, type: req.headers['content-type'] });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = new AegisClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' });
      await client.request('POST', '/v1/audit/archive');
      await client.request('GET', '/v1/audit');
    } finally {
      server.close();
    }
    expect(seen).toEqual([
      { method: 'POST', body: '{}', type: 'application/json' },
      { method: 'GET', body: '', type: undefined },
    ]);
  });

  it('turns an unreachable API into a coded error that names the URL', async () => {
    const client = new AegisClient({ baseUrl: 'http://127.0.0.1:1' });
    const err = await client.request('GET', '/healthz').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('UNREACHABLE');
    expect((err as ApiError).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});

describe('aegis CLI with AEGIS_SIGV4=true (an API Gateway custom domain)', () => {
  it('signs requests to a non-execute-api URL with the region and credentials from the environment', async () => {
    const { aegisCli } = await import('../support/spawn.js');
    let auth = '';
    const server = createServer((req, res) => {
      auth = String(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"items":[],"nextCursor":null}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await aegisCli(['--json', 'list'], {
        AEGIS_URL: url,
        AEGIS_SIGV4: 'true',
        AWS_REGION: 'eu-central-1',
        AWS_ACCESS_KEY_ID: 'AKIDCLI',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AEGIS_TOKEN: 'must-not-be-sent',
      });
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      expect(auth).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDCLI\/\d{8}\/eu-central-1\/execute-api\/aws4_request/);
      const missing = await aegisCli(['list'], { AEGIS_URL: url, AEGIS_SIGV4: 'true', AWS_REGION: '', AWS_DEFAULT_REGION: '' });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/AEGIS_SIGV4=true needs AWS_REGION/);
    } finally {
      server.close();
    }
  });
});

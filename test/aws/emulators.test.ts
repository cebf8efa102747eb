import { request as httpRequest } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { SignatureV4 } from '@smithy/signature-v4';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { SfnWorkflows } from '../../lib/platform/adapters/workflows/sfn.js';
import { AegisClient, ApiError } from '../../lib/clients/http/client.js';
import { ROUTES, routePaths } from '../../lib/platform/http/routes.js';
import { API_ROUTE_IDS } from '../../lib/infra/api-functions.js';
import { logicalIdOf } from '../../lib/infra/pin.js';
import type { StepOutput } from '../../lib/modules/rollout/service.js';
import { stubProjectRoot, synthAegis } from '../infra/support.js';
import { MAX_REQUEST_BYTES, startApiGateway, type IamIdentity, type RunningApiGateway } from './support/api-gateway.js';
import { LambdaFunctionError, startStepFunctions, stateMachineArnFor, type RunningStepFunctions } from './support/step-functions.js';
import { generatedPhysicalName, getAttOf, refTarget, type CfnTemplate } from './support/template.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const PUBLISHER: IamIdentity & { accessKeyId: string } = {
  // secretlint-disable-next-line -- made-up access key ids for the SigV4 emulator
  accessKeyId: 'AKIAPUBLISHER0000001',
  secretAccessKey: 'publisher-secret-key-0000000000000000000',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/AegisPublisher/ci-run-7`,
};
const AUDITOR: IamIdentity & { accessKeyId: string } = {
  // secretlint-disable-next-line -- made-up access key ids for the SigV4 emulator
  accessKeyId: 'AKIAAUDITOR000000001',
  secretAccessKey: 'auditor-secret-key-00000000000000000000',
  arn: `arn:aws:iam::${ACCOUNT}:user/auditor`,
};
const IDENTITIES = { [PUBLISHER.accessKeyId]: PUBLISHER, [AUDITOR.accessKeyId]: AUDITOR };

let template: CfnTemplate;
/** route id → the logical id of its function, read from the construct tree (not from the template's methods) */
const functionOfRoute: Record<string, string> = {};
let rolloutStepId: string;

/** A minimal resolver of the kind the lead's runner provides: function ARNs, state machine ARNs, joins, pseudo parameters. */
function resolverFor(t: CfnTemplate) {
  const resolve = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const ref = refTarget(v);
    if (ref !== undefined) {
      const pseudo: Record<string, string> = {
        'AWS::Region': REGION,
        'AWS::AccountId': ACCOUNT,
        'AWS::Partition': 'aws',
        'AWS::URLSuffix': 'amazonaws.com',
      };
      if (pseudo[ref]) return pseudo[ref];
      const type = t.Resources[ref]?.Type;
      if (type === 'AWS::StepFunctions::StateMachine') return stateMachineArnFor(ref, t, REGION, ACCOUNT);
      if (type === 'AWS::Lambda::Function') return generatedPhysicalName(ref, 64);
      throw new Error(`test resolver: Ref ${ref} (${type})`);
    }
    const att = getAttOf(v);
    if (att) {
      const type = t.Resources[att[0]]?.Type;
      if (type === 'AWS::Lambda::Function' && att[1] === 'Arn')
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${generatedPhysicalName(att[0], 64)}`;
      if (type === 'AWS::IAM::Role' && att[1] === 'Arn') return `arn:aws:iam::${ACCOUNT}:role/${generatedPhysicalName(att[0], 64)}`;
      throw new Error(`test resolver: GetAtt ${att.join('.')}`);
    }
    if (v && typeof v === 'object' && 'Fn::Join' in v) {
      const [sep, parts] = (v as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
      return parts.map(resolve).join(sep);
    }
    throw new Error(`test resolver: ${JSON.stringify(v)}`);
  };
  return resolve;
}

beforeAll(() => {
  const { root, cleanup } = stubProjectRoot();
  try {
    const synth = synthAegis({ projectRoot: root });
    template = synth.template.toJSON() as CfnTemplate;
    for (const id of API_ROUTE_IDS) functionOfRoute[id] = logicalIdOf(synth.stack.apiFunctions.functions[id].function);
    rolloutStepId = logicalIdOf(synth.stack.rollouts.rolloutStep.function);
  } finally {
    cleanup();
  }
});

// ---------------------------------------------------------------------------------------------

/** A plain HTTP request with exactly these headers and body (no client conveniences). */
function send(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; raw: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function signedHeaders(
  url: string,
  method: string,
  body: string | undefined,
  creds: { accessKeyId: string; secretAccessKey: string },
  region = REGION,
): Promise<Record<string, string>> {
  const u = new URL(url);
  const query: Record<string, string | string[]> = {};
  for (const k of new Set(u.searchParams.keys())) query[k] = u.searchParams.getAll(k);
  const signer = new SignatureV4({ service: 'execute-api', region, credentials: creds, sha256: Sha256 });
  const signed = await signer.sign({
    method,
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query,
    headers: { host: u.host, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body }),
  });
  return signed.headers as Record<string, string>;
}

const sample = (path: string) => path.replace(/\{([A-Za-z0-9_]+)\}/g, (_, p: string) => `sample-${p}`);

describe('API Gateway emulator (from the synthesized template)', () => {
  let gw: RunningApiGateway;
  const seen: { fn: string; event: APIGatewayProxyEvent }[] = [];
  const gwLog: string[] = [];
  let behaviour: (fn: string, event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> = async (fn, event) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ fn, resource: event.resource }),
  });
  const publisher = () =>
    new AegisClient({
      baseUrl: gw.url,
      sigv4: {
        region: REGION,
        credentials: async () => ({ accessKeyId: PUBLISHER.accessKeyId, secretAccessKey: PUBLISHER.secretAccessKey }),
      },
    });

  beforeAll(async () => {
    gw = await startApiGateway({
      template,
      identities: IDENTITIES,
      region: REGION,
      accountId: ACCOUNT,
      log: (line) => gwLog.push(line),
      invoke: async (fn, event) => {
        seen.push({ fn, event });
        return behaviour(fn, event);
      },
    });
  });
  afterAll(() => gw.stop());
  beforeEach(() => {
    seen.length = 0;
  });

  it('builds its route table from the template: every deployed route, with its function, and nothing else', () => {
    expect(gw.stage).toBe('api');
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    // a route's deprecated paths are routes of their own, to the route's one function
    const expected = API_ROUTE_IDS.flatMap((id) =>
      routePaths(ROUTES[id]).map(({ path }) => ({ method: ROUTES[id].method, path, functionLogicalId: functionOfRoute[id] })),
    ).sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
    const got = gw.routes
      .map(({ method, path, functionLogicalId }) => ({ method, path, functionLogicalId }))
      .sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
    expect(got).toEqual(expected);
    expect(gw.routes.find((r) => r.path === '/v1/tokens')).toBeUndefined(); // local-only
    for (const r of gw.routes)
      expect(r.authorizationType).toBe(
        ROUTES[API_ROUTE_IDS.find((id) => routePaths(ROUTES[id]).some(({ path }) => path === r.path) && ROUTES[id].method === r.method)!]
          .roles === 'public'
          ? 'NONE'
          : 'AWS_IAM',
      );
  });

  it('reaches every deployed route at its path and method, signed, with the right function and resource', async () => {
    const client = publisher();
    for (const id of API_ROUTE_IDS) {
      const route = ROUTES[id];
      seen.length = 0;
      const reply = await client.request<{ fn: string; resource: string }>(
        route.method,
        sample(route.path),
        route.method === 'GET' ? undefined : {},
      );
      expect({ id, ...reply }).toEqual({ id, fn: functionOfRoute[id], resource: route.path });
      expect(seen).toHaveLength(1);
      const e = seen[0]!.event;
      expect(e.httpMethod).toBe(route.method);
      expect(e.path).toBe(sample(route.path));
      expect(e.requestContext.path).toBe(`/api${sample(route.path)}`);
      expect(e.requestContext.resourcePath).toBe(route.path);
      const params = [...route.path.matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!);
      expect(e.pathParameters).toEqual(params.length ? Object.fromEntries(params.map((p) => [p, `sample-${p}`])) : null);
    }
  });

  it('puts the SigV4 caller into requestContext.identity, as IAM authorization does', async () => {
    await publisher().request('GET', '/v1/keys');
    const { event } = seen[0]!;
    const id = event.requestContext.identity;
    expect(id.userArn).toBe(PUBLISHER.arn);
    expect(id.accessKey).toBe(PUBLISHER.accessKeyId);
    expect(id.accountId).toBe(ACCOUNT);
    expect(id.caller).toMatch(/^AROA[A-Z0-9]{17}:ci-run-7$/);
    expect(id.user).toBe(id.caller);
    expect(id.sourceIp).toBe('127.0.0.1');
    expect(event.requestContext).toMatchObject({
      stage: 'api',
      httpMethod: 'GET',
      accountId: ACCOUNT,
      apiId: gw.apiId,
      protocol: 'HTTP/1.1',
      resourcePath: '/v1/keys',
    });
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Math.abs(event.requestContext.requestTimeEpoch - Date.now())).toBeLessThan(10_000);
    expect(event.stageVariables).toBeNull();
    expect(event.body).toBeNull();
    expect(event.isBase64Encoded).toBe(false);

    seen.length = 0;
    const auditor = new AegisClient({
      baseUrl: gw.url,
      sigv4: { region: REGION, credentials: async () => ({ accessKeyId: AUDITOR.accessKeyId, secretAccessKey: AUDITOR.secretAccessKey }) },
    });
    await auditor.request('GET', '/v1/audit');
    expect(seen[0]!.event.requestContext.identity).toMatchObject({
      userArn: AUDITOR.arn,
      accessKey: AUDITOR.accessKeyId,
      caller: expect.stringMatching(/^AIDA[A-Z0-9]{17}$/),
    });

    // Public routes carry no identity.
    seen.length = 0;
    expect((await send(`${gw.url}healthz`)).status).toBe(200);
    expect(seen[0]!.event.requestContext.identity).toMatchObject({ userArn: null, accessKey: null, caller: null, sourceIp: '127.0.0.1' });
  });

  it('refuses a tampered body, a wrong secret, an unknown key, a wrong region and a missing signature with 403, using the template gateway responses', async () => {
    const url = `${gw.url}v1/registry/verify-manifest`;
    const body = JSON.stringify({ manifest: { name: 'm' } });
    const good = await signedHeaders(url, 'POST', body, PUBLISHER);
    const ok = await send(url, { method: 'POST', headers: good, body });
    expect(ok.status).toBe(200);
    expect(seen).toHaveLength(1);
    seen.length = 0;

    const tampered = await send(url, { method: 'POST', headers: good, body: body.replace('"m"', '"n"') });
    expect(tampered.status).toBe(403);
    expect(tampered.headers['x-amzn-errortype']).toBe('InvalidSignatureException');
    // The template customises INVALID_SIGNATURE with the handlers' error shape.
    expect(JSON.parse(tampered.body)).toEqual({
      error: { code: 'UNAUTHENTICATED', message: 'the SigV4 signature does not match', requestId: tampered.headers['x-amzn-requestid'] },
    });

    // Same body, but the declared content hash no longer matches it: still refused.
    const lied = await signedHeaders(url, 'POST', body.replace('"m"', '"n"'), PUBLISHER);
    expect((await send(url, { method: 'POST', headers: lied, body })).status).toBe(403);

    const wrongSecret = await signedHeaders(url, 'POST', body, { accessKeyId: PUBLISHER.accessKeyId, secretAccessKey: 'not-the-secret' });
    const r1 = await send(url, { method: 'POST', headers: wrongSecret, body });
    expect([r1.status, r1.headers['x-amzn-errortype']]).toEqual([403, 'InvalidSignatureException']);

    // secretlint-disable-next-line -- a made-up access key id the emulator does not know
    const unknown = await signedHeaders(url, 'POST', body, { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' });
    const r2 = await send(url, { method: 'POST', headers: unknown, body });
    expect([r2.status, r2.headers['x-amzn-errortype']]).toEqual([403, 'UnrecognizedClientException']);

    const otherRegion = await signedHeaders(url, 'POST', body, PUBLISHER, 'us-east-1');
    const r3 = await send(url, { method: 'POST', headers: otherRegion, body });
    expect(r3.status).toBe(403);

    const unsigned = await send(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    expect(JSON.parse(unsigned.body).error).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: 'no such route, or the request is not signed with SigV4',
    });

    // A signature made for another path does not open this one.
    const elsewhere = await signedHeaders(`${gw.url}v1/keys`, 'GET', undefined, PUBLISHER);
    expect((await send(`${gw.url}v1/audit`, { headers: elsewhere })).status).toBe(403);

    expect(seen).toHaveLength(0);
    const err = await new AegisClient({
      baseUrl: gw.url,
      sigv4: { region: REGION, credentials: async () => ({ accessKeyId: PUBLISHER.accessKeyId, secretAccessKey: 'wrong' }) },
    })
      .request('GET', '/v1/keys')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
    expect((err as ApiError).code).toBe('UNAUTHENTICATED');
  });

  it('refuses a signature older than five minutes', async () => {
    const url = `${gw.url}v1/keys`;
    const signer = new SignatureV4({ service: 'execute-api', region: REGION, credentials: PUBLISHER, sha256: Sha256 });
    const u = new URL(url);
    const old = await signer.sign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: u.hostname,
        port: Number(u.port),
        path: u.pathname,
        query: {},
        headers: { host: u.host },
      },
      { signingDate: new Date(Date.now() - 6 * 60_000) },
    );
    const r = await send(url, { headers: old.headers as Record<string, string> });
    expect(r.status).toBe(403);
    expect(seen).toHaveLength(0);
  });

  it('answers unknown paths, unknown methods and the wrong stage as API Gateway does (403)', async () => {
    const noRoute = await send(`${gw.url}v1/nothing-here`);
    expect(noRoute.status).toBe(403);
    expect(noRoute.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    expect(JSON.parse(noRoute.body).error.code).toBe('UNAUTHENTICATED');
    const wrongMethod = await send(`${gw.url}v1/keys`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(403);
    expect(wrongMethod.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    const intermediate = await send(`${gw.url}v1`);
    expect(intermediate.status).toBe(403);
    const wrongStage = await send(gw.url.replace('/api/', '/prod/') + 'healthz');
    expect([wrongStage.status, JSON.parse(wrongStage.body)]).toEqual([403, { message: 'Forbidden' }]);
    expect(seen).toHaveLength(0);
  });

  it('prefers literal segments to parameters, and URL-decodes path parameters', async () => {
    const client = publisher();
    await client.request('GET', '/v1/registry/models');
    await client.request('GET', '/v1/registry/promotions/art-1');
    await client.request('GET', '/v1/registry/art%2F1%20x');
    await client.request('GET', `/v1/registry/models/${encodeURIComponent('fraud model/é')}/versions/${encodeURIComponent('1.0+rc')}`);
    expect(seen.map((s) => s.fn)).toEqual([
      functionOfRoute.modelsList,
      functionOfRoute.promotionsByArtifact,
      functionOfRoute.artifactGet,
      functionOfRoute.versionGet,
    ]);
    // the four share the reads function: the resource tells its dispatcher which route it is
    expect(seen.map((s) => s.event.resource)).toEqual([
      '/v1/registry/models',
      '/v1/registry/promotions/{artifactId}',
      '/v1/registry/{artifactId}',
      '/v1/registry/models/{model}/versions/{version}',
    ]);
    expect(seen[2]!.event.pathParameters).toEqual({ artifactId: 'art/1 x' });
    expect(seen[2]!.event.path).toBe('/v1/registry/art%2F1%20x');
    expect(seen[3]!.event.pathParameters).toEqual({ model: 'fraud model/é', version: '1.0+rc' });
    expect(seen[3]!.event.resource).toBe('/v1/registry/models/{model}/versions/{version}');
  });

  it('passes query strings, single and multi-valued, decoded; null when absent', async () => {
    // Signed with every value of a repeated key (AegisClient signs only the last one: see the report).
    const url = `${gw.url}v1/audit?subject=promotion%3Ap%201&type=a&type=b&empty=`;
    expect((await send(url, { headers: await signedHeaders(url, 'GET', undefined, PUBLISHER) })).status).toBe(200);
    await publisher().request('GET', '/v1/audit');
    const [withQuery, without] = seen.map((s) => s.event);
    expect(withQuery!.queryStringParameters).toEqual({ subject: 'promotion:p 1', type: 'b', empty: '' });
    expect(withQuery!.multiValueQueryStringParameters).toEqual({ subject: ['promotion:p 1'], type: ['a', 'b'], empty: [''] });
    expect(without!.queryStringParameters).toBeNull();
    expect(without!.multiValueQueryStringParameters).toBeNull();
  });

  it('passes headers with their case, multi-valued headers, and the body as text', async () => {
    const url = `${gw.url}v1/registry/verify-manifest`;
    const body = JSON.stringify({ manifest: { é: 'ü' } });
    const h = await signedHeaders(url, 'POST', body, PUBLISHER);
    const res = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: 'POST',
          headers: [...Object.entries(h).flat(), 'X-Trace-Tag', 'one', 'X-Trace-Tag', 'two'] as unknown as Record<string, string>,
        },
        (r) => {
          r.resume();
          r.on('end', () => resolve(r.statusCode!));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(res).toBe(200);
    const e = seen[0]!.event;
    expect(e.headers['X-Trace-Tag']).toBe('two');
    expect(e.multiValueHeaders['X-Trace-Tag']).toEqual(['one', 'two']);
    expect(e.headers['X-Forwarded-For']).toBe('127.0.0.1');
    expect(e.headers['X-Amzn-Trace-Id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(e.body).toBe(body);
    expect(e.isBase64Encoded).toBe(false);
  });

  it('validates POST bodies against the template model before invoking (400, BAD_REQUEST_BODY response)', async () => {
    const url = `${gw.url}v1/keys/rotate`;
    for (const body of ['', '[1,2]', 'not json']) {
      const h = await signedHeaders(url, 'POST', body, PUBLISHER);
      const r = await send(url, { method: 'POST', headers: h, body });
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(JSON.parse(r.body).error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'body' });
    }
    expect(seen).toHaveLength(0);
  });

  it('maps the handler result back to HTTP: status, headers, multi-value headers, base64 bodies', async () => {
    behaviour = async () => ({
      statusCode: 201,
      headers: { 'content-type': 'application/octet-stream', 'x-one': 'a' },
      multiValueHeaders: { 'x-many': ['b', 'c'] },
      body: Buffer.from([0, 1, 2, 255]).toString('base64'),
      isBase64Encoded: true,
    });
    try {
      const r = await send(`${gw.url}healthz`);
      expect(r.status).toBe(201);
      expect(r.headers['content-type']).toBe('application/octet-stream');
      expect(r.headers['x-one']).toBe('a');
      expect(r.headers['x-many']).toBe('b, c');
      expect([...r.raw]).toEqual([0, 1, 2, 255]);
      expect(r.headers['x-amzn-requestid']).toBe(seen[0]!.event.requestContext.requestId);
    } finally {
      behaviour = async (fn, event) => ({
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fn, resource: event.resource }),
      });
    }
  });

  it('answers 502 {"message":"Internal server error"} when the handler throws or returns a malformed result', async () => {
    const results: (() => Promise<APIGatewayProxyResult>)[] = [
      async () => {
        throw new Error('boom');
      },
      async () => ({ statusCode: 200, body: { not: 'a string' } }) as unknown as APIGatewayProxyResult,
      async () => ({ body: 'no status' }) as unknown as APIGatewayProxyResult,
      async () => ({ statusCode: 200, body: 'x', cookies: ['a=b'] }) as unknown as APIGatewayProxyResult,
      async () => 'just a string' as unknown as APIGatewayProxyResult,
    ];
    gwLog.length = 0;
    try {
      for (const result of results) {
        behaviour = result;
        const r = await send(`${gw.url}healthz`);
        expect([r.status, JSON.parse(r.body)]).toEqual([502, { message: 'Internal server error' }]);
      }
      expect(gwLog).toHaveLength(results.length);
      expect(gwLog[0]).toMatch(/failed \(Lambda function error → 502\): Error: boom/);
      expect(gwLog[1]).toMatch(/Malformed Lambda proxy response \(body is object, not a string\)/);
      expect(gwLog[3]).toMatch(/unexpected fields cookies/);
    } finally {
      behaviour = async (fn, event) => ({
        statusCode: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fn, resource: event.resource }),
      });
    }
  });

  it('refuses a request body over 10 MB with 413 without invoking', async () => {
    const url = `${gw.url}v1/registry/verify-manifest`;
    const big = Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20);
    const r = await send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(big.length) },
      body: big,
    });
    expect([r.status, JSON.parse(r.body)]).toEqual([413, { message: 'Request Too Long' }]);
    const justUnder = `{"a":"${'x'.repeat(1024 * 1024)}"}`;
    const h = await signedHeaders(url, 'POST', justUnder, PUBLISHER);
    expect((await send(url, { method: 'POST', headers: h, body: justUnder })).status).toBe(200);
    expect(seen).toHaveLength(1);
  });
});

describe('API Gateway emulator: integration timeout and binary media types', () => {
  it('answers 504 when the function outlives the integration timeout', async () => {
    let release!: () => void;
    const gw = await startApiGateway({
      template,
      identities: IDENTITIES,
      region: REGION,
      integrationTimeoutMs: 150,
      invoke: () => new Promise((resolve) => (release = () => resolve({ statusCode: 200, body: 'late' }))),
    });
    try {
      const started = Date.now();
      const r = await send(`${gw.url}healthz`);
      expect([r.status, JSON.parse(r.body)]).toEqual([504, { message: 'Endpoint request timed out' }]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      release();
      await gw.stop();
    }
  });

  it('base64-encodes bodies whose content type is one of the API BinaryMediaTypes', async () => {
    const t = structuredClone(template);
    const [apiId] = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::ApiGateway::RestApi')!;
    t.Resources[apiId]!.Properties.BinaryMediaTypes = ['application/octet-stream'];
    const events: APIGatewayProxyEvent[] = [];
    const gw = await startApiGateway({
      template: t,
      identities: IDENTITIES,
      region: REGION,
      invoke: async (_fn, e) => (events.push(e), { statusCode: 200, body: '{}' }),
    });
    try {
      const url = `${gw.url}v1/registry/verify-manifest`;
      const bytes = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
      const u = new URL(url);
      const signer = new SignatureV4({ service: 'execute-api', region: REGION, credentials: PUBLISHER, sha256: Sha256 });
      const signed = await signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: u.hostname,
        port: Number(u.port),
        path: u.pathname,
        query: {},
        headers: { host: u.host, 'content-type': 'application/octet-stream' },
        body: bytes,
      });
      expect((await send(url, { method: 'POST', headers: signed.headers as Record<string, string>, body: bytes })).status).toBe(200);
      expect(events[0]!.isBase64Encoded).toBe(true);
      expect(Buffer.from(events[0]!.body!, 'base64')).toEqual(bytes);
    } finally {
      await gw.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('Step Functions emulator (from the synthesized template)', () => {
  const CREDS = { accessKeyId: 'AKIAROLLOUT', secretAccessKey: 'x' };
  let sfn: RunningStepFunctions;
  let client: SFNClient;
  const calls: { fn: string; payload: { action: string; promotionId: string; execution?: Record<string, unknown> } }[] = [];
  let script: (payload: { action: string; promotionId: string }, n: number) => Promise<unknown> = async () => {
    throw new Error('no script');
  };

  const rollout = (next: StepOutput['next'], extra: Partial<StepOutput> = {}): StepOutput => ({
    stage: 0,
    percent: 10,
    inconclusive: 0,
    windowSeconds: 300,
    next,
    ...extra,
  });

  beforeAll(async () => {
    sfn = await startStepFunctions({
      template,
      resolve: resolverFor(template),
      region: REGION,
      accountId: ACCOUNT,
      waitTimeScale: 0,
      retryIntervalMs: 1,
      invokeLambda: async (fn, payload) => {
        calls.push({ fn, payload: payload as (typeof calls)[number]['payload'] });
        return script(payload as { action: string; promotionId: string }, calls.length);
      },
    });
    client = new SFNClient({ endpoint: sfn.endpoint, region: REGION, credentials: CREDS });
  });
  afterAll(async () => {
    client.destroy();
    await sfn.stop();
  });
  beforeEach(() => {
    calls.length = 0;
  });

  it('reports the state machine ARNs the functions environment will hold', () => {
    // the rollout, drift and register machines, and the events example rule's retrain starter (a placeholder a team replaces)
    expect(Object.keys(sfn.stateMachineArns).sort()).toEqual([
      'DriftStateMachine',
      expect.stringMatching(/^EventsRetrainStarter[0-9A-F]{8}$/),
      'PromotionStateMachine',
      'RegisterStateMachine',
      'RollbackStateMachine',
    ]);
    for (const [id, arn] of Object.entries(sfn.stateMachineArns)) {
      expect(arn).toBe(stateMachineArnFor(id, template, REGION, ACCOUNT));
      expect(arn).toMatch(new RegExp(`^arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${id}-[A-Z0-9]{12}$`));
    }
    // The promote route's environment names the same machines once resolved.
    const promoteFn = template.Resources[functionOfRoute.promote!]!;
    const env = promoteFn.Properties.Environment.Variables as Record<string, unknown>;
    expect(resolverFor(template)(env.AEGIS_PROMOTION_STATE_MACHINE_ARN)).toBe(sfn.stateMachineArns.PromotionStateMachine);
    expect(resolverFor(template)(env.AEGIS_ROLLBACK_STATE_MACHINE_ARN)).toBe(sfn.stateMachineArns.RollbackStateMachine);
  });

  it('runs a promotion through canary, step-up and full promotion, every Task invoking the rollout-step function', async () => {
    const steps: Record<string, StepOutput[]> = {
      start: [rollout('wait')],
      evaluate: [
        rollout('wait', { verdict: 'inconclusive', inconclusive: 1 }),
        rollout('step-up', { verdict: 'pass' }),
        rollout('promote', { stage: 1, percent: 50, verdict: 'pass' }),
      ],
      stepUp: [rollout('wait', { stage: 1, percent: 50 })],
      promoteFully: [rollout('done', { stage: 1, percent: 100 })],
    };
    script = async (p) => steps[p.action]!.shift() ?? Promise.reject(new Error(`unexpected ${p.action}`));
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArns.PromotionStateMachine,
        name: 'promo-1',
        input: JSON.stringify({ promotionId: 'promo-1' }),
      }),
    );
    expect(started.executionArn).toBe(
      `arn:aws:states:${REGION}:${ACCOUNT}:execution:${sfn.stateMachineArns.PromotionStateMachine!.split(':').pop()}:promo-1`,
    );
    expect(started.startDate).toBeInstanceOf(Date);
    await sfn.waitFor(started.executionArn!);
    const d = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output!)).toEqual({ promotionId: 'promo-1', rollout: rollout('done', { stage: 1, percent: 100 }) });
    expect(d.stopDate!.getTime()).toBeGreaterThanOrEqual(d.startDate!.getTime());
    expect(calls.map((c) => [c.fn, c.payload.action])).toEqual([
      [rolloutStepId, 'start'],
      [rolloutStepId, 'evaluate'],
      [rolloutStepId, 'evaluate'],
      [rolloutStepId, 'stepUp'],
      [rolloutStepId, 'evaluate'],
      [rolloutStepId, 'promoteFully'],
    ]);
    expect(calls.every((c) => c.payload.promotionId === 'promo-1')).toBe(true);

    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
    const types = history.events!.map((e) => e.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    expect(types.filter((t) => t === 'WaitStateEntered')).toHaveLength(3);
    expect(history.events!.filter((e) => e.type === 'TaskStateEntered').map((e) => e.stateEnteredEventDetails!.name)).toEqual([
      'StartCanary',
      'Evaluate',
      'Evaluate',
      'StepUp',
      'Evaluate',
      'PromoteFully',
    ]);

    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn: sfn.stateMachineArns.PromotionStateMachine }));
    expect(listed.executions!.map((e) => [e.name, e.status])).toContainEqual(['promo-1', 'SUCCEEDED']);
  });

  it('refuses a reused execution name with ExecutionAlreadyExists (the SfnWorkflows adapter reads that as "already started")', async () => {
    script = async () => rollout('promote');
    const arn = sfn.stateMachineArns.PromotionStateMachine!;
    const first = await client.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'promo-dup', input: '{"promotionId":"promo-dup"}' }),
    );
    await sfn.waitFor(first.executionArn!);
    const again = await client
      .send(new StartExecutionCommand({ stateMachineArn: arn, name: 'promo-dup', input: '{"promotionId":"promo-dup"}' }))
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ExecutionAlreadyExists);
    expect((again as Error).message).toContain(first.executionArn);

    const adapter = new SfnWorkflows({ promotion: arn, rollback: sfn.stateMachineArns.RollbackStateMachine! }, client);
    expect(await adapter.start('promotion', 'promo-dup', { promotionId: 'promo-dup' })).toEqual({
      executionId: first.executionArn,
      started: false,
    });
    const fresh = await adapter.start('rollback', 'rb-1', { promotionId: 'rb-1' });
    expect(fresh.started).toBe(true);
    expect(fresh.executionId).toContain(':execution:');
    expect((await sfn.waitFor(fresh.executionId)).status).toBe('SUCCEEDED');
  });

  it('treats the same name and input while running as the same execution, and a different input as a conflict', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    script = async (p) => {
      if (p.action === 'start') await gate;
      return rollout('promote');
    };
    const arn = sfn.stateMachineArns.PromotionStateMachine!;
    const a = await client.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'promo-run', input: '{"promotionId":"promo-run"}' }),
    );
    const b = await client.send(
      new StartExecutionCommand({ stateMachineArn: arn, name: 'promo-run', input: '{"promotionId":"promo-run"}' }),
    );
    expect(b.executionArn).toBe(a.executionArn);
    const c = await client
      .send(new StartExecutionCommand({ stateMachineArn: arn, name: 'promo-run', input: '{"promotionId":"other"}' }))
      .catch((e: unknown) => e);
    expect(c).toBeInstanceOf(ExecutionAlreadyExists);
    expect((await client.send(new DescribeExecutionCommand({ executionArn: a.executionArn }))).status).toBe('RUNNING');
    release();
    expect((await sfn.waitFor(a.executionArn!)).status).toBe('SUCCEEDED');
    expect(calls.filter((x) => x.payload.action === 'start')).toHaveLength(1);
  });

  it('applies the ASL Retry to Lambda service errors and, bounded, to function errors, then Catch (rollback, then the RolledBack Fail state)', async () => {
    let serviceErrors = 2;
    script = async (p) => {
      if (p.action === 'start') {
        if (serviceErrors-- > 0) throw Object.assign(new Error('Rate exceeded'), { name: 'Lambda.TooManyRequestsException' });
        return rollout('wait');
      }
      if (p.action === 'evaluate') throw new LambdaFunctionError('AegisError', 'metrics source unreachable', ['at evaluate']);
      if (p.action === 'rollback') return rollout('done', { percent: 0 });
      throw new Error(`unexpected ${p.action}`);
    };
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArns.PromotionStateMachine,
        name: 'promo-err',
        input: '{"promotionId":"promo-err"}',
      }),
    );
    const record = await sfn.waitFor(started.executionArn!);
    expect(calls.map((c) => c.payload.action)).toEqual(['start', 'start', 'start', 'evaluate', 'evaluate', 'evaluate', 'rollback']);
    // A function error (a database blip in Evaluate) is retried twice (States.TaskFailed), then caught: rollback.
    const rollbackInput = calls[6]!.payload.execution!;
    expect(rollbackInput.error).toEqual({
      Error: 'AegisError',
      Cause: JSON.stringify({ errorMessage: 'metrics source unreachable', errorType: 'AegisError', trace: ['at evaluate'] }),
    });
    const d = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect([d.status, d.error, d.cause]).toEqual([
      'FAILED',
      'RolledBack',
      'the canary failed or a step errored; traffic is back on the stable artifact',
    ]);
    expect(record.tasks.map((t) => [t.state, t.error?.error ?? 'ok'])).toEqual([
      ['StartCanary', 'Lambda.TooManyRequestsException'],
      ['StartCanary', 'Lambda.TooManyRequestsException'],
      ['StartCanary', 'ok'],
      ['Evaluate', 'AegisError'],
      ['Evaluate', 'AegisError'],
      ['Evaluate', 'AegisError'],
      ['RollBack', 'ok'],
    ]);
    const history = await client.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
    expect(history.events!.filter((e) => e.type === 'LambdaFunctionFailed').map((e) => e.lambdaFunctionFailedEventDetails!.error)).toEqual([
      'Lambda.TooManyRequestsException',
      'Lambda.TooManyRequestsException',
      'AegisError',
      'AegisError',
      'AegisError',
    ]);
    expect(history.events!.at(-1)!.type).toBe('ExecutionFailed');
  });

  it('records a rollback that keeps failing and ends the promotion execution in RollbackFailed (its alarm fires)', async () => {
    script = async (p) => {
      if (p.action === 'start') return rollout('wait');
      if (p.action === 'evaluate') return rollout('rollback');
      if (p.action === 'rollback') throw new LambdaFunctionError('AegisError', 'routes table locked', ['at rollback']);
      if (p.action === 'fail') return rollout('done', { percent: 0 });
      throw new Error(`unexpected ${p.action}`);
    };
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArns.PromotionStateMachine,
        name: 'promo-rb-fail',
        input: '{"promotionId":"promo-rb-fail"}',
      }),
    );
    const record = await sfn.waitFor(started.executionArn!);
    // RollBack: 1 + 5 retries, caught → RecordRollbackFailure (the step records the failure), then the Fail state
    expect(calls.map((c) => c.payload.action)).toEqual(['start', 'evaluate', ...Array(6).fill('rollback'), 'fail']);
    expect(calls.at(-1)!.payload.execution!.error).toMatchObject({
      Error: 'AegisError',
      Cause: expect.stringContaining('routes table locked'),
    });
    expect([record.status, record.error]).toEqual(['FAILED', 'RollbackFailed']);
    expect(record.cause).toMatch(/canary route may still send traffic/);
  });

  it('gives up after MaxAttempts retries, surfaces a plain thrown Error with its name as the error type, and ends in the recorded failure state', async () => {
    script = async (p) => {
      if (p.action === 'promoteFully') throw new TypeError('cannot read properties of undefined');
      if (p.action === 'fail') throw Object.assign(new Error('still down'), { name: 'Lambda.ServiceException' });
      throw new Error(`unexpected ${p.action}`);
    };
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArns.RollbackStateMachine,
        name: 'rb-err',
        input: '{"promotionId":"rb-err"}',
      }),
    );
    const record = await sfn.waitFor(started.executionArn!);
    // SetRoute: 1 + 3 retries (States.ALL, MaxAttempts 3), caught → RecordFailure: 1 + 5 retries, caught → the Failed state.
    expect(calls.map((c) => c.payload.action)).toEqual([...Array(4).fill('promoteFully'), ...Array(6).fill('fail')]);
    expect(record.tasks[0]!.error!.error).toBe('TypeError');
    expect([record.status, record.error]).toEqual(['FAILED', 'RollbackFailed']);
    expect(record.cause).toMatch(/^setting the route failed after retries/);
  });

  it('stops a running execution (ABORTED) and rejects unknown machines and bad input with the SDK error shapes', async () => {
    let release!: () => void;
    script = async () => {
      await new Promise<void>((r) => (release = r));
      return rollout('promote');
    };
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: sfn.stateMachineArns.PromotionStateMachine,
        name: 'promo-stop',
        input: '{"promotionId":"promo-stop"}',
      }),
    );
    await new Promise((r) => setTimeout(r, 20));
    await client.send(new StopExecutionCommand({ executionArn: started.executionArn, error: 'Operator', cause: 'manual stop' }));
    release();
    expect((await sfn.waitFor(started.executionArn!)).status).toBe('ABORTED');
    const d = await client.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect([d.status, d.error, d.cause]).toEqual(['ABORTED', 'Operator', 'manual stop']);

    const missing = await client
      .send(new StartExecutionCommand({ stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:nope`, input: '{}' }))
      .catch((e: unknown) => e);
    expect((missing as Error).name).toBe('StateMachineDoesNotExist');
    const badInput = await client
      .send(new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArns.PromotionStateMachine, input: '{not json' }))
      .catch((e: unknown) => e);
    expect((badInput as Error).name).toBe('InvalidExecutionInput');
    const badName = await client
      .send(new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArns.PromotionStateMachine, name: 'has space', input: '{}' }))
      .catch((e: unknown) => e);
    expect((badName as Error).name).toBe('InvalidName');
    const noExec = await client
      .send(new DescribeExecutionCommand({ executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:x:y` }))
      .catch((e: unknown) => e);
    expect((noExec as Error).name).toBe('ExecutionDoesNotExist');
  });
});

describe('Step Functions emulator: the optimised Lambda integration, Map states, and tasks it cannot run', () => {
  /** A hand-written template: one function, machines using arn:aws:states:::lambda:invoke inside a Map, and a Task naming a foreign function. */
  const handWritten = (): CfnTemplate => ({
    Resources: {
      ScoreFn: { Type: 'AWS::Lambda::Function', Properties: {} },
      Scores: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          StateMachineName: 'scores',
          DefinitionString: {
            'Fn::Join': [
              '',
              [
                '{"StartAt":"Each","States":{"Each":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"Score","States":{"Score":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"',
                { 'Fn::GetAtt': ['ScoreFn', 'Arn'] },
                '","Payload":{"item.$":"$"}},"ResultSelector":{"score.$":"$.Payload.score","status.$":"$.StatusCode"},"End":true}}},"ResultPath":"$.scores","End":true}}}',
              ],
            ],
          },
        },
      },
      Foreign: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          DefinitionString:
            '{"StartAt":"Call","States":{"Call":{"Type":"Task","Resource":"${Other}","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},"Caught":{"Type":"Succeed"}}}',
          DefinitionSubstitutions: { Other: 'arn:aws:lambda:eu-west-1:999999999999:function:not-in-this-template' },
        },
      },
    },
  });

  it('wraps results as the optimised integration does ({ Payload, StatusCode, ... }) so ResultSelector works, inside a Map', async () => {
    const t = handWritten();
    const payloads: unknown[] = [];
    const sfn = await startStepFunctions({
      template: t,
      resolve: resolverFor(t),
      region: REGION,
      accountId: ACCOUNT,
      invokeLambda: async (fn, payload) => {
        expect(fn).toBe('ScoreFn');
        payloads.push(payload);
        return { score: (payload as { item: number }).item * 10 };
      },
    });
    const client = new SFNClient({ endpoint: sfn.endpoint, region: REGION, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      expect(sfn.stateMachineArns.Scores).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:scores`);
      const s = await client.send(new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArns.Scores, input: '{"items":[1,2,3]}' }));
      expect(s.executionArn).toMatch(/:execution:scores:[0-9a-f-]{36}$/);
      const r = await sfn.waitFor(s.executionArn!);
      expect(r.status).toBe('SUCCEEDED');
      expect(JSON.parse(r.output!)).toEqual({
        items: [1, 2, 3],
        scores: [
          { score: 10, status: 200 },
          { score: 20, status: 200 },
          { score: 30, status: 200 },
        ],
      });
      expect(payloads).toEqual([{ item: 1 }, { item: 2 }, { item: 3 }]);
      expect(r.tasks.every((x) => x.integration === 'lambda:invoke')).toBe(true);
    } finally {
      client.destroy();
      await sfn.stop();
    }
  });

  it('fails the execution, uncatchably, when a Task names something that is not a function of the template', async () => {
    const t = handWritten();
    let invoked = 0;
    const log: string[] = [];
    const sfn = await startStepFunctions({
      template: t,
      resolve: resolverFor(t),
      region: REGION,
      accountId: ACCOUNT,
      invokeLambda: async () => ++invoked,
      log: (l) => log.push(l),
    });
    const client = new SFNClient({ endpoint: sfn.endpoint, region: REGION, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const s = await client.send(new StartExecutionCommand({ stateMachineArn: sfn.stateMachineArns.Foreign, input: '{}' }));
      const r = await sfn.waitFor(s.executionArn!);
      expect([r.status, r.error]).toEqual(['FAILED', 'Emulator.UnsupportedTask']);
      expect(r.cause).toContain('arn:aws:lambda:eu-west-1:999999999999:function:not-in-this-template is not a function of the template');
      expect(invoked).toBe(0);
      expect(log).toEqual([expect.stringMatching(/failed: Task Call of Foreign: .*not a function of the template/)]);
    } finally {
      client.destroy();
      await sfn.stop();
    }
  });
});

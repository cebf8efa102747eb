import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { buildLocalContainer } from '../../lib/platform/composition/local.js';
import { loadCheckedConfig } from '../../lib/platform/config.js';
import type { Container } from '../../lib/platform/composition/container.js';
import { normalizePrincipalArn } from '../../lib/platform/adapters/auth/iam.js';
import { build as buildModelsList } from '../../lambdas/models-list.js';
import { build as buildKeysRotate } from '../../lambdas/keys-rotate.js';
import { build as buildVersionsList } from '../../lambdas/versions-list.js';
import { build as buildAuditList } from '../../lambdas/audit-list.js';

/**
 * The Lambda path as API Gateway drives it in AWS mode: IAM-authorised callers identified by
 * requestContext.identity.userArn and mapped to roles by AEGIS_IAM_ROLE_MAP.
 */
let dir: string;
let container: Container;
const CONSOLE_ORIGIN = 'https://d111abcdef8.cloudfront.net';
const POOL = 'cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aegis-iam-'));
  const config = loadCheckedConfig({
    DEV_ALLOW_EPHEMERAL: 'true',
    AEGIS_DATA_DIR: dir,
    NODE_ENV: 'test',
    AEGIS_CONSOLE_ORIGIN: CONSOLE_ORIGIN,
    AEGIS_IAM_ROLE_MAP: JSON.stringify({
      'arn:aws:iam::123456789012:role/Auditors': 'auditor',
      'arn:aws:iam::123456789012:role/Platform': 'operator',
      'arn:aws:iam::123456789012:role/FraudReaders': { role: 'auditor', prefixes: ['fraud-'] },
      'arn:aws:iam::123456789012:role/GrowthReaders': { role: 'auditor', teams: ['growth'] },
    }),
  });
  container = await buildLocalContainer(config, { mode: 'lambda', bootstrap: true, logger: { info() {}, warn() {}, error() {} } });
});
afterAll(async () => {
  await container?.close();
  await rm(dir, { recursive: true, force: true });
});

function event(method: string, path: string, userArn: string | null, body?: unknown): APIGatewayProxyEvent {
  return {
    resource: path,
    path,
    httpMethod: method,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { requestId: randomUUID(), identity: { userArn } } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}
const ctx = { awsRequestId: randomUUID() } as Context;

describe('Lambda handlers behind API Gateway IAM authorization', () => {
  it('maps an assumed-role session to its role and lets an auditor read', async () => {
    const handler = buildModelsList(async () => container);
    const res = await handler(event('GET', '/v1/registry/models', 'arn:aws:sts::123456789012:assumed-role/Auditors/alice'), ctx);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ items: [], nextCursor: null });
  });

  it('answers 403 to an IAM principal with no Aegis role and 401 without an identity', async () => {
    const handler = buildModelsList(async () => container);
    const unmapped = await handler(event('GET', '/v1/registry/models', 'arn:aws:iam::123456789012:user/mallory'), ctx);
    expect(unmapped.statusCode).toBe(403);
    expect(JSON.parse(unmapped.body).error.code).toBe('FORBIDDEN');
    const anonymous = await handler(event('GET', '/v1/registry/models', null), ctx);
    expect(anonymous.statusCode).toBe(401);
  });

  it('answers 403 when a mapped role may not call the route, and 200 when it may', async () => {
    const rotate = buildKeysRotate(async () => container);
    const denied = await rotate(
      event('POST', '/v1/keys/rotate', 'arn:aws:sts::123456789012:assumed-role/Auditors/alice', { purpose: 'audit' }),
      ctx,
    );
    expect(denied.statusCode).toBe(403);
    const allowed = await rotate(
      event('POST', '/v1/keys/rotate', 'arn:aws:sts::123456789012:assumed-role/Platform/bob', { purpose: 'audit' }),
      ctx,
    );
    expect(allowed.statusCode).toBe(200);
    expect(JSON.parse(allowed.body).current.kid).toBe('audit-signer-v2');
  });

  it('shows only a request id on a 5xx, never the internal error', async () => {
    const broken = buildModelsList(async () => {
      throw new Error('database password is hunter2');
    });
    const res = await broken(event('GET', '/v1/registry/models', 'arn:aws:iam::123456789012:role/Auditors'), ctx);
    expect(res.statusCode).toBe(500);
    const body = JSON.parse(res.body);
    expect(body.error).toEqual({ code: 'INTERNAL', message: 'internal error', requestId: expect.any(String) });
    expect(res.body).not.toMatch(/hunter2/);
  });

  it('holds a scoped role-map entry to its prefixes and teams: lists filtered, other models missing, global routes refused', async () => {
    const now = new Date();
    await container.database.db
      .insertInto('models')
      .values([
        { name: 'fraud-scorer', latest_version: 0, created_by: 'seed', created_at: now, team: null },
        { name: 'churn-model', latest_version: 0, created_by: 'seed', created_at: now, team: 'growth' },
      ])
      .execute();
    const list = buildModelsList(async () => container);
    const names = async (arn: string) =>
      JSON.parse((await list(event('GET', '/v1/registry/models', arn), ctx)).body).items.map((m: { name: string }) => m.name);
    expect(await names('arn:aws:sts::123456789012:assumed-role/FraudReaders/s1')).toEqual(['fraud-scorer']);
    expect(await names('arn:aws:sts::123456789012:assumed-role/GrowthReaders/s2')).toEqual(['churn-model']);
    expect(await names('arn:aws:iam::123456789012:role/Auditors')).toEqual(['churn-model', 'fraud-scorer']);

    const versions = buildVersionsList(async () => container);
    const hidden = await versions(
      {
        ...event('GET', '/v1/registry/models/churn-model/versions', 'arn:aws:iam::123456789012:role/FraudReaders'),
        pathParameters: { model: 'churn-model' },
      },
      ctx,
    );
    expect(hidden.statusCode).toBe(404);
    expect(JSON.parse(hidden.body).error).toMatchObject({ code: 'NOT_FOUND', message: 'no model churn-model', field: 'model' });

    const audit = await buildAuditList(async () => container)(
      event('GET', '/v1/audit', 'arn:aws:iam::123456789012:role/FraudReaders'),
      ctx,
    );
    expect(audit.statusCode).toBe(403);
    expect(JSON.parse(audit.body).error.message).toContain('needs a global one');
  });

  it('normalises assumed-role ARNs and leaves other ARNs alone', () => {
    expect(normalizePrincipalArn('arn:aws:sts::123456789012:assumed-role/Deployer/ci-run-7')).toBe(
      'arn:aws:iam::123456789012:role/Deployer',
    );
    expect(normalizePrincipalArn('arn:aws:iam::123456789012:user/alice')).toBe('arn:aws:iam::123456789012:user/alice');
  });

  it('names a console user (Cognito identity-pool credentials) cognito:<sub> in the audit chain, with their group role', async () => {
    const sub = '7b3c1f0e-2d4a-4e5b-9c6d-0123456789ab';
    const consoleEvent = (method: string, path: string, body?: unknown) => {
      const e = event(method, path, 'arn:aws:sts::123456789012:assumed-role/Platform/CognitoIdentityCredentials', body);
      (e.requestContext.identity as { cognitoAuthenticationProvider: string }).cognitoAuthenticationProvider =
        `${POOL},${POOL}:CognitoSignIn:${sub}`;
      return { ...e, headers: { Origin: CONSOLE_ORIGIN } };
    };
    const rotated = await buildKeysRotate(async () => container)(consoleEvent('POST', '/v1/keys/rotate', { purpose: 'manifest' }), ctx);
    expect(rotated.statusCode).toBe(200);
    // the console's origin may read the answer
    expect(rotated.headers).toMatchObject({ 'access-control-allow-origin': CONSOLE_ORIGIN, vary: 'Origin' });
    const audit = await buildAuditList(async () => container)(
      { ...event('GET', '/v1/audit', 'arn:aws:iam::123456789012:role/Auditors'), headers: { Origin: 'https://evil.example.com' } },
      ctx,
    );
    expect(audit.statusCode).toBe(200);
    expect(audit.headers?.['access-control-allow-origin']).toBeUndefined();
    const events = JSON.parse(audit.body).items as { type: string; actor: string }[];
    expect(events.filter((e) => e.actor === `cognito:${sub}`).map((e) => e.type)).toContain('key.rotated');
  });
});

/**
 * The console as deployed on AWS, on this machine, for the browser suites: the built files
 * served as CloudFront serves them (the SPA fallback, `config.json`, the template's CSP from
 * `consoleCsp`), and the three AWS hosts the browser calls, under their real names over HTTPS
 * (Chromium maps them to one local TLS front with --host-resolver-rules): the API
 * (aws-console-api.ts), Cognito Identity (moto_server, plus the token-based role mapping moto
 * lacks: an ID token naming no role is denied as the identity pool denies it) and the hosted
 * sign-in domain (cognito-hosted-ui.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { consoleCsp } from '../../lib/infra/console-hosting.js';
import type { IamIdentity } from '../aws/support/api-gateway.js';
import { ConsoleApi } from './aws-console-api.js';
import { HostedUiStandIn } from './cognito-hosted-ui.js';
import type { Stack } from './local-stack.js';
import type { Moto } from './moto.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
/** what moto's GetCredentialsForIdentity always returns */
export const MOTO_CREDENTIALS = { accessKeyId: 'TESTACCESSKEY12345', secretAccessKey: 'ABCSECRETKEY', sessionToken: 'ABC12345' };
export const READER_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/aegis-console-reader`;
const USER_POOL_ID = `${REGION}_AbCdEf123`;
const API_HOST = `a1b2c3d4e5.execute-api.${REGION}.amazonaws.com`;
const IDENTITY_HOST = `cognito-identity.${REGION}.amazonaws.com`;
const HOSTED_HOST = `aegis-test-${ACCOUNT}.auth.${REGION}.amazoncognito.com`;
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

export interface AwsConsole {
  /** `http://127.0.0.1:<port>`: the console's origin (CloudFront's, here) */
  url: string;
  config: Record<string, string>;
  csp: string;
  hostedUi: HostedUiStandIn;
  api: ConsoleApi;
  /** the access keys the API knows (a test may take one away: API Gateway then refuses its signatures) */
  identities: Record<string, IamIdentity>;
  /** `GetId` / `GetCredentialsForIdentity …` as the identity host received them */
  identityCalls: string[];
  /** hosts that drop every connection while set (a network failure) */
  outage: { identity: boolean };
  /** Chromium flags sending the AWS hosts to the local TLS front */
  browserArgs: string[];
  /** a request to an AWS host from this process (through the TLS front) */
  send(
    host: 'api' | 'hosted',
    path: string,
    init: { method: string; headers: Record<string, string>; body?: string },
  ): Promise<{ status: number; body: string; location?: string }>;
  stop(): Promise<void>;
}

const readAll = async (req: IncomingMessage) => {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
};
const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

export async function startAwsConsole(stack: Stack, moto: Moto, distDir = join(process.cwd(), 'dist/console')): Promise<AwsConsole> {
  const tls = await mkdtemp(join(tmpdir(), 'aegis-aws-console-'));
  // a self-signed certificate for the AWS host names (Chromium is told to accept it)
  const selfSigned =
    'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=aws.test -keyout key.pem -out cert.pem';
  const names = `subjectAltName=DNS:${API_HOST},DNS:${IDENTITY_HOST},DNS:${HOSTED_HOST}`;
  execFileSync('openssl', [...selfSigned.split(' '), '-addext', names], { cwd: tls, stdio: 'pipe' });
  const identityPoolId = await createIdentityPool(moto);

  const site = createServer();
  const url = `http://127.0.0.1:${await listen(site)}`;
  const config = {
    mode: 'aws',
    apiUrl: `https://${API_HOST}/prod/`,
    region: REGION,
    userPoolId: USER_POOL_ID,
    userPoolClientId: 'console-client-4f1e',
    identityPoolId,
    cognitoDomain: `https://${HOSTED_HOST}`,
  };
  const csp = consoleCsp(`https://${API_HOST}`, config.cognitoDomain, REGION);
  site.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', url).pathname;
    const headers = {
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    };
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      return void res.end(JSON.stringify(config));
    }
    const file = normalize(join(distDir, decodeURIComponent(path)));
    // CloudFront answers a missing key (S3's 403) with /index.html and 200: the console routes in the browser
    const served = file.startsWith(distDir) && existsSync(file) && statSync(file).isFile() ? file : join(distDir, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(served)] ?? 'application/octet-stream', ...headers });
    res.end(readFileSync(served));
  });

  const hostedUi = new HostedUiStandIn({
    region: REGION,
    userPoolId: USER_POOL_ID,
    clientId: config.userPoolClientId,
    callbackUrl: `${url}/`,
  });
  // moto hands every identity the same key: the one signed in last is the one behind it
  let lastSub: string | undefined;
  const provider = `cognito-idp.${REGION}.amazonaws.com/${USER_POOL_ID}`;
  const identities: Record<string, IamIdentity> = {
    [MOTO_CREDENTIALS.accessKeyId]: {
      ...MOTO_CREDENTIALS,
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/aegis-console-reader/CognitoIdentityCredentials`,
    },
  };
  const api = new ConsoleApi({
    container: stack.container,
    region: REGION,
    stage: 'prod',
    consoleOrigin: url,
    identities,
    roleMap: { [READER_ROLE_ARN]: { role: 'reader', scope: 'global' } },
    cognitoProvider: () => (lastSub ? `${provider},${provider}:CognitoSignIn:${lastSub}` : undefined),
  });
  const identityCalls: string[] = [];
  const identity = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const action = String(req.headers['x-amz-target'] ?? '').replace('AWSCognitoIdentityService.', '');
    if (req.method === 'POST') {
      identityCalls.push(action);
      const token = (JSON.parse(body.toString('utf8') || '{}') as { Logins?: Record<string, string> }).Logins?.[provider];
      const claims = token ? hostedUi.claims(token) : undefined;
      const deny = (type: string, message: string) => {
        res.writeHead(400, {
          'content-type': 'application/x-amz-json-1.1',
          'access-control-allow-origin': String(req.headers.origin ?? '*'),
        });
        res.end(JSON.stringify({ __type: type, message }));
      };
      if (!claims || (claims.exp as number) * 1000 < Date.now()) return deny('NotAuthorizedException', 'Invalid login token.');
      if (action === 'GetCredentialsForIdentity' && !claims['cognito:preferred_role'])
        return deny('InvalidParameterException', `The ambiguous role mapping rules for: ${provider} denied this request.`);
      if (action === 'GetCredentialsForIdentity') lastSub = String(claims.sub);
    }
    const upstream = new URL(moto.endpoint);
    const proxied = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: IDENTITY_HOST } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    proxied.end(body);
  };

  const front = createHttpsServer({ key: readFileSync(join(tls, 'key.pem')), cert: readFileSync(join(tls, 'cert.pem')) }, (req, res) => {
    void (async () => {
      const body = await readAll(req);
      const host = String(req.headers.host ?? '').replace(/:\d+$/, '');
      if (host === API_HOST) return api.handle(req, res, body);
      if (host === IDENTITY_HOST && outage.identity) return void req.socket.destroy();
      if (host === IDENTITY_HOST) return identity(req, res, body);
      if (host === HOSTED_HOST) return hostedUi.handle(req, res, body);
      res.writeHead(421).end();
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
  });
  const frontPort = await listen(front);
  const outage = { identity: false };
  const rules = [API_HOST, IDENTITY_HOST, HOSTED_HOST].map((h) => `MAP ${h} 127.0.0.1:${frontPort}`).join(',');

  return {
    url,
    config,
    csp,
    hostedUi,
    api,
    identities,
    identityCalls,
    outage,
    browserArgs: [`--host-resolver-rules=${rules}`],
    send: (target, path, init) =>
      new Promise((resolve, reject) => {
        const r = httpsRequest(
          {
            host: '127.0.0.1',
            port: frontPort,
            servername: target === 'api' ? API_HOST : HOSTED_HOST,
            rejectUnauthorized: false,
            method: init.method,
            path: target === 'api' ? `/prod${path}` : path,
            headers: { ...init.headers, host: target === 'api' ? API_HOST : HOSTED_HOST },
          },
          (res) =>
            void readAll(res).then(
              (b) =>
                resolve({
                  status: res.statusCode ?? 0,
                  body: b.toString('utf8'),
                  ...(res.headers.location && { location: res.headers.location }),
                }),
              reject,
            ),
        );
        r.on('error', reject);
        r.end(init.body);
      }),
    async stop() {
      front.closeAllConnections();
      site.closeAllConnections();
      await Promise.all([new Promise((r) => front.close(r)), new Promise((r) => site.close(r))]);
      await rm(tls, { recursive: true, force: true });
    },
  };
}

/** An identity pool in moto (it answers GetId only for a pool it knows). */
async function createIdentityPool(moto: Moto): Promise<string> {
  const res = await fetch(moto.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AWSCognitoIdentityService.CreateIdentityPool',
      // moto reads the service from the credential scope; it checks no signature
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${REGION}/cognito-identity/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify({ IdentityPoolName: 'aegis_console', AllowUnauthenticatedIdentities: false }),
  });
  const body = (await res.json()) as { IdentityPoolId?: string };
  if (!body.IdentityPoolId) throw new Error(`moto did not create the identity pool: ${JSON.stringify(body)}`);
  return body.IdentityPoolId;
}

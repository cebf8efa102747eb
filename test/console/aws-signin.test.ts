/**
 * The console as deployed on AWS, in real Chromium: sign-in on Cognito's hosted page (a
 * stand-in checking what Cognito checks) with PKCE, identity-pool credentials from moto_server,
 * every API call signed with SigV4 and verified as API Gateway verifies it, in front of the real
 * route handlers (test/support/aws-console.ts). The page's CSP is the template's; requests to
 * any origin it does not allow are failures.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { accessibilityViolations, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { READER_ROLE_ARN, startAwsConsole, type AwsConsole } from '../support/aws-console.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { startMoto, type Moto } from '../support/moto.js';

let s: Stack;
let moto: Moto;
let aws: AwsConsole;
let browser: Browsing;
const reader = { sub: randomUUID(), email: 'rita@example.com', groups: [{ name: 'reader', roleArn: READER_ROLE_ARN }] };

beforeAll(async () => {
  s = await startStack();
  for (const model of ['fraud-detector', 'churn-model']) expect((await uploadAndRegister(s, model, randomBytes(64))).status).toBe(201);
  const m = await startMoto();
  if (!m) throw new Error('moto_server is needed for the AWS console suite (Cognito Identity)');
  moto = m;
  aws = await startAwsConsole(s, moto);
  const allowed = [new URL(aws.config.apiUrl!).origin, `https://cognito-identity.${aws.config.region}.amazonaws.com`, aws.config.cognitoDomain!];
  browser = await launchBrowser(aws.url, { args: aws.browserArgs, allowedOrigins: allowed, ignoreHTTPSErrors: true });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await aws?.stop();
  await moto?.stop();
  await s?.stop();
});
afterEach(() => {
  expect(browser.problems.splice(0)).toEqual([]);
});

const storage = (page: Page) =>
  page.evaluate(() => {
    type Store = { length: number; key(i: number): string | null };
    const g = globalThis as unknown as { sessionStorage: Store; localStorage: Store };
    const keys = (st: Store) => Array.from({ length: st.length }, (_, i) => st.key(i)!);
    return { session: keys(g.sessionStorage), local: keys(g.localStorage) };
  });

/** Opens `path`, which shows the sign-in page, and signs in as the stand-in's user. */
async function signIn(path: string): Promise<Page> {
  const page = await browser.open(path);
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

test('signs in on the hosted page with PKCE, back where the user was going, every API call signed with SigV4', async () => {
  aws.hostedUi.user = reader;
  const signed: { path: string; headers: Record<string, string> }[] = [];
  const page = await browser.open('/keys');
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/prod/v1/') && r.method() === 'GET')
      void r.allHeaders().then((headers) => signed.push({ path: `${u.pathname.slice('/prod'.length)}${u.search}`, headers }));
  });
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'aws-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  // the code and state are gone from the address bar
  expect(page.url()).toBe(`${aws.url}/keys`);
  await page.getByText(`cognito:${reader.sub} · reader`).waitFor();
  await page.getByRole('navigation', { name: 'sections' }).getByRole('link', { name: 'Models' }).click();
  await page.getByRole('link', { name: 'fraud-detector' }).waitFor();
  await page.getByRole('link', { name: 'churn-model' }).waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'aws-models');

  expect(aws.hostedUi.calls.slice(0, 2)).toEqual(['GET /oauth2/authorize', 'POST /oauth2/token grant_type=authorization_code']);
  expect(aws.identityCalls).toEqual(['GetId', 'GetCredentialsForIdentity']);
  const paths = aws.api.calls.map((c) => `${c.method} ${c.path.replace(/\?.*$/, '')} ${c.status} ${c.signedBy ?? c.refused}`);
  expect(paths).toEqual(expect.arrayContaining(['GET /v1/whoami 200 TESTACCESSKEY12345', 'GET /v1/keys 200 TESTACCESSKEY12345', 'GET /v1/registry/models 200 TESTACCESSKEY12345']));
  expect(aws.api.calls.filter((c) => c.refused)).toEqual([]);
  expect(signed.length).toBeGreaterThanOrEqual(2);
  for (const { headers } of signed) {
    expect(headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=TESTACCESSKEY12345\/\d{8}\/us-east-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(headers['x-amz-security-token']).toBe('ABC12345');
  }
  // only the refresh token is kept, in this tab's sessionStorage
  expect(await storage(page)).toEqual({ session: ['aegis.refresh'], local: [] });

  // the same signed request replayed passes; for another path, or unsigned, API Gateway refuses it
  const models = signed.find((c) => c.path.startsWith('/v1/registry/models'))!;
  const replay = Object.fromEntries(Object.entries(models.headers).filter(([k]) => /^(authorization|x-amz-.*|accept)$/.test(k)));
  expect((await aws.send('api', models.path, { method: 'GET', headers: replay })).status).toBe(200);
  const tampered = await aws.send('api', '/v1/keys', { method: 'GET', headers: replay });
  expect(tampered.status).toBe(403);
  expect(JSON.parse(tampered.body).error.message).toMatch(/^The request signature we calculated does not match/);
  const unsigned = await aws.send('api', '/v1/registry/models', { method: 'GET', headers: { accept: 'application/json' } });
  expect(unsigned.status).toBe(403);
  expect(JSON.parse(unsigned.body).error).toMatchObject({ code: 'UNAUTHENTICATED', message: 'Missing Authentication Token' });
  await page.close();
});

/**
 * The console as deployed on AWS, in real Chromium: sign-in on Cognito's hosted page (a
 * stand-in checking what Cognito checks) with PKCE, identity-pool credentials from moto_server,
 * every API call signed with SigV4 and verified as API Gateway verifies it, in front of the real
 * route handlers (test/support/aws-console.ts). The page's CSP is the template's; requests to
 * any origin it does not allow are failures.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { accessibilityViolations, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { MOTO_CREDENTIALS, READER_ROLE_ARN, startAwsConsole, type AwsConsole } from '../support/aws-console.js';
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
  const allowed = [
    new URL(aws.config.apiUrl!).origin,
    `https://cognito-identity.${aws.config.region}.amazonaws.com`,
    aws.config.cognitoDomain!,
  ];
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
  expect(paths).toEqual(
    expect.arrayContaining([
      'GET /v1/whoami 200 TESTACCESSKEY12345',
      'GET /v1/keys 200 TESTACCESSKEY12345',
      'GET /v1/registry/models 200 TESTACCESSKEY12345',
    ]),
  );
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

test('a sign-in reply whose state is not the one this tab sent is refused with a message, its code never used', async () => {
  aws.hostedUi.user = reader;
  // someone else's genuine code (their own PKCE challenge), sent to this browser with their state
  const challenge = createHash('sha256').update('a'.repeat(43)).digest('base64url');
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: aws.config.userPoolClientId!,
    redirect_uri: `${aws.url}/`,
    scope: 'openid',
    state: 'their-state',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  const theirs = await aws.send('hosted', `/oauth2/authorize?${q.toString()}`, { method: 'GET', headers: {} });
  const code = new URL(theirs.location!).searchParams.get('code')!;
  const page = await browser.open('/');
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  await page.evaluate(() => {
    // this tab's own sign-in under way (what the Sign in button leaves before leaving for the hosted page)
    const g = globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } };
    g.sessionStorage.setItem('aegis.signin', JSON.stringify({ state: 'this-tabs-state', verifier: 'b'.repeat(43), returnTo: '/' }));
  });
  const tokenCalls = aws.hostedUi.calls.filter((c) => c.startsWith('POST /oauth2/token')).length;
  await page.goto(`${aws.url}/?code=${code}&state=their-state`);
  await page.getByRole('alert').getByText('its state does not match').waitFor();
  expect(page.url()).toBe(`${aws.url}/`);
  expect(await storage(page)).toEqual({ session: [], local: [] });
  expect(aws.hostedUi.calls.filter((c) => c.startsWith('POST /oauth2/token')).length).toBe(tokenCalls);
  // the code is still unused: its owner can still redeem it
  const redeemed = await aws.send('hosted', '/oauth2/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: aws.config.userPoolClientId!,
      code,
      redirect_uri: `${aws.url}/`,
      code_verifier: 'a'.repeat(43),
    }).toString(),
  });
  expect(redeemed.status).toBe(200);
  expect(await accessibilityViolations(page)).toEqual([]);
  await page.close();
});

test('a user in no group signs in but gets no credentials: the page says to ask for a group, and calls no API', async () => {
  aws.hostedUi.user = { sub: randomUUID(), email: 'nobody@example.com', groups: [] };
  const apiCalls = aws.api.calls.length;
  const page = await signIn('/models');
  await page.getByRole('alert').getByText('your account is in no Aegis group').waitFor();
  expect(aws.api.calls.length).toBe(apiCalls);
  expect(await storage(page)).toEqual({ session: [], local: [] });
  await screenshot(page, 'aws-no-group');
  // the browser logs the identity pool's 400 as a failed resource
  expect(browser.problems.splice(0).filter((p) => !p.includes('400'))).toEqual([]);
  await page.close();
});

test('a network failure while getting credentials offers a retry, which finishes the sign-in', async () => {
  aws.hostedUi.user = reader;
  aws.outage.identity = true;
  const page = await signIn('/models');
  await page.getByRole('alert').getByText('NETWORK').waitFor();
  aws.outage.identity = false;
  expect(browser.problems.splice(0).filter((p) => !p.includes('ERR_'))).toEqual([]);
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('link', { name: 'fraud-detector' }).waitFor();
  expect(page.url()).toBe(`${aws.url}/models`);
  await page.close();
});

test('signing out revokes the refresh token, clears the tab, and signs out of the hosted page', async () => {
  aws.hostedUi.user = reader;
  const page = await signIn('/models');
  await page.getByRole('link', { name: 'fraud-detector' }).waitFor();
  const refresh = await page.evaluate(() =>
    (globalThis as unknown as { sessionStorage: { getItem(k: string): string } }).sessionStorage.getItem('aegis.refresh'),
  );
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${aws.url}/`);
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  expect(aws.hostedUi.calls.slice(-2)).toEqual(['POST /oauth2/revoke', 'GET /logout']);
  expect(aws.hostedUi.revoked.has(refresh)).toBe(true);
  expect(await storage(page)).toEqual({ session: [], local: [] });
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  await page.close();
});

test('credentials the API refuses are renewed once; refused again, the page returns to sign-in saying why', async () => {
  aws.hostedUi.user = reader;
  const page = await signIn('/models');
  await page.getByRole('link', { name: 'fraud-detector' }).waitFor();
  const known = aws.identities[MOTO_CREDENTIALS.accessKeyId]!;
  aws.identities[MOTO_CREDENTIALS.accessKeyId] = { ...known, sessionToken: 'another-token' };
  const [tokens, identity] = [aws.hostedUi.calls.length, aws.identityCalls.length];
  try {
    await page.getByRole('navigation', { name: 'sections' }).getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('alert').getByText('Your session ended (The security token included in the request is invalid.)').waitFor();
  } finally {
    aws.identities[MOTO_CREDENTIALS.accessKeyId] = known;
  }
  // one renewal (new ID token, new credentials) and one retry, then signed out
  expect(aws.hostedUi.calls.slice(tokens)).toEqual(['POST /oauth2/token grant_type=refresh_token']);
  expect(aws.identityCalls.slice(identity)).toEqual(['GetCredentialsForIdentity']);
  expect(aws.api.calls.slice(-2).map((c) => `${c.path} ${c.status}`)).toEqual(['/v1/keys 403', '/v1/keys 403']);
  expect(await storage(page)).toEqual({ session: [], local: [] });
  // the browser logs the two 403s as failed resources
  expect(browser.problems.splice(0).filter((p) => !p.includes('403'))).toEqual([]);
  await page.close();
});

// last: the context's clock stays moved forward
test('credentials are renewed before they expire (refresh token → ID token → credentials); a revoked session leads back to sign-in', async () => {
  aws.hostedUi.user = reader;
  await browser.context.clock.install();
  const page = await signIn('/models');
  await page.getByRole('link', { name: 'fraud-detector' }).waitFor();
  const [tokens, identity] = [aws.hostedUi.calls.length, aws.identityCalls.length];
  // moto's credentials last 90 s: renewed in their last third
  await page.clock.fastForward(65_000);
  await page.getByRole('navigation', { name: 'sections' }).getByRole('link', { name: 'Keys' }).click();
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  await page.getByText('manifest', { exact: true }).first().waitFor();
  expect(aws.hostedUi.calls.slice(tokens)).toEqual(['POST /oauth2/token grant_type=refresh_token']);
  expect(aws.identityCalls.slice(identity)).toEqual(['GetCredentialsForIdentity']);
  expect(aws.api.calls.at(-1)).toMatchObject({ path: '/v1/keys', status: 200, signedBy: 'TESTACCESSKEY12345' });

  const refresh = await page.evaluate(() =>
    (globalThis as unknown as { sessionStorage: { getItem(k: string): string } }).sessionStorage.getItem('aegis.refresh'),
  );
  aws.hostedUi.revoked.add(refresh);
  await page.clock.fastForward(65_000);
  await page.getByRole('navigation', { name: 'sections' }).getByRole('link', { name: 'Models' }).click();
  await page.getByRole('alert').getByText('Your session ended').waitFor();
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  expect(await storage(page)).toEqual({ session: [], local: [] });
  // the browser logs the token endpoint's 400 as a failed resource
  expect(browser.problems.splice(0).filter((p) => !p.includes('400'))).toEqual([]);
  await page.close();
});

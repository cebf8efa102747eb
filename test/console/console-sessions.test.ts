/**
 * The local console's sign-in (lib/platform/http/{console-sessions,local-console}.ts) over real
 * HTTP: one-time links, pasted tokens, the cookie standing in for the token on API calls, CSRF on
 * state-changing calls, sign-out, revocation ending a session, and the console's static files
 * under their security headers.
 */
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '../support/local-stack.js';
import { consoleSignIn } from '../../lib/platform/composition/local-start.js';
import { loadCheckedConfig } from '../../lib/platform/config.js';

let s: Stack;
let consoleDir: string;

beforeAll(async () => {
  // a console build of its own: the test checks serving, not the bundle
  consoleDir = await mkdtemp(join(tmpdir(), 'aegis-console-'));
  await mkdir(join(consoleDir, 'assets'));
  await writeFile(
    join(consoleDir, 'index.html'),
    '<!doctype html><title>Aegis</title><script type="module" src="/assets/app-X1.js"></script>',
  );
  await writeFile(join(consoleDir, 'assets', 'app-X1.js'), 'console.log(1)');
  s = await startStack({ AEGIS_CONSOLE_DIR: consoleDir });
});
afterAll(async () => {
  await s.stop();
  await rm(consoleDir, { recursive: true, force: true });
});

const cookieOf = (res: Response): string => {
  const set = res.headers.get('set-cookie') ?? '';
  expect(set).toMatch(/^aegis_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  return set.split(';')[0]!;
};

async function signInWithToken(token: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${s.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { csrf: string; principal: string };
  return { cookie: cookieOf(res), csrf: body.csrf };
}

test('the one-time link the server prints opens a session once, and the cookie then calls the API as the admin', async () => {
  const config = loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: s.dataDir, NODE_ENV: 'test' });
  const link = (await consoleSignIn(config, s))!;
  expect(link).toMatch(new RegExp(`^${s.url}/session/login\\?code=[A-Za-z0-9_-]{43}$`));
  const first = await fetch(link, { redirect: 'manual' });
  expect(first.status).toBe(303);
  expect(first.headers.get('location')).toBe('/');
  const cookie = cookieOf(first);
  const who = await fetch(`${s.url}/v1/whoami`, { headers: { cookie } });
  expect(who.status).toBe(200);
  const me = (await who.json()) as { principal: string; role: string; scope: unknown; routes: string[] };
  expect(me).toMatchObject({ principal: 'dev-admin', role: 'admin', scope: 'global' });
  expect(me.routes).toEqual(expect.arrayContaining(['promote', 'keysRotate', 'auditVerify']));
  // spent: the same link again signs nobody in
  const again = await fetch(link, { redirect: 'manual' });
  expect(again.status).toBe(303);
  expect(again.headers.get('location')).toBe('/login?error=LOGIN_CODE_INVALID');
  expect(again.headers.get('set-cookie')).toBeNull();
});

test('a pasted token opens a session as its principal; whoami names the role and only the routes it may call', async () => {
  const created = await s.api('POST', '/v1/tokens', { principal: 'ann', role: 'auditor' });
  expect(created.status).toBe(201);
  const { cookie } = await signInWithToken(created.body.token);
  const me = (await (await fetch(`${s.url}/v1/whoami`, { headers: { cookie } })).json()) as {
    principal: string;
    role: string;
    routes: string[];
  };
  expect(me.principal).toBe('ann');
  expect(me.role).toBe('auditor');
  expect(me.routes).toContain('auditVerify');
  expect(me.routes).not.toContain('promote');
  expect(me.routes).not.toContain('keysRotate');
});

test('a state-changing call with the cookie needs the CSRF header: refused without it, nothing changed', async () => {
  const { cookie, csrf } = await signInWithToken(s.adminToken);
  const body = JSON.stringify({ principal: 'csrf-probe', role: 'reader' });
  const headers = { cookie, 'content-type': 'application/json' };
  const refused = await fetch(`${s.url}/v1/tokens`, { method: 'POST', headers, body });
  expect(refused.status).toBe(403);
  expect(((await refused.json()) as { error: { code: string; field: string } }).error).toMatchObject({
    code: 'CSRF_TOKEN_INVALID',
    field: 'x-aegis-csrf',
  });
  const wrong = await fetch(`${s.url}/v1/tokens`, { method: 'POST', headers: { ...headers, 'x-aegis-csrf': 'x'.repeat(43) }, body });
  expect(wrong.status).toBe(403);
  const listed = await s.api('GET', '/v1/tokens');
  expect(listed.body.items.map((t: { principal: string }) => t.principal)).not.toContain('csrf-probe');
  const ok = await fetch(`${s.url}/v1/tokens`, { method: 'POST', headers: { ...headers, 'x-aegis-csrf': csrf }, body });
  expect(ok.status).toBe(201);
});

test('revoking the token ends its sessions at once; signing out ends one', async () => {
  const created = await s.api('POST', '/v1/tokens', { principal: 'bob', role: 'reader' });
  const { cookie, csrf } = await signInWithToken(created.body.token);
  expect((await fetch(`${s.url}/v1/registry/models`, { headers: { cookie } })).status).toBe(200);
  expect((await s.api('POST', `/v1/tokens/${created.body.tokenId}/revoke`)).status).toBe(200);
  expect((await fetch(`${s.url}/v1/registry/models`, { headers: { cookie } })).status).toBe(401);

  const admin = await signInWithToken(s.adminToken);
  expect((await fetch(`${s.url}/session`, { headers: { cookie: admin.cookie } })).status).toBe(200);
  expect((await fetch(`${s.url}/session`, { method: 'DELETE', headers: { cookie: admin.cookie } })).status).toBe(403);
  const out = await fetch(`${s.url}/session`, { method: 'DELETE', headers: { cookie: admin.cookie, 'x-aegis-csrf': admin.csrf } });
  expect(out.status).toBe(200);
  expect(out.headers.get('set-cookie')).toMatch(/^aegis_session=; .*Max-Age=0/);
  expect((await fetch(`${s.url}/session`, { headers: { cookie: admin.cookie } })).status).toBe(401);
  expect((await fetch(`${s.url}/v1/registry/models`, { headers: { cookie: admin.cookie } })).status).toBe(401);
  void csrf;
});

test('bad sign-ins: an unknown token, a form post, a missing field — each a clear 4xx, no cookie', async () => {
  const unknown = await fetch(`${s.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: 'nope' }),
  });
  expect(unknown.status).toBe(401);
  expect(unknown.headers.get('set-cookie')).toBeNull();
  const form = await fetch(`${s.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${s.adminToken}`,
  });
  expect(form.status).toBe(415);
  expect(((await form.json()) as { error: { field: string } }).error.field).toBe('content-type');
  const missing = await fetch(`${s.url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(missing.status).toBe(400);
  expect(((await missing.json()) as { error: { field: string } }).error.field).toBe('token');
});

test('aegis console: a bearer token asks for a sign-in link of its own', async () => {
  const res = await fetch(`${s.url}/session/codes`, { method: 'POST', headers: { authorization: `Bearer ${s.adminToken}` } });
  expect(res.status).toBe(201);
  const { path } = (await res.json()) as { path: string };
  const opened = await fetch(`${s.url}${path}`, { redirect: 'manual' });
  expect(opened.headers.get('location')).toBe('/');
  const without = await fetch(`${s.url}/session/codes`, { method: 'POST' });
  expect(without.status).toBe(401);
});

test('the console pages and assets carry a strict CSP; unknown files are 404; the API paths stay the API', async () => {
  for (const path of ['/', '/models/fraud?cursor=abc', '/audit']) {
    const page = await fetch(`${s.url}${path}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self'; style-src 'self'/);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(await page.text()).toContain('/assets/app-X1.js');
  }
  const asset = await fetch(`${s.url}/assets/app-X1.js`);
  expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  expect(asset.headers.get('cache-control')).toContain('immutable');
  expect((await fetch(`${s.url}/assets/missing.js`)).status).toBe(404);
  expect((await fetch(`${s.url}/assets/..%2f..%2fadmin.token`)).status).toBe(404);
  const api = await fetch(`${s.url}/v1/nope`);
  expect(api.status).toBe(404);
  expect(((await api.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND');
});

test('the local server tells the console it runs locally (/config.json), under the console CSP, without a session', async () => {
  const res = await fetch(`${s.url}/config.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('content-security-policy')).toMatch(/connect-src 'self';/);
  expect(await res.json()).toEqual({ mode: 'local' });
});

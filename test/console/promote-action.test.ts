/**
 * The artifact page's Promote button in real Chromium against a real local server: an admin
 * promotes from the page with an audited reason and lands on the promotion, which succeeds; an
 * auditor sees no button, and the server refuses the call if the auditor's session forces it;
 * a refused promotion (a tampered artifact) shows the API's code on the page and goes nowhere.
 */
import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { accessibilityViolations, eventually, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { flipByte, storedVersionFile } from '../support/tamper.js';

let s: Stack;
let browser: Browsing;
let artifact: string;
let tampered: string;
let auditorToken: string;

async function registered(model: string): Promise<string> {
  const r = await uploadAndRegister(s, model, randomBytes(900));
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}
const signIn = async (token: string) => {
  const r = await browser.context.request.post(`${s.url}/session`, { data: { token } });
  expect(r.status()).toBe(200);
};
const promotionsOf = async (id: string) => (await s.api('GET', `/v1/artifacts/${id}/promotions`)).body.items as { status: string }[];

beforeAll(async () => {
  s = await startStack({}, { waitMs: 5 });
  artifact = await registered('churn');
  tampered = await registered('fraud');
  // flip one byte of the stored artifact, as an attacker with storage access would
  const rec = (await s.api('GET', `/v1/artifacts/${tampered}`)).body;
  await flipByte(storedVersionFile(s.dataDir, rec.storage), 100);
  auditorToken = (await s.api('POST', '/v1/tokens', { principal: 'audrey', role: 'auditor' })).body.token;
  browser = await launchBrowser(s.url);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});
afterEach(() => {
  expect(browser.problems.splice(0)).toEqual([]);
});

test('an auditor sees no Promote button, and the server refuses the promotion if the session forces it', async () => {
  await signIn(auditorToken);
  const page = await browser.open(`/artifacts/${artifact}`);
  await page.getByText('audrey · auditor').waitFor();
  await page.getByRole('heading', { name: 'Verification' }).waitFor();
  await page.getByText('Verified', { exact: true }).waitFor();
  expect(await page.getByRole('button', { name: /Promote/ }).count()).toBe(0);
  // forced: the same call the form makes, from the auditor's signed-in page, with the session's CSRF token
  const forced = await page.evaluate(async (id) => {
    const f = (globalThis as unknown as { fetch: typeof fetch }).fetch;
    const { csrf } = (await (await f('/session')).json()) as { csrf: string };
    const res = await f(`/v1/artifacts/${id}/promote`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aegis-csrf': csrf },
      body: JSON.stringify({ targetEnv: 'staging', reason: 'forced' }),
    });
    return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
  }, artifact);
  expect(forced).toEqual({ status: 403, code: 'FORBIDDEN' });
  // the browser logs the refused call; nothing else went wrong
  expect(browser.problems.splice(0)).toEqual([expect.stringMatching(/status of 403 \(Forbidden\)$/)]);
  expect(await promotionsOf(artifact)).toEqual([]);
  await page.close();
});

test('an admin promotes from the artifact page with a reason and lands on the promotion, which succeeds', async () => {
  await signIn(s.adminToken);
  const page = await browser.open(`/artifacts/${artifact}`);
  await page.getByText('dev-admin · admin').waitFor();
  await page.getByRole('button', { name: 'Promote…' }).click();
  await page.getByLabel('Environment', { exact: true }).selectOption('staging');
  await page.getByLabel('Reason (audited)').fill('passed offline evaluation');
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'artifact-promote');
  await page.getByRole('button', { name: 'Confirm: promote to staging' }).click();
  await page.waitForURL(new RegExp(`${s.url}/promotions/[0-9a-f-]{36}$`));
  const promotionId = page.url().split('/').at(-1)!;
  await page.getByText('succeeded', { exact: true }).first().waitFor({ timeout: 15_000 });
  const p = (await s.api('GET', `/v1/promotions/${promotionId}`)).body;
  expect(p).toMatchObject({ artifactId: artifact, targetEnv: 'staging', status: 'succeeded', reason: 'passed offline evaluation' });
  expect(await eventually(async () => (await promotionsOf(artifact)).length, 1)).toBe(1);
  await page.close();
});

test("a refused promotion shows the API's code on the page and opens nothing", async () => {
  await signIn(s.adminToken);
  const expected = (await s.api('POST', `/v1/artifacts/${tampered}/promote`, { targetEnv: 'staging', reason: 'probe' })).body.error;
  expect(expected.code).toMatch(/^[A-Z_]+$/);
  const page = await browser.open(`/artifacts/${tampered}`);
  await page.getByText('dev-admin · admin').waitFor();
  await page.getByRole('button', { name: 'Promote…' }).click();
  await page.getByLabel('Reason (audited)').fill('should not pass');
  await page.getByRole('button', { name: 'Confirm: promote to staging' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'Refused:' });
  await alert.waitFor();
  expect(await alert.textContent()).toContain(expected.code);
  expect(page.url()).toBe(`${s.url}/artifacts/${tampered}`);
  expect(browser.problems.splice(0)).toEqual([expect.stringMatching(/status of 4\d\d /)]);
  await page.close();
});

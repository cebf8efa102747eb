/**
 * The promotion page's Abort button in real Chromium against a real local server: a canary held
 * mid-window by the judge is rolling out; a reader sees it without the button; an admin aborts it
 * from the page with an audited reason, and the page shows the rollout rolled back by the abort.
 */
import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { accessibilityViolations, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { ScriptedJudge, settled } from '../promotion/support.js';

const judge = new ScriptedJudge();
let s: Stack;
let browser: Browsing;
let rolling: string;
let readerToken: string;

async function registered(model: string): Promise<string> {
  const r = await uploadAndRegister(s, model, randomBytes(700));
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}
const promote = (artifactId: string, steps: number) =>
  s.api('POST', `/v1/artifacts/${artifactId}/promote`, { targetEnv: 'canary', reason: 'console suite', canary: { steps } });
const signIn = async (token: string) => {
  const r = await browser.context.request.post(`${s.url}/session`, { data: { token } });
  expect(r.status()).toBe(200);
};

beforeAll(async () => {
  s = await startStack({}, { judge, waitMs: 5 });
  const stable = await registered('churn');
  expect((await settled(s, (await promote(stable, 0)).body.promotionId)).status).toBe('succeeded');
  // the candidate's first canary window is held by the judge: the promotion stays rolling out
  const candidate = await registered('churn');
  judge.hold();
  const p = await promote(candidate, 2);
  expect(p.status).toBe(201);
  rolling = p.body.promotionId;
  const deadline = Date.now() + 10_000;
  while (!judge.calls.some((w) => w.canaryArtifactId === candidate) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect((await s.api('GET', `/v1/promotions/${rolling}`)).body.status).toBe('rolling_out');
  readerToken = (await s.api('POST', '/v1/tokens', { principal: 'rita', role: 'reader' })).body.token;
  browser = await launchBrowser(s.url);
}, 60_000);
afterAll(async () => {
  judge.release();
  await browser?.close();
  await s?.stop();
});
afterEach(() => {
  expect(browser.problems.splice(0)).toEqual([]);
});

test('a reader sees the rolling-out promotion without an Abort button', async () => {
  await signIn(readerToken);
  const page = await browser.open(`/promotions/${rolling}`);
  await page.getByText('rita · reader').waitFor();
  await page.getByText('rolling out', { exact: true }).first().waitFor();
  await page.getByRole('heading', { name: 'Policy decision' }).waitFor();
  expect(await page.getByRole('button', { name: /Abort|Cancel|Roll back/ }).count()).toBe(0);
  await page.close();
});

test('an admin aborts the rollout from the page with a reason; the page shows it rolled back by the abort', async () => {
  await signIn(s.adminToken);
  const page = await browser.open(`/promotions/${rolling}`);
  await page.getByText('dev-admin · admin').waitFor();
  await page.getByRole('button', { name: 'Abort rollout…' }).click();
  await page.getByLabel('Reason (audited)').fill('latency alarms on the dashboard');
  expect(await accessibilityViolations(page)).toEqual([]);
  await page.getByRole('button', { name: 'Confirm: abort rollout' }).click();
  // the abort was taken: the rollback machine now owns the rollout; the held window may end
  await page.getByRole('button', { name: 'Confirm: abort rollout' }).waitFor({ state: 'detached' });
  judge.release();
  await page.getByText('rolled back', { exact: true }).first().waitFor({ timeout: 15_000 });
  await page
    .getByText(/aborted by dev-admin: latency alarms on the dashboard$/)
    .first()
    .waitFor();
  expect(await page.getByRole('button', { name: 'Abort rollout…' }).count()).toBe(0);
  await screenshot(page, 'promotion-aborted');
  const p = (await s.api('GET', `/v1/promotions/${rolling}`)).body;
  expect(p.status).toBe('rolled_back');
  expect(p.rollout.reason).toBe('aborted by dev-admin: latency alarms on the dashboard');
  const audit = (await s.api('GET', `/v1/audit?subject=promotion:${rolling}&type=promotion.abort_requested`)).body.items;
  expect(audit).toEqual([
    expect.objectContaining({ actor: 'dev-admin', payload: expect.objectContaining({ reason: 'latency alarms on the dashboard' }) }),
  ]);
  await page.close();
});

/**
 * The console in real Chromium against a real local server (the built dist/console): sign-in by
 * the printed link, pages rendering the registry's data, what a role may not do hidden, keyboard
 * navigation, accessibility basics — and no console error, no request to another origin.
 */
import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { accessibilityViolations, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { consoleSignIn } from '../../lib/platform/composition/local-start.js';
import { loadCheckedConfig } from '../../lib/platform/config.js';

let s: Stack;
let browser: Browsing;

beforeAll(async () => {
  s = await startStack();
  for (const model of ['fraud-detector', 'churn-model', 'credit-risk']) {
    for (let v = 0; v < 2; v++) expect((await uploadAndRegister(s, model, randomBytes(64))).status).toBe(201);
  }
  browser = await launchBrowser(s.url);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});
afterEach(() => {
  // every test's pages: nothing a user would see go wrong
  expect(browser.problems.splice(0)).toEqual([]);
});

const signInLink = async () =>
  (await consoleSignIn(loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: s.dataDir, NODE_ENV: 'test' }), s))!;

test('the printed link signs the admin in and lands on the models page, which lists every model', async () => {
  const link = await signInLink();
  const page = await browser.open(new URL(link).pathname + new URL(link).search);
  await page.getByRole('heading', { name: 'Models', level: 1 }).waitFor();
  expect(page.url()).toBe(`${s.url}/models`);
  for (const model of ['fraud-detector', 'churn-model', 'credit-risk']) await page.getByRole('link', { name: model }).waitFor();
  await page.getByText('dev-admin · admin').waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'models');
  await page.close();
});

test('the keys page shows the key ring with its states; a reload keeps the page (it lives in the URL)', async () => {
  const page = await browser.open('/keys');
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  const rows = page.locator('tbody tr');
  // the heading renders before the key list arrives: wait for the rows, then count them
  await rows.nth(1).waitFor();
  expect(await rows.count()).toBeGreaterThanOrEqual(2);
  await page.getByText('manifest', { exact: true }).first().waitFor();
  await page.reload();
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'keys');
  await page.close();
});

test('the keyboard reaches the navigation and follows a link', async () => {
  const page = await browser.open('/models');
  await page.getByRole('heading', { name: 'Models', level: 1 }).waitFor();
  await page.keyboard.press('Tab'); // skip link
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(
    () => (globalThis as unknown as { document: { activeElement: { textContent: string } | null } }).document.activeElement?.textContent,
  );
  expect(focused).toBe('Models');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Keys', level: 1 }).waitFor();
  await page.close();
});

test('signing out returns to the sign-in form; a wrong token is refused there; a reader token signs in without admin pages', async () => {
  const page = await browser.open('/models');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'sign-in');
  await page.getByLabel('API token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').getByText('UNAUTHENTICATED').waitFor();
  browser.problems.splice(0); // the 401 of the refused sign-in is logged by the browser as a failed resource
  const reader = await s.api('POST', '/v1/tokens', { principal: 'rita', role: 'invoker' });
  await page.getByLabel('API token').fill(reader.body.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('rita · invoker').waitFor();
  // an invoker reads no registry: no section is offered, and a page it opens anyway says so without calling the API
  await page.getByText('The role invoker reads nothing the console shows').waitFor();
  expect(await page.getByRole('navigation', { name: 'sections' }).getByRole('link').count()).toBe(0);
  await page.goto(`${s.url}/keys`);
  await page.getByText('The role invoker may not open this page.').waitFor();
  await page.close();
});

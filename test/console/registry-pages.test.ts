/**
 * The registry pages in real Chromium against a real local server: the models page (search,
 * what serves where), a model's page (versions newest first with their metrics, two compared,
 * environments with the traffic split, pagination through 1,000 versions), an artifact's page
 * (manifest, the server's verification naming a failed check of tampered bytes, the lineage
 * graph, the bundle download) — with axe clean, screenshots, and no console error.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { manifestFor, startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { accessibilityViolations, eventually, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { seedVersions } from '../support/seed-versions.js';
import { settled } from '../promotion/support.js';
import { verifyBundle } from '../../lib/kernel/lineage-bundle.js';
import { flipByte, storedVersionFile } from '../support/tamper.js';

let s: Stack;
let browser: Browsing;
const ids: Record<string, string> = {};

async function register(key: string, model: string, metrics: Record<string, number>) {
  const bytes = randomBytes(4096);
  const r = await uploadAndRegister(s, model, bytes, { manifest: manifestFor(model, bytes, { metrics }) });
  expect(r.status).toBe(201);
  ids[key] = r.body.artifactId;
}

beforeAll(async () => {
  s = await startStack();
  await register('fraud1', 'fraud-detector', { auc: 0.91, f1: 0.8 });
  await register('fraud2', 'fraud-detector', { auc: 0.93, f1: 0.8 });
  await register('churn1', 'churn-model', { auc: 0.77 });
  await register('credit1', 'credit-risk', { auc: 0.85 });
  await register('tampered', 'tampered-model', { auc: 0.5 });
  await register('many1', 'many-versions', { auc: 0.5 });
  await seedVersions(s.container.database, 'many-versions', 1000);
  const p = await s.api('POST', `/v1/artifacts/${ids.fraud1}/promote`, { targetEnv: 'staging', reason: 'console test' });
  expect((await settled(s, p.body.promotionId)).status).toBe('succeeded');
  // a canary under way in prod: the route a rollout's canary step leaves
  await s.container.database.db
    .insertInto('routes')
    .values({
      model_name: 'fraud-detector',
      env: 'prod',
      stable_artifact_id: ids.fraud1!,
      canary_artifact_id: ids.fraud2!,
      canary_percent: 25,
      promotion_id: null,
      updated_at: new Date(),
    })
    .execute();
  // flip one byte of the stored artifact, as an attacker with storage access would
  const rec = (await s.api('GET', `/v1/artifacts/${ids.tampered}`)).body;
  await flipByte(storedVersionFile(s.dataDir, rec.storage), 100);
  browser = await launchBrowser(s.url);
  const session = await browser.context.request.post(`${s.url}/session`, { data: { token: s.adminToken } });
  expect(session.status()).toBe(200);
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});
afterEach(() => {
  expect(browser.problems.splice(0)).toEqual([]);
});

test('the models page lists every model with what serves where; the search (in the URL) finds one', async () => {
  const page = await browser.open('/models');
  await page.getByRole('heading', { name: 'Models', level: 1 }).waitFor();
  for (const m of ['fraud-detector', 'churn-model', 'credit-risk', 'many-versions']) await page.getByRole('link', { name: m }).waitFor();
  const fraud = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'fraud-detector' }) });
  await fraud.getByText('prod: v1 75 % · v2 canary 25 %').waitFor();
  await fraud.getByText('staging: v1 100 %').waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'registry-models');
  await page.getByLabel('Search models').fill('RISK');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(`${s.url}/models?q=RISK`);
  await page.getByRole('link', { name: 'credit-risk' }).waitFor();
  expect(await eventually(() => page.locator('tbody tr').count(), 1)).toBe(1);
  await page.getByLabel('Search models').fill('no-such-model');
  await page.keyboard.press('Enter');
  await page.getByText("No model's name contains “no-such-model”.").waitFor();
  await page.close();
});

test('a model page shows its environments with the split and its versions newest first; ticking two compares them', async () => {
  const page = await browser.open('/models/fraud-detector');
  await page.getByRole('heading', { name: 'Model fraud-detector', level: 1 }).waitFor();
  const canary = page.getByRole('row').filter({ hasText: 'canary' });
  await canary.getByRole('link', { name: 'v2' }).waitFor();
  await canary.getByText('25 %').waitFor();
  const versions = page.getByRole('table', { name: 'Versions of fraud-detector with their metrics' });
  await versions.waitFor();
  expect(await eventually(() => versions.locator('tbody th').allTextContents(), ['v2', 'v1'])).toEqual(['v2', 'v1']);
  expect(await versions.locator('thead th').allTextContents()).toEqual(['Compare', 'Version', 'auc', 'f1', 'Registered', 'By']);
  await page.getByLabel('compare v2').check();
  await page.getByLabel('compare v1').check();
  await page.waitForURL(`${s.url}/models/fraud-detector?a=2&b=1`);
  const compare = page.getByRole('table', { name: 'v2 and v1 side by side' });
  const auc = compare.getByRole('row', { name: /metric auc/ });
  expect(await eventually(() => auc.locator('td').allTextContents(), ['0.93', '0.91'])).toEqual(['0.93', '0.91']);
  await auc.getByText('differs').waitFor();
  expect(
    await compare
      .getByRole('row', { name: /metric f1/ })
      .getByText('differs')
      .count(),
  ).toBe(0);
  await compare.getByRole('row', { name: /manifest artifactSha256/ }).waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'registry-model-compare');
  // the comparison lives in the URL: a reload keeps it
  await page.reload();
  await page.getByRole('table', { name: 'v2 and v1 side by side' }).waitFor();
  await page.close();
});

test('an artifact page shows the manifest, a verified badge, the lineage graph with links, and the bundle link', async () => {
  const page = await browser.open(`/artifacts/${ids.fraud1}`);
  await page.getByRole('heading', { name: 'fraud-detector v1', level: 1 }).waitFor();
  await page.getByText('Verified', { exact: true }).waitFor();
  await page
    .getByRole('row', { name: /artifact-sha256/ })
    .getByText('passed')
    .waitFor();
  await page.getByRole('table', { name: 'Metrics' }).getByRole('row', { name: /auc/ }).getByText('0.91').waitFor();
  await page.getByText('Raw manifest JSON').click();
  await page.getByText(`"artifactId": "${ids.fraud1}"`).waitFor();
  const graph = page.getByRole('group', { name: 'Lineage of fraud-detector v1' });
  await graph.getByText('transactions@2026-11', { exact: true }).waitFor();
  await graph.getByText('git:4f2c1e0', { exact: true }).waitFor();
  const deployment = graph.getByRole('link', { name: 'deployment stable: staging · 100 %' });
  await deployment.waitFor();
  await graph.getByRole('link', { name: /^promotion succeeded: staging/ }).waitFor();
  // the graph's links take the keyboard's focus
  await deployment.focus();
  expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe('deployment stable: staging · 100 %');
  const bundle = page.getByRole('link', { name: 'Download the offline lineage bundle' });
  const [download] = await Promise.all([page.waitForEvent('download'), bundle.click()]);
  expect(download.suggestedFilename()).toBe('lineage-fraud-detector-v1.json');
  const files = JSON.parse(await readFile((await download.path())!, 'utf8')).files;
  // what the browser saved is the signed bundle: it verifies offline against the published keys
  const saved = new Map(Object.entries(files as Record<string, string>).map(([k, v]) => [k, Buffer.from(v)]));
  const report = verifyBundle(saved, { trustedKeys: (await s.api('GET', '/v1/keys')).body.keys });
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  expect(report.ok).toBe(true);
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'registry-artifact');
  await deployment.click();
  await page.getByRole('heading', { name: 'Model fraud-detector', level: 1 }).waitFor();
  await page.close();
});

test('a tampered artifact shows the failed check named on the badge', async () => {
  const page = await browser.open(`/artifacts/${ids.tampered}`);
  await page.getByRole('heading', { name: 'tampered-model v1', level: 1 }).waitFor();
  await page.getByText('Verification failed: artifact-sha256').waitFor();
  await page
    .getByRole('row', { name: /artifact-sha256/ })
    .getByText('failed')
    .waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'registry-artifact-tampered');
  await page.close();
});

test('a model of 1,000 versions pages through all of them, newest first, the page in the URL', async () => {
  const page = await browser.open('/models/many-versions');
  const versions = page.getByRole('table', { name: 'Versions of many-versions with their metrics' });
  const first = async () => (await versions.locator('tbody th').first().textContent())!;
  await versions.waitFor();
  expect(await first()).toBe('v1000');
  const seen: string[] = [];
  for (let i = 0; ; i++) {
    const rows = await versions.locator('tbody th').allTextContents();
    expect(rows).toHaveLength(50);
    seen.push(...rows);
    const next = page.getByRole('link', { name: 'Next page »' });
    if (!(await next.count())) break;
    await next.click();
    // the next page starts 50 versions further down (read once it has rendered: no script evaluated under the page's CSP)
    const expected = `v${1000 - 50 * (i + 1)}`;
    expect(await eventually(first, expected)).toBe(expected);
    expect(page.url()).toContain('cursor=');
    if (i > 25) throw new Error('more pages than 1,000 versions need');
  }
  expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => `v${1000 - i}`));
  await screenshot(page, 'registry-model-last-page');
  await page.getByRole('link', { name: '« First page' }).click();
  await page.waitForURL(`${s.url}/models/many-versions`);
  // the URL changes before the first page has rendered: read it once it has
  expect(await eventually(first, 'v1000')).toBe('v1000');
  await page.close();
}, 60_000);

test('an unknown artifact or model says so, as an error the page names', async () => {
  const page = await browser.open('/artifacts/00000000-0000-4000-8000-000000000000');
  await page.getByRole('alert').getByText('NOT_FOUND').waitFor();
  await page.goto(`${s.url}/models/no-such-model`);
  await page.getByRole('alert').getByText('NOT_FOUND').first().waitFor();
  browser.problems.splice(0); // the 404s are logged by the browser as failed resources
  await page.close();
});

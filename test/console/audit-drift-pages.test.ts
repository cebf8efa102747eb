/**
 * The audit and drift pages in real Chromium against a real local server: the chain listed and
 * filtered by type, a payload edited straight in the database named by its seq, a drift report's
 * histograms (one SVG bar per bin and series), its suggestion accepted by an admin and not
 * offered to a reader, who is not offered the audit page either — with axe, screenshots and no
 * console error.
 */
import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { accessibilityViolations, eventually, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { recordReport } from '../support/drift-reports.js';
import { consoleSignIn } from '../../lib/platform/composition/local-start.js';
import { loadCheckedConfig } from '../../lib/platform/config.js';

let s: Stack;
let browser: Browsing;
let drifted: { reportId: string; suggestionId: string };
let calmId: string;
let readerToken: string;

beforeAll(async () => {
  s = await startStack();
  const ids: string[] = [];
  for (let v = 0; v < 2; v++) {
    const r = await uploadAndRegister(s, 'fraud-detector', randomBytes(64));
    expect(r.status).toBe(201);
    ids.push(r.body.artifactId);
  }
  const calm = await recordReport(s, { model: 'fraud-detector', env: 'staging', artifactId: ids[1]!, drifted: false, hoursAgo: 2 });
  const hot = await recordReport(s, { model: 'fraud-detector', env: 'staging', artifactId: ids[1]!, drifted: true });
  expect([calm.verdict, hot.verdict, hot.raised]).toEqual(['no-drift', 'drift', true]);
  calmId = calm.reportId;
  drifted = { reportId: hot.reportId, suggestionId: hot.suggestionId! };
  readerToken = (await s.api('POST', '/v1/tokens', { principal: 'rex', role: 'reader' })).body.token;
  browser = await launchBrowser(s.url);
  const link = (await consoleSignIn(loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: s.dataDir, NODE_ENV: 'test' }), s))!;
  const page = await browser.open(new URL(link).pathname + new URL(link).search);
  await page.getByText('dev-admin · admin').waitFor();
  await page.close();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});
afterEach(() => {
  expect(browser.problems.splice(0)).toEqual([]);
});

const db = () => s.container.database.db;

test('the audit page lists the chain in order, verified, and filters by type (in the URL); a payload opens', async () => {
  const page = await browser.open('/audit');
  await page.getByRole('heading', { name: 'Audit', level: 1 }).waitFor();
  await page.getByText(/Verified through head seq \d+/).waitFor();
  const seqs = (await page.locator('tbody tr td:first-child').allTextContents()).map(Number);
  expect(seqs.length).toBeGreaterThan(5);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  await page.getByLabel('Type').fill('artifact.registered');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/type=artifact\.registered/);
  await page.locator('tbody tr').nth(1).waitFor();
  const types = ['artifact.registered', 'artifact.registered'];
  expect(await eventually(() => page.locator('tbody tr td:nth-child(3)').allTextContents(), types)).toEqual(types);
  const first = page.locator('tbody tr').first();
  await first.locator('summary').click();
  await first.getByText('"modelName": "fraud-detector"').waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'audit');
  // a reload keeps the filter
  await page.reload();
  await page.locator('tbody tr').nth(1).waitFor();
  expect(await page.getByLabel('Type').inputValue()).toBe('artifact.registered');
  expect(await eventually(() => page.locator('tbody tr').count(), 2)).toBe(2);
  // the time filter: nothing happened after tomorrow; the form shows the time asked for
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  await page.goto(`${s.url}/audit?since=${encodeURIComponent(tomorrow)}`);
  await page.getByText('No events match these filters.').waitFor();
  expect(await page.getByLabel('From').inputValue()).not.toBe('');
  await page.close();
});

test('after a payload is edited straight in the database, the page names the broken seq and the problem', async () => {
  const row = await db()
    .selectFrom('audit_events')
    .selectAll()
    .where('type', '=', 'artifact.registered')
    .orderBy('seq')
    .executeTakeFirstOrThrow();
  const seq = Number(row.seq);
  await db()
    .updateTable('audit_events')
    .set({ payload: JSON.stringify({ ...JSON.parse(row.payload), injected: true }) })
    .where('seq', '=', seq)
    .execute();
  try {
    const page = await browser.open('/audit');
    const alert = page.getByRole('alert');
    await alert.getByText(`seq ${seq}`, { exact: true }).waitFor();
    await alert.getByText('payload-edited').waitFor();
    await page.locator('tr.broken').waitFor();
    expect(await page.locator('tr.broken td').first().textContent()).toBe(`${seq} broken`);
    expect(await accessibilityViolations(page)).toEqual([]);
    await screenshot(page, 'audit-broken');
    await page.close();
  } finally {
    await db().updateTable('audit_events').set({ payload: row.payload }).where('seq', '=', seq).execute();
  }
  expect((await s.api('GET', '/v1/audit/verify')).body.ok).toBe(true);
});

test('the drift page lists the reports and the suggestion; the environment filter lives in the URL', async () => {
  const page = await browser.open('/drift');
  await page.getByRole('heading', { name: 'Drift', level: 1 }).waitFor();
  await page.getByRole('link', { name: drifted.reportId }).first().waitFor();
  await page.getByRole('link', { name: calmId }).waitFor();
  await page.getByRole('cell', { name: drifted.suggestionId }).first().waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'drift');
  await page.getByLabel('Environment').selectOption('prod');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/env=prod/);
  await page.getByText('No drift reports match these filters.').waitFor();
  await page.close();
});

test("a drift report draws each feature's histograms and its statistics; an admin accepts its suggestion", async () => {
  const { report } = (await s.api('GET', `/v1/drift/reports/${drifted.reportId}`)).body;
  const bins = (report.features as { histograms: { reference: number[] } }[]).reduce((n, f) => n + f.histograms.reference.length, 0);
  expect(bins).toBeGreaterThan(5);
  const page = await browser.open(`/drift/reports/${drifted.reportId}`);
  await page.getByRole('heading', { name: `Drift report ${drifted.reportId}`, level: 1 }).waitFor();
  await page.getByRole('img', { name: /^amount: reference and current/ }).waitFor();
  expect(await eventually(() => page.locator('svg rect.bar.reference').count(), bins)).toBe(bins);
  expect(await page.locator('svg rect.bar.current').count()).toBe(bins);
  expect(await page.locator('svg rect.bar title').count()).toBe(2 * bins);
  await page.getByText('Jensen–Shannon distance (gated)').first().waitFor();
  await page
    .getByRole('heading', { name: /colour/ })
    .getByText('drift', { exact: true })
    .waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'drift-report');
  // no reason: the API refuses and the page shows why (the browser logs the 400 as a failed resource)
  await page.getByRole('button', { name: 'Accept suggestion' }).click();
  await page.getByRole('alert').getByText('VALIDATION_FAILED').waitFor();
  expect(browser.problems.splice(0).every((p) => p.includes('400'))).toBe(true);
  await page.getByLabel('Reason (recorded and audited)').fill('retrain on the November data');
  await page.getByRole('button', { name: 'Accept suggestion' }).click();
  await page.getByText('accepted by dev-admin', { exact: false }).waitFor();
  expect(await page.getByRole('button', { name: 'Accept suggestion' }).count()).toBe(0);
  const accepted = (await s.api('GET', `/v1/audit?type=drift.suggestion_accepted`)).body.items;
  expect(accepted.map((e: { payload: { reason: string } }) => e.payload.reason)).toEqual(['retrain on the November data']);
  await page.close();
});

test('a reader sees the report without the decision buttons and is not offered the audit page', async () => {
  const page = await browser.open('/drift');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API token').fill(readerToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('rex · reader').waitFor();
  const nav = page.getByRole('navigation', { name: 'sections' });
  await nav.getByRole('link', { name: 'Drift' }).waitFor();
  expect(await nav.getByRole('link', { name: 'Audit' }).count()).toBe(0);
  await page.goto(`${s.url}/audit`);
  await page.getByText('The role reader may not open this page.').waitFor();
  await page.goto(`${s.url}/drift/reports/${drifted.reportId}`);
  await page.getByRole('img', { name: /^colour: reference and current/ }).waitFor();
  await page.getByText(drifted.suggestionId).first().waitFor();
  expect(await page.getByRole('button', { name: /suggestion/ }).count()).toBe(0);
  expect(await page.getByLabel('Reason (recorded and audited)').count()).toBe(0);
  await page.close();
});

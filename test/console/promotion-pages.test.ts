/**
 * The promotion and serving pages in real Chromium against a real local server: a canary the real
 * judge rolled back (over injected per-variant metrics) shows the failed check in its window; a
 * 3-of-5 multisig promotion shows its approvals, the refused one with its reason; an auditor sees
 * no action and the server refuses the call forced from its session; an admin cancels from the
 * page; the serving page draws its charts from serving events written to the database.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import type { Variant, VariantMetrics } from '../../lib/kernel/canary-metrics.js';
import { latencyBucket } from '../../lib/kernel/canary-metrics.js';
import { createPrng } from '../../lib/clients/training/prng.js';
import { MetricsRolloutJudge } from '../../lib/modules/rollout/canary.js';
import { insertEvents, insertLabels, type ServingEventRow } from '../../lib/modules/serving/store.js';
import type { MetricsSource } from '../../lib/platform/ports/canary-metrics.js';
import { consoleSignIn } from '../../lib/platform/composition/local-start.js';
import { loadCheckedConfig } from '../../lib/platform/config.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { accessibilityViolations, eventually, launchBrowser, screenshot, type Browsing } from '../support/browser.js';
import { approve, approverKey, highRiskPolicies, settled, type Approver } from '../promotion/support.js';

const rng = createPrng(22);
const arm = (requests: number, errors: number): VariantMetrics => ({
  requests,
  errors,
  latenciesMs: Array.from({ length: 300 }, () => Math.round(40 * Math.exp(0.5 * rng.normal()) * 100) / 100),
  quality: { correct: Math.round(requests * 0.9), labelled: requests },
});
/** Equal arms at 50 %: the judge passes them, or (failing) the canary's 12 % errors trip the error ceiling. */
class Arms implements MetricsSource {
  failing = false;
  async window(_key: string, variant: Variant): Promise<VariantMetrics> {
    return variant === 'canary' && this.failing ? arm(1000, 120) : arm(1000, 5);
  }
  async settledUntil(_key: string, now: Date): Promise<Date> {
    return now;
  }
  async agreement() {
    return { compared: 0, agreed: 0 };
  }
}

const HALF = { percent: 50, steps: 1, windowSeconds: 60 };
const arms = new Arms();
let s: Stack;
let browser: Browsing;
let rolledBack: { promotionId: string; stable: string; canary: string };
let pending: string;
let auditorToken: string;
/** a second approval, sent while the page is open (the live view shows it) */
let approveLater: () => Promise<number>;

async function registered(model: string): Promise<string> {
  const r = await uploadAndRegister(s, model, randomBytes(700));
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}
/** The failing canary requires labels (judged on quality): its page states it, the others' do not. */
async function promoted(artifactId: string, targetEnv: string, failing = false) {
  arms.failing = failing;
  const canary = failing ? { ...HALF, minLabelled: 50 } : HALF;
  const r = await s.api('POST', `/v1/artifacts/${artifactId}/promote`, { targetEnv, reason: 'console suite', canary });
  return r.status === 202 ? r.body : settled(s, r.body.promotionId);
}
/** The summary's Strategy line, spaces collapsed. */
async function strategyText(page: Page): Promise<string> {
  const text = await page.locator('dl.facts dt:text-is("Strategy") + dd').textContent();
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

/** An hour of serving events for churn/canary: the stable answering well, the canary erring more and slower while it ran. */
async function servingEvents(stable: string, canary: string): Promise<void> {
  const now = Date.now();
  const rows: ServingEventRow[] = [];
  for (let i = 0; i < 600; i++) {
    const onCanary = i % 4 === 0 && i < 400;
    const latency = (onCanary ? 70 : 35) * Math.exp(0.3 * rng.normal());
    const error = onCanary ? i % 3 === 0 : i % 50 === 0;
    rows.push({
      request_id: `seed-${i}`,
      deployment_key: 'churn/canary',
      variant: onCanary ? 'canary' : 'stable',
      artifact_id: onCanary ? canary : stable,
      promotion_id: null,
      at: new Date(now - 55 * 60_000 + i * 5_000),
      latency_ms: latency,
      latency_bucket: latencyBucket(latency),
      error,
      cold: false,
      prediction: error ? null : JSON.stringify([{ label: '1' }]),
    });
  }
  await insertEvents(s.container.database.db, rows);
  // labels for every other answered request: the stable right 9 times in 10, the canary 6 in 10
  const labelled = rows.filter((r, i) => !r.error && i % 2 === 0);
  await insertLabels(
    s.container.database.db,
    labelled.map((r, i) => ({
      deployment_key: r.deployment_key,
      request_id: r.request_id,
      label: i % 10 < (r.variant === 'stable' ? 9 : 6) ? '1' : '0',
      received_at: new Date(),
    })),
  );
}

beforeAll(async () => {
  s = await startStack({ AEGIS_POLICIES_DIR: await highRiskPolicies('fraud') }, { judge: new MetricsRolloutJudge(arms), waitMs: 5 });
  // churn: a stable on canary, then a candidate whose canary the judge rolls back
  const stable = await registered('churn');
  expect((await promoted(stable, 'canary')).status).toBe('succeeded');
  const canary = await registered('churn');
  const rb = await promoted(canary, 'canary', true);
  expect(rb.status).toBe('rolled_back');
  rolledBack = { promotionId: rb.promotionId, stable, canary };
  await servingEvents(stable, canary);
  // fraud (high risk): prod needs 3 of 5 approvals; one accepted, one refused (a revoked key)
  const fraud = await registered('fraud');
  expect((await promoted(fraud, 'canary')).status).toBe('succeeded');
  const p = await promoted(fraud, 'prod');
  expect(p.status).toBe('pending_multisig');
  pending = p.promotionId;
  const manifestSha256 = (await s.api('GET', `/v1/registry/${fraud}`)).body.manifestSha256 as string;
  const subject = { promotionId: pending, artifactId: fraud, manifestSha256, targetEnv: 'prod' };
  const [good, revoked, later] = ['approver-1', 'approver-9', 'approver-2'].map((kid) => approverKey(kid, `${kid}@example.com`)) as [
    Approver,
    Approver,
    Approver,
  ];
  for (const k of [good, revoked, later])
    expect((await s.api('POST', '/v1/keys', { kid: k.kid, purpose: 'approver', publicKey: k.publicKey, owner: k.owner })).status).toBe(201);
  await s.api('POST', `/v1/keys/${revoked.kid}/revoke`);
  expect((await s.api('POST', `/v1/promotions/${pending}/approvals`, approve(good, subject))).status).toBe(200);
  expect((await s.api('POST', `/v1/promotions/${pending}/approvals`, approve(revoked, subject))).status).toBe(422);
  approveLater = async () => (await s.api('POST', `/v1/promotions/${pending}/approvals`, approve(later, subject))).status;
  auditorToken = (await s.api('POST', '/v1/tokens', { principal: 'audrey', role: 'auditor' })).body.token;
  browser = await launchBrowser(s.url);
  const link = (await consoleSignIn(loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: s.dataDir, NODE_ENV: 'test' }), s))!;
  const page = await browser.open(new URL(link).pathname + new URL(link).search);
  await page.getByText('dev-admin · admin').waitFor();
  await page.close();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});
afterEach(() => {
  expect(browser.problems.splice(0)).toEqual([]);
});

test("the rolled-back canary's page shows the judge's numbers and highlights the failed check", async () => {
  const page = await browser.open(`/promotions/${rolledBack.promotionId}`);
  await page.getByRole('heading', { name: /^Promotion /, level: 1 }).waitFor();
  await page.getByText('rolled back', { exact: true }).first().waitFor();
  expect(await strategyText(page)).toBe(
    'canary: first 50 %, 1 step, windows of 60 s, at least 200 requests and 50 labels (quality required), 3 inconclusive allowed',
  );
  const window = page.getByRole('article', { name: /Window 1: canary stage 1 of 1 at 50 %/ });
  await window.getByText('fail', { exact: true }).waitFor();
  const failed = window.locator('tr.failed');
  expect(await failed.count()).toBe(1);
  expect(await failed.locator('th').textContent()).toContain('Error ceiling');
  expect(await failed.getByText('failed').count()).toBe(1);
  // the numbers: requests per arm, error rates, p-values
  expect(await window.getByRole('row', { name: /Requests 1000 1000/ }).count()).toBe(1);
  await window.getByRole('row', { name: /Error rate 0\.50 % 12\.00 %/ }).waitFor();
  await page.getByRole('heading', { name: 'Policy decision' }).waitFor();
  await page.getByRole('heading', { name: 'Rollout trace' }).waitFor();
  expect(await page.locator('ol.timeline li').count()).toBeGreaterThan(1);
  await page.getByRole('button', { name: 'Roll back canary…' }).waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'promotion-rolled-back');
  await page.close();
});

test("a refused action shows the API's answer: rolling canary back to an artifact that never served there", async () => {
  const page = await browser.open(`/promotions/${rolledBack.promotionId}`);
  await page.getByRole('button', { name: 'Roll back canary…' }).click();
  await page.getByLabel('Artifact to return to').fill(rolledBack.canary);
  await page.getByLabel('Reason (audited)').fill('back to the candidate');
  await page.getByRole('button', { name: 'Confirm: roll back canary' }).click();
  const alert = page.getByRole('alert');
  await alert.getByText('Refused:').waitFor();
  expect(await alert.textContent()).toMatch(/POLICY_DENIED .*never served churn in canary/);
  // the decision's rule ids with their reasons, from the reply's details, and the denied request's record
  const rules = alert.getByRole('list', { name: 'Rules that refused it' }).getByRole('listitem');
  expect(await rules.allTextContents()).toEqual([
    expect.stringMatching(/^rollback-to-served-artifact: artifact \S+ never served churn in canary/),
  ]);
  const record = (await alert.getByRole('link', { name: /^denied promotion / }).getAttribute('href'))!;
  expect((await s.api('GET', `/v1${record}`)).body).toMatchObject({ status: 'denied', kind: 'rollback', targetEnv: 'canary' });
  browser.problems.splice(0); // the browser logs the refused call as a failed resource
  await page.getByRole('button', { name: 'Back', exact: true }).click();
  await page.getByRole('button', { name: 'Roll back canary…' }).waitFor();
  await page.close();
});

test("an artifact's promotions link to their pages; an unknown promotion shows the API's error", async () => {
  const page = await browser.open(`/artifacts/${rolledBack.canary}/promotions`);
  await page.getByRole('heading', { name: /^Promotions of artifact/, level: 1 }).waitFor();
  const row = page.getByRole('row', { name: /rolled back/ });
  await row.getByText('errorCeiling', { exact: false }).waitFor();
  await row.getByRole('link').click();
  await page.getByRole('article', { name: /Window 1/ }).waitFor();
  expect(page.url()).toBe(`${s.url}/promotions/${rolledBack.promotionId}`);
  expect(await accessibilityViolations(page)).toEqual([]);
  await page.goto(`${s.url}/promotions/00000000-0000-4000-8000-000000000000`);
  await page.getByRole('alert').getByText('NOT_FOUND').waitFor();
  browser.problems.splice(0); // the 404 is logged by the browser as a failed resource
  await page.close();
});

test('the multisig promotion shows k of n approvals, the refused one and why, and the CLI command (no key field)', async () => {
  const page = await browser.open(`/promotions/${pending}`);
  await page.getByRole('heading', { name: /^Promotion /, level: 1 }).waitFor();
  expect(await strategyText(page)).toBe('canary: first 50 %, 1 step, windows of 60 s, at least 200 requests, 3 inconclusive allowed');
  await page.getByText('1 of 3', { exact: true }).waitFor();
  await page.getByText('(any 3 of 5 approvers)', { exact: false }).waitFor();
  await page.getByRole('cell', { name: 'approver-1', exact: true }).waitFor();
  const refused = page.getByRole('table', { name: /Refused approvals/ });
  await refused.getByRole('cell', { name: 'approver-9', exact: true }).waitFor();
  await refused.getByRole('cell', { name: 'revoked', exact: true }).waitFor();
  await page.getByText(`npx aegis approve --promotion ${pending}`, { exact: false }).waitFor();
  await page.getByText('high-risk-prod-multisig').waitFor();
  expect(await page.locator('input[type=password], textarea').count()).toBe(0);
  await page.getByRole('button', { name: 'Cancel promotion…' }).waitFor();
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'promotion-pending-multisig');
  // live: a pending promotion is read again every 2 s, so an approval shows without a reload
  expect(await approveLater()).toBe(200);
  await page.getByText('2 of 3', { exact: true }).waitFor({ timeout: 5000 });
  await page.getByRole('cell', { name: 'approver-2', exact: true }).waitFor();
  await page.close();
});

test('an auditor sees no action, and the server refuses the cancel forced from its session with 403', async () => {
  const page = await browser.open(`/promotions/${pending}`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API token').fill(auditorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('audrey · auditor').waitFor();
  await page.goto(`${s.url}/promotions/${pending}`);
  await page.getByText('2 of 3', { exact: true }).waitFor();
  expect(await page.getByRole('button', { name: /Cancel|Abort|Roll back/ }).count()).toBe(0);
  await page.goto(`${s.url}/promotions/${rolledBack.promotionId}`);
  await page.getByRole('article', { name: /Window 1/ }).waitFor();
  expect(await page.getByRole('button', { name: /Cancel|Abort|Roll back/ }).count()).toBe(0);
  const forced = await page.evaluate(async (id) => {
    const { csrf } = (await (await fetch('/session')).json()) as { csrf: string };
    const r = await fetch(`/v1/promotions/${id}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-aegis-csrf': csrf },
      body: JSON.stringify({ reason: 'forced' }),
    });
    return { status: r.status, body: (await r.json()) as { error: { code: string } } };
  }, pending);
  expect(forced.status).toBe(403);
  expect(forced.body.error.code).toBe('FORBIDDEN');
  browser.problems.splice(0); // the browser logs the refused call as a failed resource
  expect((await s.api('GET', `/v1/promotions/${pending}`)).body.status).toBe('pending_multisig');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Aegis' }).waitFor();
  await page.getByLabel('API token').fill(s.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('dev-admin · admin').waitFor();
  await page.close();
});

test('an admin cancels the pending promotion from the page after confirming with a reason', async () => {
  const page = await browser.open(`/promotions/${pending}`);
  await page.getByRole('button', { name: 'Cancel promotion…' }).click();
  await page.getByLabel('Reason (audited)').fill('superseded by a retrained model');
  await page.getByRole('button', { name: 'Confirm: cancel promotion' }).click();
  await page.getByText('cancelled', { exact: true }).first().waitFor();
  expect(await page.getByRole('button', { name: 'Cancel promotion…' }).count()).toBe(0);
  const p = (await s.api('GET', `/v1/promotions/${pending}`)).body;
  expect(p.status).toBe('cancelled');
  const audit = (await s.api('GET', `/v1/audit?subject=promotion:${pending}&type=promotion.cancelled`)).body.items;
  expect(audit[0]).toMatchObject({ actor: 'dev-admin', payload: expect.objectContaining({ reason: 'superseded by a retrained model' }) });
  await page.close();
});

test('the serving page shows the split and draws per-variant charts with both variants in the legend', async () => {
  const page = await browser.open('/serving/churn/canary');
  await page.getByRole('heading', { name: 'Serving churn in canary', level: 1 }).waitFor();
  await page.getByText('stable 100 %').waitFor();
  const totals = page.getByRole('table', { name: 'Over the last 1 h' });
  await totals
    .getByRole('row', { name: /^stable/ })
    .getByText('500', { exact: true })
    .waitFor();
  expect(await eventually(() => page.locator('figure.chart canvas').count(), 4)).toBe(4);
  const legend = page.locator('figure.chart').first().locator('.u-legend');
  expect(await legend.textContent()).toMatch(/stable[\s\S]*canary/);
  const latency = page.locator('figure.chart', { hasText: 'Latency p50 / p95 / p99' });
  for (const name of ['stable p95', 'canary p95', 'stable p99', 'canary p50'])
    expect(await latency.locator('.u-legend').textContent()).toContain(name);
  // the canary's seeded errors show in its summary for screen readers (a third of its requests failed)
  const errors = await page.locator('figure.chart', { hasText: 'Error rate' }).locator('[role=img]').getAttribute('aria-label');
  expect(errors).toMatch(/canary from [\d.]+ to [\d.]+ %/);
  const quality = await page.locator('figure.chart', { hasText: 'Quality' }).locator('[role=img]').getAttribute('aria-label');
  expect(quality).toMatch(/stable from [\d.]+ to [\d.]+ %; canary from [\d.]+ to [\d.]+ %/);
  expect(await accessibilityViolations(page)).toEqual([]);
  await screenshot(page, 'serving');
  await page.close();
});

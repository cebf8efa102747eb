/**
 * The drift routes through the local HTTP server: runs, reports and retrain suggestions, who may
 * call them, what a scoped caller sees, and how bad input is refused. Reports are recorded by the
 * records service (test/support/drift-reports.ts) as a run's Report task would.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { recordReport } from '../support/drift-reports.js';
import { ScriptedJudge, settled } from '../promotion/support.js';

let stack: Stack;
const fraud = { model: 'fraud-scorer', artifactId: '', reportId: '', calmReportId: '', suggestionId: '' };
const churn = { model: 'churn-model', artifactId: '', reportId: '', suggestionId: '' };
const tokens: Record<string, string> = {};

const tokenFor = async (principal: string, role: string, scope?: object) => {
  const r = await stack.api('POST', '/v1/tokens', { principal, role, ...(scope ? { scope } : {}) });
  expect(r.status).toBe(201);
  return r.body.token as string;
};
const as = (who: string) => ({ token: tokens[who]! });
const errorOf = (r: { status: number; body: any }) => ({ status: r.status, code: r.body?.error?.code, field: r.body?.error?.field });

beforeAll(async () => {
  stack = await startStack({}, { judge: new ScriptedJudge(), waitMs: 5 });
  for (const [m, team] of [
    [fraud, 'fraud'],
    [churn, 'growth'],
  ] as const) {
    const reg = await uploadAndRegister(stack, m.model, randomBytes(700), { team });
    expect(reg.status).toBe(201);
    m.artifactId = reg.body.artifactId;
  }
  const p = await stack.api('POST', `/v1/artifacts/${fraud.artifactId}/promote`, { targetEnv: 'staging', reason: 'drift routes' });
  expect((await settled(stack, p.body.promotionId)).status).toBe('succeeded');
  const calm = await recordReport(stack, { model: fraud.model, env: 'staging', artifactId: fraud.artifactId, drifted: false, hoursAgo: 2 });
  const drifted = await recordReport(stack, { model: fraud.model, env: 'staging', artifactId: fraud.artifactId, drifted: true });
  const other = await recordReport(stack, { model: churn.model, env: 'staging', artifactId: churn.artifactId, drifted: true });
  expect([calm.verdict, drifted.verdict, other.verdict]).toEqual(['no-drift', 'drift', 'drift']);
  Object.assign(fraud, { calmReportId: calm.reportId, reportId: drifted.reportId, suggestionId: drifted.suggestionId });
  Object.assign(churn, { reportId: other.reportId, suggestionId: other.suggestionId });
  for (const role of ['reader', 'promoter', 'operator', 'invoker', 'publisher']) tokens[role] = await tokenFor(`${role}-1`, role);
  tokens.fraudReader = await tokenFor('fraud-reader', 'reader', { teams: ['fraud'] });
  tokens.fraudPromoter = await tokenFor('fraud-promoter', 'promoter', { teams: ['fraud'] });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('reports', () => {
  it('lists reports newest first, by model, with a cursor that continues exactly after the page', async () => {
    const all = await stack.api('GET', '/v1/drift/reports', undefined, as('reader'));
    expect(all.status).toBe(200);
    expect(all.body.reports.map((r: { reportId: string }) => r.reportId)).toEqual([churn.reportId, fraud.reportId, fraud.calmReportId]);
    const first = await stack.api('GET', `/v1/drift/reports?model=${fraud.model}&limit=1`, undefined, as('reader'));
    expect(first.body.reports.map((r: { reportId: string }) => r.reportId)).toEqual([fraud.reportId]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const next = await stack.api(
      'GET',
      `/v1/drift/reports?model=${fraud.model}&limit=1&cursor=${first.body.nextCursor}`,
      undefined,
      as('reader'),
    );
    expect(next.body.reports.map((r: { reportId: string }) => r.reportId)).toEqual([fraud.calmReportId]);
    const recent = await stack.api(
      'GET',
      `/v1/drift/reports?since=${new Date(Date.now() - 3_600_000).toISOString()}`,
      undefined,
      as('reader'),
    );
    expect(recent.body.reports.map((r: { reportId: string }) => r.reportId).sort()).toEqual([churn.reportId, fraud.reportId].sort());
  });

  it('answers one report with its record and the stored window report (per feature histograms)', async () => {
    const r = await stack.api('GET', `/v1/drift/reports/${fraud.reportId}`, undefined, as('reader'));
    expect(r.status).toBe(200);
    expect(r.body.record).toMatchObject({
      reportId: fraud.reportId,
      model: fraud.model,
      verdict: 'drift',
      suggestionId: fraud.suggestionId,
    });
    expect(r.body.record.summary.driftedFeatures).toContain('amount');
    const amount = r.body.report.features.find((f: { feature: string }) => f.feature === 'amount');
    expect(amount).toMatchObject({ kind: 'numeric', drift: true, histograms: { edges: expect.any(Array) } });
  });

  it('answers 404 naming the id for an unknown report, run or suggestion', async () => {
    const runId = randomUUID();
    for (const [path, field, id] of [
      [`/v1/drift/reports/rep-nothing`, 'reportId', 'rep-nothing'],
      [`/v1/drift/runs/${runId}`, 'runId', runId],
      [`/v1/drift/suggestions/sug-nothing`, 'suggestionId', 'sug-nothing'],
    ]) {
      const r = await stack.api('GET', path!, undefined, as('reader'));
      expect(errorOf(r)).toEqual({ status: 404, code: 'NOT_FOUND', field });
      expect(r.body.error.message).toContain(id);
    }
  });
});

describe('who may call', () => {
  it('lets a reader read reports and suggestions, but not accept, dismiss or request a run', async () => {
    expect((await stack.api('GET', '/v1/drift/suggestions', undefined, as('reader'))).status).toBe(200);
    expect((await stack.api('GET', `/v1/drift/suggestions/${fraud.suggestionId}`, undefined, as('reader'))).status).toBe(200);
    for (const d of ['accept', 'dismiss']) {
      const r = await stack.api('POST', `/v1/drift/suggestions/${fraud.suggestionId}/${d}`, { reason: 'no' }, as('reader'));
      expect(errorOf(r)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    }
    const run = await stack.api('POST', '/v1/drift/runs', { modelName: fraud.model, env: 'staging' }, as('reader'));
    expect(run.status).toBe(403);
  });

  it('refuses an invoker every drift route and a publisher a run', async () => {
    expect((await stack.api('GET', '/v1/drift/reports', undefined, as('invoker'))).status).toBe(403);
    for (const who of ['invoker', 'publisher']) {
      const r = await stack.api('POST', '/v1/drift/runs', { modelName: fraud.model, env: 'staging' }, as(who));
      expect(errorOf(r)).toMatchObject({ status: 403, code: 'FORBIDDEN' });
      expect(r.body.error.message).toMatch(/needs operator or promoter or admin/);
    }
  });

  it('lets an operator request a run: 409 naming env where nothing serves the model', async () => {
    const r = await stack.api('POST', '/v1/drift/runs', { modelName: churn.model, env: 'prod' }, as('operator'));
    expect(errorOf(r)).toEqual({ status: 409, code: 'CONFLICT', field: 'env' });
  });
});

describe('scoped callers', () => {
  it("sees another team's report and suggestion exactly as missing ones", async () => {
    for (const [kind, id, missing] of [
      ['reports', churn.reportId, 'rep-missing'],
      ['suggestions', churn.suggestionId, 'sug-missing'],
    ] as const) {
      const hidden = await stack.api('GET', `/v1/drift/${kind}/${id}`, undefined, as('fraudReader'));
      const absent = await stack.api('GET', `/v1/drift/${kind}/${missing}`, undefined, as('fraudReader'));
      expect(hidden.status).toBe(404);
      expect(errorOf(hidden)).toEqual(errorOf(absent));
      expect(hidden.body.error.message).toBe(absent.body.error.message.replace(missing, id));
      expect(JSON.stringify(hidden.body)).not.toContain(churn.model);
      expect((await stack.api('GET', `/v1/drift/${kind}/${id}`, undefined, as('reader'))).status).toBe(200);
    }
    const own = await stack.api('GET', `/v1/drift/reports/${fraud.reportId}`, undefined, as('fraudReader'));
    expect(own.status).toBe(200);
  });

  it('lists only its models; a model query outside the scope is an empty page, as for a model with no reports', async () => {
    const list = await stack.api('GET', '/v1/drift/reports', undefined, as('fraudReader'));
    expect(list.body.reports.map((r: { model: string }) => r.model)).toEqual([fraud.model, fraud.model]);
    // one at a time: each page still full, the cursor going on past the other team's reports
    const page = await stack.api('GET', '/v1/drift/reports?limit=1', undefined, as('fraudReader'));
    expect(page.body.reports.map((r: { reportId: string }) => r.reportId)).toEqual([fraud.reportId]);
    const outside = await stack.api('GET', `/v1/drift/reports?model=${churn.model}`, undefined, as('fraudReader'));
    const nothing = await stack.api('GET', '/v1/drift/reports?model=no-such-model', undefined, as('fraudReader'));
    expect(outside.body).toEqual({ reports: [], nextCursor: null });
    expect(outside.body).toEqual(nothing.body);
    const suggestions = await stack.api('GET', '/v1/drift/suggestions', undefined, as('fraudReader'));
    expect(suggestions.body.suggestions.map((s: { suggestionId: string }) => s.suggestionId)).toEqual([fraud.suggestionId]);
  });

  it("may not decide another team's suggestion (404), nor request a run for another team's model (403 naming modelName)", async () => {
    const r = await stack.api('POST', `/v1/drift/suggestions/${churn.suggestionId}/accept`, { reason: 'mine?' }, as('fraudPromoter'));
    expect(errorOf(r)).toEqual({ status: 404, code: 'NOT_FOUND', field: 'suggestionId' });
    const run = await stack.api('POST', '/v1/drift/runs', { modelName: churn.model, env: 'staging' }, as('fraudPromoter'));
    expect(errorOf(run)).toEqual({ status: 403, code: 'FORBIDDEN', field: 'modelName' });
    expect((await stack.api('GET', `/v1/drift/suggestions/${churn.suggestionId}`, undefined, as('reader'))).body.suggestion.status).toBe(
      'open',
    );
  });
});

describe('bad input', () => {
  const bad = async (method: string, path: string, body: unknown, field: string) => {
    const r = await stack.api(method, path, body, as('promoter'));
    expect(errorOf(r)).toEqual({ status: 400, code: 'VALIDATION_FAILED', field });
  };
  it('refuses a decision without a reason, or with an empty one, naming reason', async () => {
    const path = `/v1/drift/suggestions/${fraud.suggestionId}/accept`;
    await bad('POST', path, {}, 'reason');
    await bad('POST', path, { reason: '' }, 'reason');
    await bad('POST', path, { reason: '   ' }, 'reason');
    await bad('POST', path, { reason: 'ok', extra: 1 }, 'extra');
  });
  it('refuses a bad limit, a since that is no time, an unknown status or query field, naming it (query.<name>)', async () => {
    await bad('GET', '/v1/drift/reports?limit=0', undefined, 'query.limit');
    await bad('GET', '/v1/drift/reports?limit=501', undefined, 'query.limit');
    await bad('GET', '/v1/drift/reports?since=yesterday', undefined, 'query.since');
    await bad('GET', '/v1/drift/suggestions?status=maybe', undefined, 'query.status');
    await bad('GET', '/v1/drift/suggestions?colour=red', undefined, 'query.colour');
    await bad('GET', '/v1/drift/runs/not-a-uuid', undefined, 'runId');
  });
  it('refuses a run window with from after to, one end only, or longer than allowed, naming the end at fault', async () => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const body = (w: object) => ({ modelName: fraud.model, env: 'staging', ...w });
    await bad('POST', '/v1/drift/runs', body({ from: iso(now), to: iso(now - 60_000) }), 'to');
    await bad('POST', '/v1/drift/runs', body({ from: iso(now - 60_000) }), 'to');
    await bad('POST', '/v1/drift/runs', body({ to: iso(now) }), 'from');
    await bad('POST', '/v1/drift/runs', body({ from: iso(now - 800 * 3_600_000), to: iso(now) }), 'to');
    await bad('POST', '/v1/drift/runs', body({ from: 'last week', to: iso(now) }), 'from');
    await bad('POST', '/v1/drift/runs', { modelName: fraud.model, env: 'moon' }, 'env');
  });
});

describe('suggestion decisions', () => {
  it('accepts, then dismisses; a forbidden transition is 409 naming status', async () => {
    const path = (d: string) => `/v1/drift/suggestions/${fraud.suggestionId}/${d}`;
    const accepted = await stack.api('POST', path('accept'), { reason: 'retraining on November data' }, as('promoter'));
    expect(accepted.status).toBe(200);
    expect(accepted.body.suggestion).toMatchObject({
      status: 'accepted',
      statusBy: 'promoter-1',
      statusReason: 'retraining on November data',
    });
    const again = await stack.api('POST', path('accept'), { reason: 'twice' }, as('promoter'));
    expect(errorOf(again)).toEqual({ status: 409, code: 'CONFLICT', field: 'status' });
    const dismissed = await stack.api('POST', path('dismiss'), { reason: 'seasonal after all' }, as('fraudPromoter'));
    expect(dismissed.status).toBe(200);
    expect(dismissed.body.suggestion).toMatchObject({ status: 'dismissed', statusBy: 'fraud-promoter' });
    for (const d of ['accept', 'dismiss']) {
      const r = await stack.api('POST', path(d), { reason: 'after dismissal' }, as('promoter'));
      expect(errorOf(r)).toEqual({ status: 409, code: 'CONFLICT', field: 'status' });
      expect(r.body.error.message).toMatch(/dismissed/);
    }
    const listed = await stack.api('GET', `/v1/drift/suggestions?status=dismissed`, undefined, as('reader'));
    expect(listed.body.suggestions.map((s: { suggestionId: string }) => s.suggestionId)).toEqual([fraud.suggestionId]);
    const audit = await stack.api('GET', `/v1/audit?type=drift.suggestion_dismissed`);
    expect(audit.body.items.map((e: { actor: string }) => e.actor)).toEqual(['fraud-promoter']);
  });
});

describe('runs', () => {
  it('records a requested run (202) and answers it by id until it is done', async () => {
    const now = Date.now();
    const window = { from: new Date(now - 3_600_000).toISOString(), to: new Date(now).toISOString() };
    const r = await stack.api('POST', '/v1/drift/runs', { modelName: fraud.model, env: 'staging', ...window }, as('operator'));
    expect(r.status).toBe(202);
    expect(r.body.run).toMatchObject({ model: fraud.model, env: 'staging', trigger: 'request', requestedBy: 'operator-1', ...window });
    let run = r.body.run;
    for (let i = 0; run.status === 'running' && i < 200; i++) {
      await new Promise((res) => setTimeout(res, 50));
      run = (await stack.api('GET', `/v1/drift/runs/${run.runId}`, undefined, as('fraudReader'))).body.run;
    }
    // the registered bytes are random: no baseline to judge against
    expect(run).toMatchObject({ status: 'skipped', artifactId: fraud.artifactId, reportId: null });
    const hidden = await stack.api('GET', `/v1/drift/runs/${run.runId}`, undefined, {
      token: await tokenFor('growth-reader', 'reader', { teams: ['growth'] }),
    });
    expect(errorOf(hidden)).toEqual({ status: 404, code: 'NOT_FOUND', field: 'runId' });
  });
});

/**
 * `aegis drift run|reports|show|suggestions|accept|dismiss` and `aegis retrain --suggestion`
 * against the local server: a model trained by the built-in trainer (its baseline pinned),
 * promoted to staging and served, judged by a requested run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordReport } from '../support/drift-reports.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { trainedSample } from '../support/trained-sample.js';
import { aegisCli } from '../support/spawn.js';

let stack: Stack;
let work: string;
let artifactId: string;
let suggestionId: string;
let reportId: string;
const tokens: Record<string, string> = {};
const env = (who = 'admin') => ({ AEGIS_URL: stack.url, AEGIS_TOKEN: who === 'admin' ? stack.adminToken : tokens[who]! });
const row = (i: number) => ({
  age: 20 + (i % 50),
  income: 10_000 + 997 * i,
  ratio: (i % 10) / 10,
  weak_signal: (i % 7) / 7,
  noise: 95 + (i % 11),
});

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-drift-cli-'));
  stack = await startStack({ AEGIS_SERVING_ROUTE_CACHE_SECONDS: '0', AEGIS_SERVING_SAMPLE_RATE: '1' });
  ({ artifactId } = await trainedSample(stack, work));
  for (const role of ['reader', 'promoter', 'invoker']) {
    const t = await stack.api('POST', '/v1/tokens', { principal: `${role}-1`, role });
    tokens[role] = t.body.token;
  }
  const predicted = await stack.api(
    'POST',
    '/v1/serving/churn/staging/predict',
    { inputs: Array.from({ length: 40 }, (_, i) => row(i)) },
    { token: tokens.invoker! },
  );
  expect(predicted.status).toBe(200);
  await stack.container.serving.flush();
  const recorded = await recordReport(stack, { model: 'churn', env: 'staging', artifactId, drifted: true, hoursAgo: 1 });
  ({ reportId } = recorded);
  suggestionId = recorded.suggestionId!;
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('aegis drift run', () => {
  it('requests a run of the served deployment, waits for it and prints the run and its report', async () => {
    const from = new Date(Date.now() - 30 * 60_000).toISOString();
    const to = new Date().toISOString();
    const res = await aegisCli(
      ['--json', 'drift', 'run', '--model', 'churn', '--env', 'staging', '--from', from, '--to', to],
      env('promoter'),
    );
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout);
    expect(out.run).toMatchObject({ model: 'churn', env: 'staging', status: 'succeeded', artifactId, requestedBy: 'promoter-1' });
    // 40 rows are fewer than a verdict needs: judged, nothing decided
    expect(out.report).toMatchObject({ reportId: out.run.reportId, verdict: 'insufficient-data', summary: { rows: 40, requests: 1 } });
    const text = await aegisCli(['drift', 'show', out.run.reportId], env('reader'));
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/verdict: INSUFFICIENT-DATA/);
  }, 60_000);

  it('exits 1 with the 409 naming env where nothing serves, 3 for a role that may not, 2 for one window end', async () => {
    const none = await aegisCli(['--json', 'drift', 'run', '--model', 'churn', '--env', 'prod'], env());
    expect(none.code).toBe(1);
    expect(JSON.parse(none.stdout).error).toMatchObject({ code: 'CONFLICT', field: 'env', status: 409 });
    expect((await aegisCli(['drift', 'run', '--model', 'churn', '--env', 'staging'], env('reader'))).code).toBe(3);
    const half = await aegisCli(['drift', 'run', '--model', 'churn', '--env', 'staging', '--from', new Date().toISOString()], env());
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--from and --to/);
  });
});

describe('aegis drift reports, show, suggestions, accept, dismiss', () => {
  it('lists reports and shows one: per feature rows, JS and threshold, histograms of drifted features, verdict, suggestion', async () => {
    const list = await aegisCli(['--json', 'drift', 'reports', '--model', 'churn', '--limit', '10'], env('reader'));
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).reports.map((r: { reportId: string }) => r.reportId)).toContain(reportId);
    const show = await aegisCli(['drift', 'show', reportId], env('reader'));
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^feature\s+kind\s+rows\s+JS\s+threshold\s+drift\s+reasons$/m);
    expect(show.stdout).toMatch(/^amount\s+numeric\s+2000\s+0\.\d{4}\s+0\.\d{4}\s+YES/m);
    expect(show.stdout).toMatch(/amount: reference vs current\n\s+bin\s+reference\s+current\n\s+< [\d.]+\s/);
    // the shifted values pile into the open upper tail: the longest current bar
    expect(show.stdout).toMatch(/\n\s+≥ [\d.]+\s+\d+\.\d%\s+#{20} \d+\.\d%\n/);
    expect(show.stdout).toMatch(/colour: reference vs current[\s\S]*__missing__/);
    expect(show.stdout).toContain(`verdict: DRIFT  suggestion ${suggestionId}`);
    const bad = await aegisCli(['--json', 'drift', 'reports', '--limit', '0'], env('reader'));
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'query.limit' });
  });

  it('accepts then dismisses a suggestion (promoter); a reader is refused (exit 3); a missing --reason is a usage error', async () => {
    expect((await aegisCli(['drift', 'accept', suggestionId], env('promoter'))).code).toBe(2);
    expect((await aegisCli(['drift', 'accept', suggestionId, '--reason', 'r'], env('reader'))).code).toBe(3);
    const open = await aegisCli(['--json', 'drift', 'suggestions', '--status', 'open'], env('reader'));
    expect(JSON.parse(open.stdout).suggestions.map((s: { suggestionId: string }) => s.suggestionId)).toEqual([suggestionId]);
    const accepted = await aegisCli(['drift', 'accept', suggestionId, '--reason', 'retrain on November'], env('promoter'));
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(new RegExp(`^suggestion ${suggestionId}  churn/staging  ACCEPTED`));
    expect(accepted.stdout).toMatch(/accepted by promoter-1 at .*: retrain on November/);
    const again = await aegisCli(['--json', 'drift', 'accept', suggestionId, '--reason', 'twice'], env('promoter'));
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error).toMatchObject({ code: 'CONFLICT', field: 'status' });
  });
});

describe('aegis retrain --suggestion', () => {
  const dataset = () => ['--dataset', `sample@v9=${join(process.cwd(), 'test/data/sample')}`, '--out', join(work, 'retrain')];

  it('refuses --from naming another artifact than the suggestion (exit 2, naming both flags) before training', async () => {
    const other = '00000000-0000-4000-8000-000000000000';
    const res = await aegisCli(['retrain', '--suggestion', suggestionId, '--from', other, ...dataset()], env());
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`--from ${other} is not the artifact --suggestion ${suggestionId} was raised for (${artifactId})`);
  });

  it('fails on an unknown suggestion, and without --from or --suggestion is a usage error', async () => {
    const unknown = await aegisCli(['retrain', '--suggestion', 'sug-nothing', ...dataset()], env());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/--suggestion sug-nothing: no such retrain suggestion/);
    expect((await aegisCli(['retrain', ...dataset()], env())).code).toBe(2);
  });
});

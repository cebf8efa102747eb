/**
 * `aegis acceptance` as CI runs it: every check of the seed's acceptance on a fresh local
 * registry passes with its evidence, in a canonical report with its sha256; and a failing
 * check (a runbook missing from a copy of the checkout) fails the report.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, canonicalSha256 } from '../../lib/kernel/canonical.js';
import { buildReport, runCheck } from '../../lib/clients/acceptance/report.js';
import { ACCEPTANCE_CHECKS } from '../../lib/clients/cli/acceptance-command.js';
import { startStack } from '../support/local-stack.js';
import { run } from '../support/spawn.js';

const CLI = join(process.cwd(), 'bin/aegis.js');
const ALL = ACCEPTANCE_CHECKS;
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'aegis-acceptance-test-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('aegis acceptance', () => {
  it('passes every check on a fresh local registry, each with its evidence, in a canonical report with its sha256', async () => {
    const out = join(work, 'report.json');
    const r = await run(process.execPath, [CLI, '--json', 'acceptance', '--out', out], { timeoutMs: 900_000 });
    const report = JSON.parse(r.stdout);
    // on failure the diff names the failed checks and their details
    expect(report.checks.filter((c: { status: string }) => c.status !== 'pass')).toEqual([]);
    expect(r.code).toBe(0);
    expect(report.checks.map((c: { id: string }) => c.id)).toEqual(ALL);
    expect(report).toMatchObject({ type: 'aegis.acceptance-report/v1', registry: 'local', passed: true, skipped: [] });
    for (const c of report.checks) {
      expect(c.evidence.timings.ms).toEqual(expect.any(Number));
      expect(Object.keys(c.evidence.ids).length + Object.keys(c.evidence.hashes).length + Object.keys(c.evidence).length).toBeGreaterThan(
        3,
      );
    }
    const byId = Object.fromEntries(report.checks.map((c: { id: string }) => [c.id, c]));
    expect(byId['drift-sample'].evidence.ids.suggestionId).toMatch(/^sug-[0-9a-f-]{36}$/);
    expect(byId['manifest-verification'].evidence.ids.artifactId).toBe(byId['drift-sample'].evidence.ids.artifactId);
    expect(byId['training-reproducible'].evidence.hashes.run1).toBe(byId['training-reproducible'].evidence.hashes.run2);
    expect(byId['canary-rollback'].evidence.rolledBackOn).toBe('quality');
    expect(byId['promotion-e2e'].evidence.approvers).toEqual(['approver-1', 'approver-2', 'approver-3']);
    expect(byId['promotion-e2e'].evidence.ids.candidate).toMatch(/^[0-9a-f-]{36}$/);
    const { sha256, ...body } = report;
    expect(sha256).toBe(canonicalSha256(body));
    expect(readFileSync(out, 'utf8')).toBe(`${canonicalJson(report)}\n`);
  }, 900_000);

  it('fails the runbooks check, naming the runbook, when one is missing from the checkout', async () => {
    const copy = join(work, 'checkout');
    cpSync(join(process.cwd(), 'runbooks'), join(copy, 'runbooks'), { recursive: true });
    rmSync(join(copy, 'runbooks/dr_drill.md'));
    const r = await run(process.execPath, [CLI, '--json', 'acceptance', '--root', copy, '--checks', 'runbooks']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.checks).toEqual([
      expect.objectContaining({ id: 'runbooks', status: 'fail', detail: 'missing or empty: runbooks/dr_drill.md' }),
    ]);
    expect(report.passed).toBe(false);
    expect(report.skipped).toEqual(ALL.slice(1));
  });

  it('fails a report when one check fails or throws, and passes it only when every check passed', async () => {
    const pass = await runCheck({ id: 'a', title: 'a', run: async () => ({ ok: true, detail: 'fine' }) }, {});
    const thrown = await runCheck(
      {
        id: 'b',
        title: 'b',
        run: async () => {
          throw new Error('no sample artifact');
        },
      },
      {},
    );
    expect(thrown).toMatchObject({ status: 'fail', detail: 'no sample artifact' });
    const base = {
      type: 'aegis.acceptance-report/v1' as const,
      registry: 'local',
      commit: null,
      startedAt: '',
      finishedAt: '',
      skipped: [],
    };
    expect(buildReport({ ...base, checks: [pass, thrown] }).passed).toBe(false);
    expect(buildReport({ ...base, checks: [pass] }).passed).toBe(true);
    expect(buildReport({ ...base, checks: [] }).passed).toBe(false);
  });
});

describe('aegis acceptance --url', () => {
  it('runs the registry checks against the registry given, and names it in the report', async () => {
    // a registry that writes its input segments within a second: the drift sample is told to wait 2 s, not 12
    const stack = await startStack({ AEGIS_SERVING_SEGMENT_SECONDS: '1' });
    try {
      const ids = ['drift-sample', 'manifest-verification', 'promotion-policy', 'audit-chain'];
      const refused = await run(process.execPath, [
        CLI,
        '--url',
        stack.url,
        '--token',
        stack.adminToken,
        'acceptance',
        '--flush-wait',
        'soon',
      ]);
      expect({ code: refused.code, stderr: refused.stderr.trim() }).toEqual({
        code: 2,
        stderr: expect.stringContaining('--flush-wait soon: must be an integer from 0 to 3600'),
      });
      const r = await run(process.execPath, [
        CLI,
        '--json',
        '--url',
        stack.url,
        '--token',
        stack.adminToken,
        'acceptance',
        '--checks',
        ids.join(','),
        '--flush-wait',
        '2',
      ]);
      const report = JSON.parse(r.stdout);
      expect(report.checks.map((c: { id: string; status: string }) => [c.id, c.status])).toEqual(ids.map((id) => [id, 'pass']));
      expect(report.registry).toBe(stack.url);
      const artifactId = report.checks[0].evidence.ids.artifactId;
      expect((await stack.api('GET', `/v1/artifacts/${artifactId}`)).status).toBe(200);
      // a subset never passes: the sign-off needs every check
      expect(report.passed).toBe(false);
      expect(r.code).toBe(1);
    } finally {
      await stack.stop();
    }
  }, 300_000);
});

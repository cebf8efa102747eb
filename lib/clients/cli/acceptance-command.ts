import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { canonicalJson } from '../../kernel/canonical.js';
import { CHECKOUT_CHECKS, type CheckoutContext } from '../acceptance/checks-checkout.js';
import { REGISTRY_CHECKS, type RegistryContext } from '../acceptance/checks-registry.js';
import { buildReport, runCheck, type AcceptanceReport, type Check, type CheckResult } from '../acceptance/report.js';
import { AegisClient } from '../http/client.js';
import { CliError, type CliContext } from './context.js';

type Ctx = CheckoutContext & RegistryContext;
const byId = (id: string) => [...CHECKOUT_CHECKS, ...REGISTRY_CHECKS].find((c) => c.id === id)! as Check<Ctx>;
/** Cheapest first; the registry checks after the drift sample use what it registered and promoted. */
export const ACCEPTANCE_CHECKS = [
  'runbooks',
  'require-kms',
  'training-reproducible',
  'drift-sample',
  'manifest-verification',
  'promotion-policy',
  'audit-chain',
  'canary-rollback',
  'promotion-e2e',
  'dr-drill',
];

/**
 * A fresh local registry in a temp data folder, in this process (as `aegis serve` runs it), and how to stop it. Its
 * serving writes input segments within a second (the default is 10 s), so the drift sample waits 2 s instead of 12.
 */
async function localRegistry(): Promise<{ api: AegisClient; flushWait?: string; close(): Promise<void> }> {
  const { loadCheckedConfig } = await import('../../platform/config.js');
  const { startLocal } = await import('../../platform/composition/local-start.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'aegis-acceptance-'));
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const config = loadCheckedConfig({
    DEV_ALLOW_EPHEMERAL: 'true',
    NODE_ENV: 'development',
    AEGIS_DATA_DIR: dataDir,
    PORT: '0',
    AEGIS_SERVING_SEGMENT_SECONDS: '1',
  });
  const running = await startLocal(config, { logger: quiet });
  if (!running.newAdminToken) throw new CliError('the fresh local registry made no admin token');
  return {
    api: new AegisClient({ baseUrl: running.url, token: running.newAdminToken }),
    flushWait: '2',
    async close() {
      await running.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const line = (c: CheckResult) =>
  `  ${c.status === 'pass' ? 'PASS' : 'FAIL'}  ${c.id.padEnd(22)} ${`${(c.evidence.timings.ms / 1000).toFixed(1)} s`.padStart(8)}  ${c.detail}`;

/** `aegis acceptance`: the seed's acceptance checks, a canonical report with its sha256; exit 1 unless every check passed. */
export function acceptanceCommand(program: Command, ctx: CliContext): void {
  program
    .command('acceptance')
    .description(
      "run the seed's acceptance checks against a registry (a fresh local one unless --url) and write the canonical report; exit 1 unless every check passes",
    )
    .option('--out <file>', 'write the report (canonical JSON, with its sha256) here: what aegis signoff signs')
    .option('--assembly <dir>', 'the synthesized cloud assembly to check REQUIRE_KMS in (default: synthesize the prod stack)')
    .option('--checks <ids>', `run only these checks (comma-separated: ${ACCEPTANCE_CHECKS.join(', ')}); the report then does not pass`)
    .option('--root <dir>', 'the Aegis checkout (runbooks, scripts, environments.json, test/data/sample)', '.')
    .option(
      '--flush-wait <seconds>',
      "how long the drift sample waits for the registry's input segments: longer than its AEGIS_SERVING_SEGMENT_SECONDS (default 12 with --url; 2 for the fresh local registry, which writes them within 1 s)",
    )
    .action(async (o: { out?: string; assembly?: string; checks?: string; root: string; flushWait?: string }) => {
      const only = o.checks?.split(',').map((s) => s.trim());
      const unknown = only?.filter((id) => !ACCEPTANCE_CHECKS.includes(id)) ?? [];
      if (unknown.length) throw new CliError(`--checks: unknown check(s) ${unknown.join(', ')}; known: ${ACCEPTANCE_CHECKS.join(', ')}`, 2);
      if (o.flushWait !== undefined && !(/^\d+$/.test(o.flushWait) && Number(o.flushWait) <= 3600))
        throw new CliError(`--flush-wait ${o.flushWait}: must be an integer from 0 to 3600`, 2);
      const root = resolve(o.root);
      const run = ACCEPTANCE_CHECKS.filter((id) => !only || only.includes(id));
      const startedAt = new Date().toISOString();
      const remote = ctx.globals.url;
      const needsRegistry = run.some((id) => REGISTRY_CHECKS.some((c) => c.id === id));
      const registry = needsRegistry
        ? remote
          ? { api: await ctx.client(), close: async () => undefined }
          : await localRegistry()
        : undefined;
      const say = ctx.reporter();
      const flushWait = o.flushWait ?? registry?.flushWait;
      const c: Ctx = {
        root,
        assembly: o.assembly,
        api: registry?.api as AegisClient,
        say,
        data: join(root, 'test/data/sample'),
        ...(flushWait !== undefined && { flushWait }),
      };
      const checks: CheckResult[] = [];
      try {
        for (const id of run) {
          say.step(`acceptance: ${id}`);
          checks.push(await runCheck(byId(id), c));
        }
      } finally {
        await registry?.close();
      }
      const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
      const report: AcceptanceReport = buildReport({
        type: 'aegis.acceptance-report/v1',
        registry: remote ?? 'local',
        commit: head.status === 0 ? head.stdout.trim() : null,
        startedAt,
        finishedAt: new Date().toISOString(),
        skipped: ACCEPTANCE_CHECKS.filter((id) => !run.includes(id)),
        checks,
      });
      if (o.out) await writeFile(o.out, `${canonicalJson(report)}\n`);
      const verdict = report.passed
        ? `ACCEPTANCE PASSED (report sha256 ${report.sha256})`
        : `ACCEPTANCE FAILED: ${checks.filter((x) => x.status === 'fail').length} check(s) failed${report.skipped.length ? `, ${report.skipped.length} not run` : ''}`;
      ctx.out([`acceptance against ${report.registry} registry`, ...checks.map(line), verdict].join('\n'), report);
      if (!report.passed) process.exitCode = 1;
    });
}

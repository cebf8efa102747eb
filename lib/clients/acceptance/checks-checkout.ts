/**
 * The acceptance checks that read the checkout (runbooks, the production configuration,
 * training reproducibility) or run its drills (the canary simulation, the DR drill), each
 * through the code path the project already has for it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../kernel/canonical.js';
import { deployProblems } from '../../infra/deploy-guard.js';
import { trainSmoke } from '../training/smoke.js';
import type { Check, CheckOutcome } from './report.js';

export interface CheckoutContext {
  /** the Aegis checkout the acceptance runs from */
  root: string;
  /** a cloud assembly to guard; otherwise the production stack is synthesized */
  assembly?: string | undefined;
}

/** The runbooks the seed names. */
export const RUNBOOKS = ['canary_rollback', 'dr_drill', 'drift_drill', 'key_rotation', 'manifest_issues'] as const;
/** The production entry of the per-environment configuration. */
const PROD = 'prod';

/** Runs a program of the checkout to its end (its own registry and data folders), keeping the output's tail. */
function runProgram(root: string, cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const tail = (out: string, n = 5) => out.trim().split('\n').slice(-n).join(' | ');

/** A prod stack synthesized from bin/cdk.ts into a temp folder (bundling skipped: the guard reads configuration, not code). */
function synthesizeProd(root: string): string {
  const outdir = mkdtempSync(join(tmpdir(), 'aegis-acceptance-cdk-'));
  const context = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')).context as Record<string, unknown>;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bin/cdk.ts'], {
    cwd: root,
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      CDK_OUTDIR: outdir,
      CDK_VALIDATION: 'false',
      CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [], env: PROD }),
    },
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`cdk synth of ${PROD} failed: ${tail(r.stderr || String(r.error))}`);
  return outdir;
}

export const CHECKOUT_CHECKS: Check<CheckoutContext>[] = [
  {
    id: 'runbooks',
    title: 'runbooks present',
    async run({ root }) {
      const missing = RUNBOOKS.filter(
        (r) => !existsSync(join(root, 'runbooks', `${r}.md`)) || !readFileSync(join(root, 'runbooks', `${r}.md`), 'utf8').trim(),
      );
      const hashes = Object.fromEntries(
        RUNBOOKS.filter((r) => !missing.includes(r)).map((r) => [
          `runbooks/${r}.md`,
          sha256Hex(readFileSync(join(root, 'runbooks', `${r}.md`))),
        ]),
      );
      return missing.length
        ? { ok: false, detail: `missing or empty: ${missing.map((r) => `runbooks/${r}.md`).join(', ')}`, evidence: { hashes } }
        : { ok: true, detail: `${RUNBOOKS.length} runbooks present`, evidence: { hashes } };
    },
  },
  {
    id: 'require-kms',
    title: 'REQUIRE_KMS in the production configuration',
    async run({ root, assembly }) {
      const dir = assembly ?? synthesizeProd(root);
      try {
        const problems = deployProblems({ envName: PROD, environmentsFile: join(root, 'environments.json'), assemblyDir: dir });
        const detail = problems.length
          ? problems.map((p) => `${p.field}: ${p.message}`).join('; ')
          : `the ${PROD} stack runs with REQUIRE_KMS=true, KMS signing keys, no ephemeral keys, Object Lock`;
        return {
          ok: problems.length === 0,
          detail,
          evidence: {
            ids: { environment: PROD, assembly: assembly ?? 'synthesized from bin/cdk.ts' },
            hashes: { 'environments.json': sha256Hex(readFileSync(join(root, 'environments.json'))) },
          },
        };
      } finally {
        if (!assembly) rmSync(dir, { recursive: true, force: true });
      }
    },
  },
  {
    id: 'training-reproducible',
    title: 'reproducible training smoke',
    async run({ root }): Promise<CheckOutcome> {
      const runs = [];
      for (const i of [1, 2]) {
        const work = mkdtempSync(join(tmpdir(), `aegis-acceptance-smoke-${i}-`));
        try {
          runs.push((await trainSmoke(root, work)).manifest.artifactSha256);
        } finally {
          rmSync(work, { recursive: true, force: true });
        }
      }
      const [a, b] = runs as [string, string];
      return {
        ok: a === b,
        detail: a === b ? 'two runs gave the same artifact' : `two runs differ: ${a} vs ${b}`,
        evidence: { hashes: { run1: a, run2: b } },
      };
    },
  },
  {
    id: 'canary-rollback',
    title: 'a canary with an injected regression rolled back',
    async run({ root }) {
      const r = await runProgram(root, 'bash', ['scripts/canary_check.sh'], 600_000);
      const id = (label: string) => new RegExp(`${label} +([0-9a-f-]{36})`).exec(r.out)?.[1];
      const healthy = id('trained and registered the healthy candidate');
      const regressed = id('trained and registered the regressed candidate');
      const rolledBack = /ROLLED BACK on (\w+)/.exec(r.out)?.[1];
      const ok = r.code === 0 && r.out.includes('CANARY CHECK PASSED') && rolledBack !== undefined;
      return {
        ok,
        detail: ok
          ? `scripts/canary_check.sh: the regressed candidate rolled back on ${rolledBack}`
          : `scripts/canary_check.sh exited ${r.code}: ${tail(r.out)}`,
        evidence: { ids: { ...(healthy ? { healthy } : {}), ...(regressed ? { regressed } : {}) }, rolledBackOn: rolledBack ?? null },
      };
    },
  },
  {
    id: 'promotion-e2e',
    title: 'a candidate through a judged canary and a 3-of-5 prod promotion; an injected regression rolled back',
    async run({ root }) {
      const r = await runProgram(root, 'bash', ['scripts/e2e_promotion_flow.sh'], 600_000);
      const candidate = /trained, registered and verified the candidate +([0-9a-f-]{36})/.exec(r.out)?.[1];
      const approvers = /prod promotion SUCCEEDED: (.+)$/m.exec(r.out)?.[1];
      const ok = r.code === 0 && r.out.includes('E2E PROMOTION FLOW PASSED') && /regression ROLLED BACK automatically/.test(r.out);
      return {
        ok,
        detail: ok
          ? `scripts/e2e_promotion_flow.sh: canary passed, prod approved by ${approvers}, the regression rolled back`
          : `scripts/e2e_promotion_flow.sh exited ${r.code}: ${tail(r.out)}`,
        evidence: { ids: candidate ? { candidate } : ({} as Record<string, string>), approvers: approvers?.split(', ') ?? [] },
      };
    },
  },
  {
    id: 'dr-drill',
    title: 'the DR drill',
    async run({ root }) {
      const r = await runProgram(root, process.execPath, ['--import', 'tsx', 'scripts/dr-drill.ts', '--artifacts', '5'], 600_000);
      const line = (name: string) => new RegExp(`^ {2}${name} +(.*)$`, 'm').exec(r.out)?.[1] ?? 'not reported';
      const ok = r.code === 0 && r.out.includes('DRILL PASSED');
      return {
        ok,
        detail: ok ? `rebuilt from the archive: ${line('restored')}` : `scripts/dr-drill.ts exited ${r.code}: ${tail(r.out)}`,
        evidence: { chain: line('audit chain'), manifests: line('manifests'), parity: line('parity') },
      };
    },
  },
];

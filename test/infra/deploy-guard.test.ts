/**
 * The deploy guard (`aegis deploy-guard`, lib/infra/deploy-guard.ts) on the stack bin/cdk.ts
 * synthesizes for `prod` from the committed environments.json, as the example workflow runs it:
 * that stack passes; each weakening of it fails, naming the field.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { deployProblems, readAssembly, templateProblems, type StackTemplates } from '../../lib/infra/deploy-guard.js';
import { aegisCli } from '../support/spawn.js';
import { CDK_JSON_CONTEXT } from './support.js';

const ENVIRONMENTS = join(REPO_ROOT, 'environments.json');
let outdir: string;
let good: StackTemplates;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'aegis-guard-'));
  const { NODE_OPTIONS: _jest, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bin/cdk.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...env,
      CDK_OUTDIR: outdir,
      CDK_VALIDATION: 'false',
      CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], env: 'prod' }),
    },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`cdk synth failed: ${r.stderr}`);
  good = readAssembly(outdir, 'aegis-prod');
}, 120_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

type Res = Record<string, { Type: string; Properties: Record<string, any> }>;
/** The good stack with `change` applied to a copy of its main template's resources. */
function weakened(change: (resources: Res) => void): StackTemplates {
  const [main, ...nested] = good.templates;
  const resources = structuredClone(main!.resources) as Res;
  change(resources);
  return { ...good, templates: [{ file: main!.file, resources }, ...nested] };
}
const aegisFunctions = (r: Res) =>
  Object.entries(r).filter(([, x]) => x.Type === 'AWS::Lambda::Function' && x.Properties.Environment?.Variables?.REQUIRE_KMS);
const allFunctionIds = () =>
  aegisFunctions(structuredClone(good.templates[0]!.resources) as Res)
    .map(([id]) => id)
    .sort();
const inEveryFunction = (edit: (vars: Record<string, unknown>) => void) => (r: Res) => {
  for (const [, fn] of aegisFunctions(r)) edit(fn.Properties.Environment.Variables);
};

describe('deploy guard', () => {
  it('passes the prod stack bin/cdk.ts synthesizes: every Aegis function checked, the nested stacks (console, function alarms) read', () => {
    expect(good.templates.map((t) => t.file).sort()).toEqual([
      'aegis-prod.template.json',
      expect.stringMatching(/Console.*\.nested\.template\.json$/),
      expect.stringMatching(/FunctionAlarms.*\.nested\.template\.json$/),
    ]);
    expect(allFunctionIds().length).toBeGreaterThan(20);
    expect(templateProblems(good)).toEqual([]);
    expect(deployProblems({ envName: 'prod', environmentsFile: ENVIRONMENTS, assemblyDir: outdir })).toEqual([]);
  });

  it('fails a function without REQUIRE_KMS=true, naming the field and the function', () => {
    const [first, second] = allFunctionIds();
    const problems = templateProblems(
      weakened((r) => {
        r[first!]!.Properties.Environment.Variables.REQUIRE_KMS = 'false';
        delete r[second!]!.Properties.Environment.Variables.REQUIRE_KMS;
      }),
    );
    expect(problems).toEqual([
      { field: 'REQUIRE_KMS', message: 'must be "true" (is "false")', where: [first] },
      { field: 'REQUIRE_KMS', message: 'must be "true" (unset)', where: [second] },
    ]);
  });

  it('fails functions without the KMS signing key ids, or pointing at a key that is not an Ed25519 signing key', () => {
    const problems = templateProblems(
      weakened(
        inEveryFunction((v) => {
          delete v.MANIFEST_SIGNING_KMS_KEY_ID;
          v.AUDIT_SIGNING_KMS_KEY_ID = { 'Fn::GetAtt': ['DataKey', 'Arn'] };
        }),
      ),
    );
    expect(problems).toEqual([
      { field: 'MANIFEST_SIGNING_KMS_KEY_ID', message: 'missing: signing needs a KMS key id', where: allFunctionIds() },
      {
        field: 'AUDIT_SIGNING_KMS_KEY_ID',
        message: 'DataKey is not an Ed25519 signing key (AWS::KMS::Key SYMMETRIC_DEFAULT ENCRYPT_DECRYPT)',
        where: allFunctionIds(),
      },
    ]);
  });

  it('fails a stack that allows ephemeral keys, relaxes the key spec for tests, or is not production', () => {
    const [first] = allFunctionIds();
    const problems = templateProblems(
      weakened((r) => {
        Object.assign(r[first!]!.Properties.Environment.Variables, {
          DEV_ALLOW_EPHEMERAL: 'true',
          AEGIS_TEST_ALLOW_P256_KMS_KEYS: '1',
          NODE_ENV: 'development',
        });
      }),
    );
    expect(problems.map((p) => [p.field, p.where])).toEqual([
      ['NODE_ENV', [first]],
      ['DEV_ALLOW_EPHEMERAL', [first]],
      ['AEGIS_TEST_ALLOW_P256_KMS_KEYS', [first]],
    ]);
    expect(problems[1]!.message).toBe('allows ephemeral dev keys: must be unset or "false" (is "true")');
  });

  it('fails a stack whose artifact or audit archive bucket loses Object Lock or COMPLIANCE retention', () => {
    const problems = templateProblems(
      weakened((r) => {
        r.ArtifactBucket!.Properties.ObjectLockEnabled = false;
        r.AuditArchiveBucket!.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode = 'GOVERNANCE';
      }),
    );
    expect(problems).toEqual([
      {
        field: 'ArtifactBucket.ObjectLockEnabled',
        message: 'the artifact bucket (MODEL_REGISTRY_S3_BUCKET) must have Object Lock (is false)',
        where: allFunctionIds(),
      },
      {
        field: 'AuditArchiveBucket.ObjectLockConfiguration',
        message: 'the audit archive bucket (AEGIS_AUDIT_ARCHIVE_BUCKET) must retain in COMPLIANCE mode by default (is "GOVERNANCE")',
        where: allFunctionIds(),
      },
    ]);
  });

  it('fails buckets it cannot check (named outside the stack) or missing, and a stack with no Aegis function', () => {
    const outside = templateProblems(
      weakened(
        inEveryFunction((v) => {
          v.MODEL_REGISTRY_S3_BUCKET = 'someone-elses-bucket';
          delete v.AEGIS_AUDIT_ARCHIVE_BUCKET;
        }),
      ),
    );
    expect(outside.map((p) => [p.field, p.message])).toEqual([
      ['MODEL_REGISTRY_S3_BUCKET', 'names a bucket outside this stack ("someone-elses-bucket"): its Object Lock cannot be checked'],
      ['AEGIS_AUDIT_ARCHIVE_BUCKET', 'missing: the audit archive bucket must be an S3 bucket with Object Lock'],
    ]);
    const none = templateProblems(weakened((r) => aegisFunctions(r).forEach(([id]) => delete r[id])));
    expect(none.map((p) => p.field)).toEqual(['functions']);
  });

  it('fails an environment with no entry or an invalid one in the per-environment file, and a missing assembly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-guard-envs-'));
    try {
      const file = join(dir, 'environments.json');
      writeFileSync(file, JSON.stringify({ environments: { dev: {} } }));
      expect(deployProblems({ envName: 'prod', environmentsFile: file, assemblyDir: outdir }).map((p) => p.field)).toEqual([
        'environments.prod',
      ]);
      writeFileSync(file, JSON.stringify({ environments: { prod: { alarmEmail: 'nope' } } }));
      expect(deployProblems({ envName: 'prod', environmentsFile: file, assemblyDir: outdir })).toEqual([
        { field: file, message: `${file}: environments.prod.alarmEmail: not an email address`, where: [] },
      ]);
      expect(deployProblems({ envName: 'prod', environmentsFile: ENVIRONMENTS, assemblyDir: dir })).toEqual([
        { field: 'aegis-prod', message: `${join(dir, 'manifest.json')}: not found (run cdk synth first)`, where: [] },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('aegis deploy-guard exits 0 on the good assembly and 1 on a weakened one, naming every problem', async () => {
    const ok = await aegisCli(['deploy-guard', '--env', 'prod', '--assembly', outdir, '--environments', ENVIRONMENTS]);
    expect({ code: ok.code, stdout: ok.stdout }).toEqual({ code: 0, stdout: expect.stringMatching(/^deploy-guard: prod: ok/) });
    const bad = mkdtempSync(join(tmpdir(), 'aegis-guard-bad-'));
    try {
      cpSync(outdir, bad, { recursive: true });
      const path = join(bad, 'aegis-prod.template.json');
      const t = JSON.parse(readFileSync(path, 'utf8'));
      inEveryFunction((v) => Object.assign(v, { REQUIRE_KMS: 'false', DEV_ALLOW_EPHEMERAL: 'true' }))(t.Resources);
      t.Resources.ArtifactBucket.Properties.ObjectLockEnabled = false;
      writeFileSync(path, JSON.stringify(t));
      const human = await aegisCli(['deploy-guard', '--env', 'prod', '--assembly', bad, '--environments', ENVIRONMENTS]);
      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(
        /^deploy-guard: prod: refused, 3 problems\n {2}REQUIRE_KMS: must be "true" \(is "false"\) \[.+ and \d+ more\]\n/,
      );
      expect(human.stdout).toContain('\n  DEV_ALLOW_EPHEMERAL: allows ephemeral dev keys');
      expect(human.stdout).toContain('\n  ArtifactBucket.ObjectLockEnabled: the artifact bucket');
      const json = await aegisCli(['deploy-guard', '--env', 'prod', '--assembly', bad, '--environments', ENVIRONMENTS, '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({ env: 'prod', ok: false, problems: expect.arrayContaining([expect.anything()]) });
      expect(JSON.parse(json.stdout).problems.map((p: { field: string }) => p.field)).toEqual([
        'REQUIRE_KMS',
        'DEV_ALLOW_EPHEMERAL',
        'ArtifactBucket.ObjectLockEnabled',
      ]);
      const usage = await aegisCli(['deploy-guard']);
      expect(usage.code).toBe(2);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});

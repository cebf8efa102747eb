import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CedarPolicyEngine } from '../../lib/platform/adapters/policy/cedar.js';
import { canonicalJson, sha256Hex } from '../../lib/kernel/canonical.js';
import { PolicyConfigSchema, type PolicyInput } from '../../lib/kernel/policy.js';

const POLICY_DIR = path.resolve('policies');
const clock = { now: () => new Date('2026-11-22T10:00:00.000Z') };

const input = (over: Partial<PolicyInput> = {}, artifact: Partial<PolicyInput['artifact']> = {}): PolicyInput => ({
  artifact: {
    artifactId: '6f1c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11',
    modelName: 'churn',
    version: '7',
    manifestSignatureValid: true,
    signerId: 'manifest-signer-v1',
    codeRef: 'git:abc123',
    datasets: [{ id: 'customers', version: '2026-11', checksum: `sha256:${'b'.repeat(64)}` }],
    metrics: { auc: 0.91 },
    ...artifact,
  },
  targetEnv: 'staging',
  requester: { id: 'alice', role: 'promoter' },
  production: { artifactId: '0b0c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11', metrics: { auc: 0.9 } },
  riskTier: 'medium',
  canaryPassedRequestsPerArm: 0,
  canaryCompleted: false,
  servedBefore: false,
  evidenceProblems: [],
  action: 'promote',
  ...over,
});
/** A canary of the artifact passed a stage with 1,000 requests per arm (verified from the chain). */
const CANARY_DONE = { canaryPassedRequestsPerArm: 1000 } as const;

const tempDirs: string[] = [];
afterAll(() => Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Loads from a temp dir holding the real policy files, with either replaced. */
async function loadWith(files: { cedar?: string; json?: string }): Promise<CedarPolicyEngine> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sentinelnet-'));
  tempDirs.push(dir);
  await writeFile(path.join(dir, 'sentinelnet.cedar'), files.cedar ?? (await readFile(path.join(POLICY_DIR, 'sentinelnet.cedar'), 'utf8')));
  await writeFile(path.join(dir, 'sentinelnet.json'), files.json ?? (await readFile(path.join(POLICY_DIR, 'sentinelnet.json'), 'utf8')));
  return CedarPolicyEngine.load(dir, { clock });
}

describe('CedarPolicyEngine (policies/sentinelnet.cedar)', () => {
  let engine: CedarPolicyEngine;
  beforeAll(async () => {
    engine = await CedarPolicyEngine.load(POLICY_DIR, { clock });
  });

  it('allows a normal staging promotion by a promoter', async () => {
    const d = await engine.decide(input());
    expect(d).toMatchObject({
      decision: 'allow',
      rules: ['promoter-default-permit'],
      engine: 'cedar',
      evaluatedAt: '2026-11-22T10:00:00.000Z',
    });
    expect(d.reasons[0]).toMatch(/alice may promote churn to staging/);
    expect(d.threshold).toBeUndefined();
  });

  it('denies when the manifest signature is invalid, naming require-valid-manifest-signature', async () => {
    const d = await engine.decide(input({}, { manifestSignatureValid: false }));
    expect(d.decision).toBe('deny');
    expect(d.rules).toEqual(['require-valid-manifest-signature']);
    expect(d.reasons[0]).toMatch(/manifest signature .* is not valid/);
  });

  it('denies promotion to prod without a completed canary, naming prod-requires-completed-canary', async () => {
    const d = await engine.decide(input({ targetEnv: 'prod' }));
    expect(d).toMatchObject({ decision: 'deny', rules: ['prod-requires-completed-canary'] });
    expect(d.reasons[0]).toBe(
      'artifact 6f1c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11 has no completed canary: promotion to prod needs a canary stage that passed with at least 200 requests per arm (best: 0)',
    );
    expect((await engine.decide(input({ targetEnv: 'prod', ...CANARY_DONE }))).decision).toBe('allow');
  });

  it('counts a canary as completed only when a passing stage served at least canary.minRequestsPerArm on each arm', async () => {
    // (issue 10) the boolean the caller may send no longer decides: the numbers do
    expect((await engine.decide(input({ targetEnv: 'prod', canaryCompleted: true, canaryPassedRequestsPerArm: 199 }))).rules).toEqual([
      'prod-requires-completed-canary',
    ]);
    expect((await engine.decide(input({ targetEnv: 'prod', canaryPassedRequestsPerArm: 200 }))).decision).toBe('allow');
    const strict = await loadWith({ json: JSON.stringify({ canary: { minRequestsPerArm: 5000 } }) });
    const d = await strict.decide(input({ targetEnv: 'prod', ...CANARY_DONE }));
    expect(d.rules).toEqual(['prod-requires-completed-canary']);
    expect(d.reasons[0]).toMatch(/at least 5000 requests per arm \(best: 1000\)/);
  });

  it('denies a metric regression beyond the tolerance, naming no-metric-regression', async () => {
    const d = await engine.decide(input({}, { metrics: { auc: 0.85 } }));
    expect(d).toMatchObject({ decision: 'deny', rules: ['no-metric-regression'] });
    expect(d.reasons[0]).toBe("auc 0.85 is worse than production's 0.9 by more than the tolerance 0.01");
  });

  it('allows a regression within the tolerance, the exact boundary included', async () => {
    expect((await engine.decide(input({}, { metrics: { auc: 0.895 } }))).decision).toBe('allow');
    // 0.90 - 0.89 is 0.010000000000000009 in floats; in millionths it is exactly the tolerance.
    expect((await engine.decide(input({}, { metrics: { auc: 0.89 } }))).decision).toBe('allow');
    expect((await engine.decide(input({}, { metrics: { auc: 0.889999 } }))).decision).toBe('deny');
  });

  it('denies a candidate without the metric when production has it, and skips the check without a production', async () => {
    const missing = await engine.decide(input({}, { metrics: { f1: 0.8 } }));
    expect(missing).toMatchObject({ decision: 'deny', rules: ['no-metric-regression'] });
    expect(missing.reasons[0]).toMatch(/auc missing/);
    expect((await engine.decide(input({ production: null }, { metrics: {} }))).decision).toBe('allow');
    expect((await engine.decide(input({ production: { artifactId: 'p', metrics: {} } }, { metrics: { auc: 0.1 } }))).decision).toBe(
      'allow',
    );
  });

  it('requires 3-of-5 multisig for a high-risk model promoted to prod', async () => {
    // (issue 19) through a shadow: high-risk-prod-requires-shadow refuses any other strategy (test/unit/policy-strategy.test.ts)
    const d = await engine.decide(input({ targetEnv: 'prod', ...CANARY_DONE, riskTier: 'high', strategy: 'shadow' }));
    expect(d).toMatchObject({ decision: 'require_multisig', rules: ['high-risk-prod-multisig'], threshold: 3, approvers: 5 });
    expect(d.reasons[0]).toBe('churn is high risk: promotion to prod needs 3 of 5 approvals');
    expect((await engine.decide(input({ targetEnv: 'staging', riskTier: 'high' }))).decision).toBe('allow');
  });

  it('denies the auditor role, naming role-may-promote', async () => {
    const d = await engine.decide(input({ requester: { id: 'carol', role: 'auditor' } }));
    expect(d).toMatchObject({ decision: 'deny', rules: ['role-may-promote'] });
    expect(d.reasons[0]).toMatch(/role auditor may not promote/);
    expect((await engine.decide(input({ requester: { id: 'root', role: 'admin' } }))).decision).toBe('allow');
  });

  it('lets operators roll back to an artifact that served there before, but not promote nor roll back critically', async () => {
    const operator = { requester: { id: 'olga', role: 'operator' }, action: 'rollback', targetEnv: 'prod', servedBefore: true } as const;
    expect(await engine.decide(input(operator))).toMatchObject({ decision: 'allow', rules: ['promoter-default-permit'] });
    expect((await engine.decide(input({ ...operator, action: 'promote', targetEnv: 'staging' }))).rules).toEqual(['role-may-promote']);
    expect((await engine.decide(input({ ...operator, critical: true }))).rules).toEqual(['operator-rollback-non-critical']);
    expect((await engine.decide(input({ ...operator, servedBefore: false }))).rules).toEqual(['rollback-to-served-artifact']);
    expect((await engine.decide(input({ ...operator, requester: { id: 'carol', role: 'auditor' } }))).rules).toEqual([
      'role-may-roll-back',
    ]);
  });

  it('names every denying rule, in policy-file order', async () => {
    const d = await engine.decide(
      input({ targetEnv: 'prod', requester: { id: 'carol', role: 'viewer' } }, { manifestSignatureValid: false, metrics: { auc: 0.5 } }),
    );
    expect(d.decision).toBe('deny');
    expect(d.rules).toEqual([
      'require-valid-manifest-signature',
      'prod-requires-completed-canary',
      'no-metric-regression',
      'role-may-promote',
    ]);
    expect(d.reasons).toHaveLength(4);
  });

  it('exempts rollbacks from the canary and metric rules but not from the signature rule', async () => {
    const rollback = input({ action: 'rollback', targetEnv: 'prod', servedBefore: true }, { metrics: { auc: 0.8 } });
    expect(await engine.decide(rollback)).toMatchObject({ decision: 'allow', rules: ['promoter-default-permit'] });
    const unsigned = await engine.decide({ ...rollback, artifact: { ...rollback.artifact, manifestSignatureValid: false } });
    expect(unsigned).toMatchObject({ decision: 'deny', rules: ['require-valid-manifest-signature'] });
  });

  it('requires multisig for a critical rollback, also to an artifact that never served there', async () => {
    const d = await engine.decide(input({ action: 'rollback', targetEnv: 'prod', critical: true, servedBefore: true }));
    expect(d).toMatchObject({ decision: 'require_multisig', rules: ['critical-rollback-multisig'], threshold: 3, approvers: 5 });
    expect(await engine.decide(input({ action: 'rollback', targetEnv: 'prod', critical: true }))).toMatchObject({
      decision: 'require_multisig',
      rules: ['critical-rollback-multisig'],
    });
  });

  it('refuses a non-critical rollback to an artifact that never served the environment, naming rollback-to-served-artifact', async () => {
    const d = await engine.decide(input({ action: 'rollback', targetEnv: 'prod' }));
    expect(d).toMatchObject({ decision: 'deny', rules: ['rollback-to-served-artifact'] });
    expect(d.reasons[0]).toBe(
      'artifact 6f1c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11 never served churn in prod: a rollback returns only to an artifact that served there before, unless it is critical (with multisig)',
    );
  });

  it('refuses anything about an artifact whose stored promotions disagree with the chain, naming gate-evidence-verified', async () => {
    const problem = 'promotion p1 (promote to canary) is stored as succeeded, but the audit chain says rolled_back';
    for (const over of [
      { targetEnv: 'prod', ...CANARY_DONE },
      { targetEnv: 'staging' },
      { action: 'rollback', targetEnv: 'prod', servedBefore: true },
    ] as const) {
      const d = await engine.decide(input({ ...over, evidenceProblems: [problem] }));
      expect(d).toMatchObject({ decision: 'deny', rules: ['gate-evidence-verified'] });
      expect(d.reasons[0]).toContain(problem);
    }
  });

  it('decides deterministically and carries the sha256 of the policy text and config', async () => {
    const a = await engine.decide(input({ targetEnv: 'prod' }));
    const b = await engine.decide(input({ targetEnv: 'prod' }));
    expect(a).toEqual(b);
    const text = await readFile(path.join(POLICY_DIR, 'sentinelnet.cedar'), 'utf8');
    const config = PolicyConfigSchema.parse(JSON.parse(await readFile(path.join(POLICY_DIR, 'sentinelnet.json'), 'utf8')));
    expect(a.policySetSha256).toBe(sha256Hex(canonicalJson({ config, policies: text })));
    const other = await loadWith({ json: JSON.stringify({ metric: { tolerance: 0.02 } }) });
    expect(other.policySetSha256).not.toBe(a.policySetSha256);
  });

  it('applies the configured metric, tolerance and per-model risk tier', async () => {
    const json = JSON.stringify({
      metric: { name: 'loss', higherIsBetter: false, tolerance: 0.05 },
      riskTiers: { models: { churn: 'high' } },
    });
    const custom = await loadWith({ json });
    const prod = {
      targetEnv: 'prod',
      strategy: 'shadow',
      ...CANARY_DONE,
      production: { artifactId: 'p', metrics: { loss: 0.2 } },
    } as const;
    expect((await custom.decide(input({ ...prod, riskTier: 'low' }, { metrics: { loss: 0.3 } }))).rules).toEqual(['no-metric-regression']);
    // A listed model cannot be talked down to a lower tier by the caller.
    expect(await custom.decide(input({ ...prod, riskTier: 'low' }, { metrics: { loss: 0.24 } }))).toMatchObject({
      decision: 'require_multisig',
    });
  });

  it('fails closed with engine-error when a policy errors during evaluation', async () => {
    const cedar = `@id("overflow") @reason("x")
forbid (principal, action, resource) when { context.metric.production * 10000000000000000 > 0 };
@id("allow-all") @reason("y")
permit (principal, action, resource);`;
    const d = await (await loadWith({ cedar })).decide(input());
    expect(d).toMatchObject({ decision: 'deny', rules: ['engine-error'] });
    expect(d.reasons[0]).toMatch(/"overflow" failed to evaluate/);
  });

  it('fails loading a broken policy file with an error naming the file and line', async () => {
    const loading = loadWith({ cedar: '@id("a") @reason("r")\npermit (principal, action, resource) when { 1 + };\n' });
    await expect(loading).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(loading).rejects.toThrow(/sentinelnet-\w+\/sentinelnet\.cedar:2:\d+: unexpected token/);
  });

  it('fails loading policies that name unknown attributes, lack an @id, or use unknown reason placeholders', async () => {
    const typo = loadWith({ cedar: '@id("a") @reason("r")\nforbid (principal, action, resource) when { context.canaryComplete };' });
    await expect(typo).rejects.toThrow(/sentinelnet\.cedar:2:\d+: policy "a": .*canaryComplete/);
    await expect(loadWith({ cedar: '@reason("r") permit (principal, action, resource);' })).rejects.toThrow(/no @id/);
    await expect(loadWith({ cedar: '@id("a") @reason("{nope}") permit (principal, action, resource);' })).rejects.toThrow(
      /unknown placeholder \{nope\}/,
    );
    await expect(loadWith({ json: '{"multisig": {"threshold": 6}}' })).rejects.toThrow(/sentinelnet\.json: multisig\.threshold/);
  });
});

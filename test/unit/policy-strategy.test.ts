import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CedarPolicyEngine } from '../../lib/platform/adapters/policy/cedar.js';
import { RISK_TIERS, TARGET_ENVS, type PolicyInput } from '../../lib/kernel/policy.js';

/** issue 19: SentinelNet requires a shadow before prod for high-risk models (policies/sentinelnet.cedar). */
const clock = { now: () => new Date('2026-11-30T12:00:00.000Z') };
const RULE = 'high-risk-prod-requires-shadow';

const input = (over: Partial<PolicyInput> = {}): PolicyInput => ({
  artifact: {
    artifactId: '6f1c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11',
    modelName: 'fraud',
    version: '3',
    manifestSignatureValid: true,
    signerId: 'manifest-signer-v1',
    codeRef: 'git:abc123',
    datasets: [],
    metrics: { auc: 0.91 },
  },
  targetEnv: 'prod',
  requester: { id: 'alice', role: 'promoter' },
  production: { artifactId: '0b0c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11', metrics: { auc: 0.9 } },
  riskTier: 'high',
  // a canary of the artifact passed, so prod-requires-completed-canary is out of the way
  canaryPassedRequestsPerArm: 1000,
  canaryCompleted: true,
  servedBefore: false,
  evidenceProblems: [],
  action: 'promote',
  ...over,
});

describe('high-risk-prod-requires-shadow (the shipped policies)', () => {
  let engine: CedarPolicyEngine;
  beforeAll(async () => {
    engine = await CedarPolicyEngine.load(path.resolve('policies'), { clock });
  });

  it('lets a high-risk promotion to prod through with strategy shadow (to its multisig)', async () => {
    const d = await engine.decide(input({ strategy: 'shadow' }));
    expect(d).toMatchObject({ decision: 'require_multisig', rules: ['high-risk-prod-multisig'] });
  });

  it.each(['canary', 'blue-green', undefined] as const)(
    'denies a high-risk promotion to prod with strategy %s, naming the rule and the flag',
    async (strategy) => {
      const d = await engine.decide(input(strategy ? { strategy } : {}));
      expect(d).toMatchObject({ decision: 'deny', rules: [RULE] });
      expect(d.reasons).toEqual([
        `fraud is high risk: promotion to prod must run a shadow first (strategy ${strategy ?? 'canary'}); request it with --strategy shadow`,
      ]);
    },
  );

  it('reports the rule beside the other refusals, in file order', async () => {
    const d = await engine.decide(input({ canaryPassedRequestsPerArm: 0, canaryCompleted: false, strategy: 'blue-green' }));
    expect(d.rules).toEqual(['prod-requires-completed-canary', RULE]);
  });

  it('leaves low and medium risk models, and every other environment, to the other rules', async () => {
    for (const riskTier of RISK_TIERS.filter((t) => t !== 'high'))
      for (const strategy of ['canary', 'blue-green'] as const)
        expect(await engine.decide(input({ riskTier, strategy }))).toMatchObject({ decision: 'allow', rules: ['promoter-default-permit'] });
    for (const targetEnv of TARGET_ENVS.filter((e) => e !== 'prod'))
      for (const strategy of ['canary', 'blue-green', undefined] as const)
        expect((await engine.decide(input({ targetEnv, ...(strategy ? { strategy } : {}) }))).rules).not.toContain(RULE);
  });

  it("does not apply to a high-risk model's first deployment to prod: nothing serves there to mirror", async () => {
    const d = await engine.decide(input({ production: null, strategy: 'canary' }));
    expect(d.rules).not.toContain(RULE);
    expect(d).toMatchObject({ decision: 'require_multisig', rules: ['high-risk-prod-multisig'] });
  });

  it('does not apply to rollbacks, whatever strategy a caller puts in the input', async () => {
    const rollback = input({ action: 'rollback', servedBefore: true, strategy: 'blue-green' });
    expect(await engine.decide(rollback)).toMatchObject({ decision: 'allow', rules: ['promoter-default-permit'] });
  });

  it('is off with shadow.requiredForHighRiskProd false in sentinelnet.json, and on when the file does not say', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sentinelnet-'));
    await cp(path.resolve('policies'), dir, { recursive: true });
    await writeFile(path.join(dir, 'sentinelnet.json'), JSON.stringify({ shadow: { requiredForHighRiskProd: false } }));
    const off = await CedarPolicyEngine.load(dir, { clock });
    expect(off.config.shadow).toEqual({ requiredForHighRiskProd: false });
    expect(await off.decide(input({ strategy: 'canary' }))).toMatchObject({
      decision: 'require_multisig',
      rules: ['high-risk-prod-multisig'],
    });
    await writeFile(path.join(dir, 'sentinelnet.json'), '{}');
    const unsaid = await CedarPolicyEngine.load(dir, { clock });
    expect((await unsaid.decide(input({ strategy: 'canary' }))).rules).toEqual([RULE]);
    await rm(dir, { recursive: true, force: true });
  });

  it('reads an unknown strategy as canary: refused, never treated as shadow', async () => {
    const d = await engine.decide(input({ strategy: 'mirror' as never }));
    expect(d).toMatchObject({ decision: 'deny', rules: [RULE] });
    expect(d.reasons[0]).toMatch(/\(strategy canary\)/);
  });
});

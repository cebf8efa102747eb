import { randomBytes } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { highRiskPolicies, ScriptedJudge, settled } from './support.js';

/**
 * aegis quarantine <id> | release | show | approve, through the CLI, on a policy that makes a
 * quarantine of a high-risk model wait for approvals: the quarantine applies (and cancels the
 * artifact's pending promotions) only with the approval that completes the quorum.
 */
let stack: Stack;
let admin: Record<string, string>;
let security: Record<string, string>;
const keyFiles: string[] = [];
const CLI_TIMEOUT_MS = 240_000;

const aegis = (env: Record<string, string>, ...args: string[]) => aegisCli(args, env);
const json = (r: { stdout: string }) => JSON.parse(r.stdout);

beforeAll(async () => {
  const policies = await highRiskPolicies('guarded');
  await appendFile(
    join(policies, 'sentinelnet.cedar'),
    `
@id("high-risk-quarantine-multisig")
@reason("quarantining {modelName} (high risk) needs {threshold} of {approvers} approvals")
permit (principal, action == Aegis::Action::"requireMultisig", resource)
when { context.operation == "quarantine" && resource.riskTier == "high" };
`,
  );
  stack = await startStack({ AEGIS_POLICIES_DIR: policies }, { judge: new ScriptedJudge(), waitMs: 5 });
  admin = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '' };
  const token = (await stack.api('POST', '/v1/tokens', { principal: 'sam', role: 'security' })).body.token as string;
  security = { ...admin, AEGIS_TOKEN: token };
  for (let i = 1; i <= 3; i++) {
    const file = join(stack.dataDir, `approver-${i}.pem`);
    expect((await aegis(admin, 'keys', 'generate', '--out', file)).code).toBe(0);
    const add = await aegis(
      admin,
      'keys',
      'add',
      '--role',
      'approver',
      '--kid',
      `qa-${i}`,
      '--owner',
      `person-${i}`,
      '--public-key',
      `${file}.pub`,
    );
    expect(add.code).toBe(0);
    keyFiles.push(file);
  }
}, CLI_TIMEOUT_MS);
afterAll(async () => {
  await stack?.stop();
});

async function approveAll(artifactId: string) {
  let last;
  for (const [i, file] of keyFiles.entries()) {
    last = await aegis(admin, '--json', 'quarantine', 'approve', artifactId, '--key', file, '--kid', `qa-${i + 1}`);
    expect(last.code).toBe(0);
    expect(last.stderr).toMatch(/approving the (quarantine|release) of guarded/);
  }
  return json(last!);
}

describe('aegis quarantine (CLI)', () => {
  it(
    'refuses usage errors (exit 2), bad ids naming the field (exit 1), and roles that may not (exit 3)',
    async () => {
      const noReason = await aegis(security, 'quarantine', '6f1c2a9e-0000-4000-8000-000000000000');
      expect(noReason.code).toBe(2);
      expect(noReason.stderr).toMatch(/--reason/);
      const badId = await aegis(security, '--json', 'quarantine', 'not-a-uuid', '--reason', 'x');
      expect(badId.code).toBe(1);
      expect(json(badId).error).toMatchObject({ status: 400, field: 'artifactId' });
      const id = (await uploadAndRegister(stack, 'plain', randomBytes(600))).body.artifactId as string;
      const release = await aegis(security, '--json', 'quarantine', 'release', id, '--reason', 'x');
      expect(release.code).toBe(3);
      expect(json(release).error).toMatchObject({ status: 403 });
      const nothing = await aegis(admin, 'quarantine', 'approve', id, '--key', keyFiles[0]!, '--kid', 'qa-1');
      expect(nothing.code).toBe(1);
      expect(nothing.stderr).toMatch(/no quarantine or release request waiting for approvals/);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'a quarantine the policy sends to multisig applies with the third approval and cancels the pending prod promotion; release needs a quorum too',
    async () => {
      const id = (await uploadAndRegister(stack, 'guarded', randomBytes(900))).body.artifactId as string;
      const canary = await stack.api('POST', `/v1/artifacts/${id}/promote`, { targetEnv: 'canary', reason: 'try', canary: { steps: 1 } });
      expect((await settled(stack, canary.body.promotionId)).status).toBe('succeeded');
      const prod = await stack.api('POST', `/v1/artifacts/${id}/promote`, { targetEnv: 'prod', reason: 'go', canary: { steps: 1 } });
      expect(prod.body.status).toBe('pending_multisig');

      const asked = await aegis(security, 'quarantine', id, '--reason', 'weights exfiltrated');
      expect(asked.code).toBe(0);
      expect(asked.stdout).toMatch(/not quarantined/);
      expect(asked.stdout).toMatch(/quarantine {2}PENDING_MULTISIG {2}by sam .*: weights exfiltrated/);
      expect(asked.stdout).toMatch(/approvals 0\/3: none yet/);
      const shown = json(await aegis(security, '--json', 'quarantine', 'show', id));
      expect(shown).toMatchObject({
        quarantined: false,
        requests: [{ action: 'quarantine', status: 'pending_multisig', threshold: 3, effects: null }],
      });
      expect(shown.requests[0].policyDecision.rules).toContain('high-risk-quarantine-multisig');
      // waiting for approvals: nothing is refused or cancelled yet
      expect((await stack.api('GET', `/v1/promotions/${prod.body.promotionId}`)).body.status).toBe('pending_multisig');

      const done = await approveAll(id);
      expect(done).toMatchObject({ quarantined: true, quarantine: { quarantinedBy: 'sam', reason: 'weights exfiltrated' } });
      expect(done.requests[0].approvals.map((a: { approverId: string }) => a.approverId).sort()).toEqual(['qa-1', 'qa-2', 'qa-3']);
      expect(done.requests[0].effects).toEqual(
        expect.arrayContaining([
          { kind: 'promotion-cancelled', env: 'prod', promotionId: prod.body.promotionId, detail: expect.any(String) },
        ]),
      );
      const cancelled = (await stack.api('GET', `/v1/promotions/${prod.body.promotionId}`)).body;
      expect(cancelled.status).toBe('cancelled');
      const events = (await stack.api('GET', `/v1/audit?subject=promotion:${prod.body.promotionId}&type=promotion.cancelled`)).body.items;
      expect(events).toHaveLength(1);
      expect(JSON.stringify(events[0].payload)).toContain('weights exfiltrated');

      const promote = await aegis(admin, 'promote', '--artifact-id', id, '--env', 'staging', '--reason', 'again');
      expect(promote.code).toBe(1);
      expect(promote.stderr).toMatch(/ARTIFACT_QUARANTINED 409/);
      const twice = await aegis(security, 'quarantine', id, '--reason', 'twice');
      expect(twice.code).toBe(1);
      expect(twice.stderr).toMatch(/already quarantined/);

      const release = await aegis(admin, '--json', 'quarantine', 'release', id, '--reason', 'keys rotated, weights re-verified');
      expect(release.code).toBe(0);
      expect(json(release).requests.find((r: { action: string }) => r.action === 'release')).toMatchObject({
        status: 'pending_multisig',
        threshold: 3,
      });
      expect((await approveAll(id)).quarantined).toBe(false);
      const after = await aegis(admin, 'quarantine', 'show', id);
      expect(after.code).toBe(0);
      expect(after.stdout.split('\n')[0]).toBe(`${id}  guarded  not quarantined`);
      expect(after.stdout).toMatch(/promotion-cancelled prod/);
      expect(after.stdout).toMatch(/release {2}APPLIED/);
    },
    CLI_TIMEOUT_MS,
  );
});

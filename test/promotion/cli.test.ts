import { stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { highRiskPolicies, ScriptedJudge, settled } from './support.js';

let stack: Stack;
let env: Record<string, string>;

const aegis = (...args: string[]) => aegisCli(args, env);
// each CLI run starts Node with the compiled CLI (~0.2 s idle, more on a loaded 2-core machine); the first test makes ten
const CLI_TIMEOUT_MS = 180_000;

beforeAll(async () => {
  stack = await startStack({ AEGIS_POLICIES_DIR: await highRiskPolicies('payments') }, { judge: new ScriptedJudge(), waitMs: 5 });
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '' };
});
afterAll(async () => {
  await stack?.stop();
});

describe('aegis promote / approve / promotions (CLI)', () => {
  it(
    'gathers three locally signed approvals for a high-risk prod promotion, then rolls out',
    async () => {
      const artifactId = (await uploadAndRegister(stack, 'payments', randomBytes(700))).body.artifactId;
      const canary = await aegis(
        '--json',
        'promote',
        '--artifact-id',
        artifactId,
        '--env',
        'canary',
        '--reason',
        'weekly',
        '--canary-steps',
        '1',
      );
      expect(canary.code).toBe(0);
      await settled(stack, JSON.parse(canary.stdout).promotionId);

      const keyFiles: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const file = join(stack.dataDir, `approver-${i}.pem`);
        const gen = await aegis('keys', 'generate', '--out', file);
        expect(gen.code).toBe(0);
        expect(gen.stdout).not.toMatch(/PRIVATE KEY/);
        expect((await stat(file)).mode & 0o777).toBe(0o600);
        const add = await aegis(
          'keys',
          'add',
          '--role',
          'approver',
          '--kid',
          `ap-${i}`,
          '--owner',
          `person-${i}`,
          '--public-key',
          `${file}.pub`,
        );
        expect(add.code).toBe(0);
        keyFiles.push(file);
      }
      const prod = await aegis(
        '--json',
        'promote',
        '--artifact-id',
        artifactId,
        '--env',
        'prod',
        '--reason',
        'go live',
        '--canary-steps',
        '1',
      );
      expect(prod.code).toBe(0);
      const pending = JSON.parse(prod.stdout);
      expect(pending).toMatchObject({ status: 'pending_multisig', threshold: 3 });

      for (const [i, file] of keyFiles.entries()) {
        const res = await aegis('approve', '--promotion', pending.promotionId, '--key', file, '--kid', `ap-${i + 1}`);
        expect(res.stderr).toMatch(/approving payments → prod/);
        expect(res.code).toBe(0);
      }
      const done = await settled(stack, pending.promotionId);
      expect(done.status).toBe('succeeded');
      const shown = await aegis('promotions', '--id', pending.promotionId);
      expect(shown.stdout).toMatch(/SUCCEEDED/);
      expect(shown.stdout).toMatch(/approvals 3\/3: ap-1, ap-2, ap-3/);
      expect(shown.stdout).toMatch(/PromoteFully/);
      const again = await aegis('approve', '--promotion', pending.promotionId, '--key', keyFiles[0]!, '--kid', 'ap-1');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/takes no approvals \(field: promotionId\) \[CONFLICT 409\]/);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'cancels a pending promotion with aegis cancel, and says why it cannot cancel one that is not pending',
    async () => {
      const artifactId = (await uploadAndRegister(stack, 'payments', randomBytes(800))).body.artifactId;
      await settled(
        stack,
        (await stack.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv: 'canary', reason: 'weekly', canary: { steps: 1 } }))
          .body.promotionId,
      );
      const pending = (
        await stack.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv: 'prod', reason: 'go live', canary: { steps: 1 } })
      ).body;
      expect(pending.status).toBe('pending_multisig');
      const res = await aegis('cancel', '--promotion', pending.promotionId, '--reason', 'release postponed');
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(new RegExp(`^cancelled ${pending.promotionId}  payments → prod`));
      const again = await aegis('cancel', '--promotion', pending.promotionId, '--reason', 'twice');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/is cancelled: only a pending promotion can be cancelled \(field: promotionId\) \[CONFLICT 409\]/);
    },
    CLI_TIMEOUT_MS,
  );
});

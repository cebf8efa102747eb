import { stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';
import { highRiskPolicies, ScriptedJudge, settled } from './support.js';

const judge = new ScriptedJudge();
let stack: Stack;
let env: Record<string, string>;

const aegis = (...args: string[]) => aegisCli(args, env);
// each CLI run starts Node with the compiled CLI (~0.2 s idle, more on a loaded 2-core machine); the first test makes ten
const CLI_TIMEOUT_MS = 180_000;

beforeAll(async () => {
  stack = await startStack({ AEGIS_POLICIES_DIR: await highRiskPolicies('payments') }, { judge, waitMs: 5 });
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '' };
});
afterAll(async () => {
  await stack?.stop();
});

describe('aegis promote / approve / promotions (CLI)', () => {
  it(
    'gathers three locally signed approvals for a high-risk prod promotion, then rolls out; the next one must be a shadow',
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
      // the first deployment to prod has nothing to mirror: a canary, waiting for approvals
      const go = ['promote', '--env', 'prod', '--reason', 'go live', '--canary-steps', '1'];
      const prod = await aegis('--json', ...go, '--artifact-id', artifactId);
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

      // now that payments serves prod, high-risk-prod-requires-shadow refuses a canary alone, naming the flag
      const next = (await uploadAndRegister(stack, 'payments', randomBytes(700))).body.artifactId;
      await settled(
        stack,
        (await stack.api('POST', `/v1/registry/${next}/promote`, { targetEnv: 'canary', reason: 'weekly', canary: { steps: 1 } })).body
          .promotionId,
      );
      const canaryOnly = await aegis(...go, '--artifact-id', next);
      expect(canaryOnly.code).toBe(3); // a 403: the policy refused
      expect(canaryOnly.stderr).toMatch(
        /payments is high risk: promotion to prod must run a shadow first \(strategy canary\); request it with --strategy shadow/,
      );
      const shadow = await aegis('--json', ...go, '--artifact-id', next, '--strategy', 'shadow');
      expect(shadow.code).toBe(0);
      const waiting = JSON.parse(shadow.stdout);
      expect(waiting).toMatchObject({ status: 'pending_multisig', threshold: 3, canary: { strategy: 'shadow' } });
      expect((await stack.api('POST', `/v1/promotions/${waiting.promotionId}/cancel`, { reason: 'not today' })).status).toBe(200);
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
        await stack.api('POST', `/v1/registry/${artifactId}/promote`, {
          targetEnv: 'prod',
          reason: 'go live',
          strategy: 'shadow',
          canary: { steps: 1 },
        })
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

  it(
    'refuses bad strategy flags naming the flag, before any request',
    async () => {
      // nothing listens on port 9: a request would fail as unreachable, not with the flag's error
      const offline = { ...env, AEGIS_URL: 'http://127.0.0.1:9' };
      const cases: [string[], RegExp][] = [
        [['--strategy', 'mirror'], /option '--strategy <strategy>' argument 'mirror' is invalid/],
        [['--strategy', 'shadow', '--min-agreement', '2'], /--min-agreement: .*(<=|at most)/i],
        [['--strategy', 'shadow', '--min-agreement', 'most'], /--min-agreement most: not a number/],
        [['--strategy', 'shadow', '--shadow-percent', '0'], /--shadow-percent: /],
        [['--strategy', 'shadow', '--shadow-windows', '1.5'], /--shadow-windows 1.5: not a whole number/],
        [['--strategy', 'shadow', '--then', 'later'], /option '--then <next>' argument 'later' is invalid/],
        [['--shadow-percent', '10'], /--shadow-percent is a setting of --strategy shadow \(the strategy is canary\)/],
        [
          ['--strategy', 'shadow', '--hold-seconds', '60'],
          /--hold-seconds is a setting of --strategy blue-green \(the strategy is shadow\)/,
        ],
        [['--strategy', 'blue-green', '--warm-up-requests', '0'], /--warm-up-requests: /],
        [['--strategy', 'blue-green', '--hold-seconds', '-5'], /--hold-seconds: /],
      ];
      for (const [flags, message] of cases) {
        const res = await aegisCli(
          ['promote', '--artifact-id', '6f1c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11', '--env', 'canary', '--reason', 'x', ...flags],
          offline,
        );
        expect([flags, res.stderr]).toEqual([flags, expect.stringMatching(message)]);
        expect(res.code).toBe(2);
        expect(res.stderr).not.toMatch(/ECONNREFUSED|unreachable|fetch failed/i);
      }
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'aegis canary status shows the strategy, the phase and the judged windows of a shadow; aegis abort rolls it back',
    async () => {
      const stable = (await uploadAndRegister(stack, 'scorer', randomBytes(700))).body.artifactId;
      await settled(
        stack,
        (await stack.api('POST', `/v1/artifacts/${stable}/promote`, { targetEnv: 'canary', reason: 'base', canary: { steps: 0 } })).body
          .promotionId,
      );
      const candidate = (await uploadAndRegister(stack, 'scorer', randomBytes(700))).body.artifactId;
      judge.hold();
      const res = await aegis(
        '--json',
        'promote',
        '--artifact-id',
        candidate,
        '--env',
        'canary',
        '--reason',
        'mirror first',
        '--strategy',
        'shadow',
        '--shadow-percent',
        '25',
        '--min-agreement',
        '0.95',
        '--then',
        'promote',
      );
      expect(res.code).toBe(0);
      const p = JSON.parse(res.stdout);
      expect(p.canary).toMatchObject({ strategy: 'shadow', shadow: { percent: 25, windows: 1, minAgreement: 0.95, then: 'promote' } });
      const deadline = Date.now() + 10_000;
      while (!judge.calls.some((w) => w.canaryArtifactId === candidate) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      // a stored shadow window, as the rollout records one: its phase and agreement columns (migration 0014)
      const db = stack.container.database.db;
      await db
        .updateTable('promotions')
        .set({
          rollout_state: JSON.stringify({ stage: -1, percent: 0, inconclusive: 0, windowSeconds: 300, phase: 'shadow', shadowPassed: 0 }),
        })
        .where('promotion_id', '=', p.promotionId)
        .execute();
      const at = new Date();
      await db
        .insertInto('canary_verdicts')
        .values({
          promotion_id: p.promotionId,
          seq: 90,
          stage: -1,
          percent: 25,
          window_from: new Date(at.getTime() - 300_000),
          window_to: at,
          verdict: 'inconclusive',
          reason: 'insufficient-traffic',
          next: 'wait',
          stable_requests: 120,
          canary_requests: 30,
          stable_errors: 0,
          canary_errors: 0,
          detail: 'stored by the test',
          judgement: null,
          judged_at: at,
          phase: 'shadow',
          agreement_compared: 30,
          agreement_agreed: 29,
        })
        .execute();
      const status = await aegis('canary', 'status', '--model', 'scorer', '--env', 'canary');
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`promotion ${p.promotionId} (rolling_out)`);
      expect(status.stdout).toContain('  strategy shadow: 25% mirrored, 1 passing window(s) at agreement >= 95.00%, then promote');
      expect(status.stdout).toMatch(/ {2}phase shadow \(0 of 1 window\(s\) passed\): /);
      expect(status.stdout).toMatch(/#90 \S+ .* at 25%.*: inconclusive \(insufficient-traffic\) → wait/);
      const json = JSON.parse((await aegis('--json', 'canary', 'status', '--model', 'scorer', '--env', 'canary')).stdout);
      expect(json.promotion).toMatchObject({ promotionId: p.promotionId, rollout: { phase: 'shadow', shadowPassed: 0 } });

      const noReason = await aegis('abort', p.promotionId);
      expect(noReason.code).toBe(2);
      expect(noReason.stderr).toMatch(/--reason/);
      const aborted = await aegis('abort', p.promotionId, '--reason', 'agreement looks off');
      expect(aborted.code).toBe(0);
      expect(aborted.stdout).toMatch(/^abort requested: the rollout is rolled back to the stable artifact/);
      judge.release();
      const ended = await settled(stack, p.promotionId);
      expect(ended.status).toBe('rolled_back');
      const shown = await aegis('promotions', '--id', p.promotionId);
      expect(shown.stdout).toMatch(/ROLLED_BACK/);
      expect(shown.stdout).toMatch(/strategy shadow: 25% mirrored/);
      const again = await aegis('abort', p.promotionId, '--reason', 'twice');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/is rolled_back: only a rolling_out promotion can be aborted \(field: promotionId\) \[CONFLICT 409\]/);
    },
    CLI_TIMEOUT_MS,
  );
});

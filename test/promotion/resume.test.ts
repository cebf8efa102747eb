import { randomBytes } from 'node:crypto';
import { startStack, uploadAndRegister } from '../support/local-stack.js';
import { ScriptedJudge, settled } from './support.js';

async function until(check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a local server restarted mid-rollout', () => {
  it('resumes the rollout from its persisted stage: no restart from the first stage, no jump to 100 %', async () => {
    const first = new ScriptedJudge(['pass']);
    first.hold(); // the second window never ends before the "crash"
    const a = await startStack({}, { judge: first, waitMs: 5 });
    const dataDir = a.dataDir;
    const artifactId = (await uploadAndRegister(a, 'resumable', randomBytes(800))).body.artifactId;
    const promoter = (await a.api('POST', '/v1/tokens', { principal: 'bot', role: 'promoter' })).body.token;
    const p = (
      await a.api(
        'POST',
        `/v1/registry/${artifactId}/promote`,
        { targetEnv: 'canary', reason: 'r', canary: { percent: 10, steps: 3 } },
        { token: promoter },
      )
    ).body;
    await until(async () => first.calls.length === 2);
    const before = (await a.api('GET', `/v1/promotions/${p.promotionId}`)).body;
    expect(before.status).toBe('rolling_out');
    expect(before.rollout).toMatchObject({ stage: 1, percent: 40 });
    await a.close(); // the process stops; the held evaluation never completes
    first.release();

    const b = await startStack({}, { judge: new ScriptedJudge(), waitMs: 5, dataDir });
    try {
      const done = await settled(b, p.promotionId);
      expect(done.status).toBe('succeeded');
      const starts = done.trace.filter((t: { state: string }) => t.state === 'StartCanary');
      expect(starts).toHaveLength(2);
      expect(starts[1].output).toMatchObject({ stage: 1, percent: 40, next: 'wait' });
      const percents = done.trace
        .filter((t: { output: unknown; state: string }) => t.output && t.state !== 'PromoteFully')
        .map((t: { output: { percent: number } }) => t.output.percent);
      expect(percents).toEqual([...percents].sort((x, y) => x - y));
      expect(percents).not.toContain(100);
      expect(percents.at(-1)).toBe(70);
      expect(done.trace.at(-1).state).toBe('PromoteFully');
    } finally {
      await b.stop();
    }
  });
});

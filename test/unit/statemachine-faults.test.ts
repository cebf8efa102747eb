/**
 * The rollout state machines under faults, run by the in-process ASL runner on the real
 * `statemachines/*.asl.json` with a scripted rollout step: task errors are retried and then
 * roll back, a rollback that keeps failing ends in the recorded failure state, a malformed
 * step result never reaches the Wait, and a lost lease is never retried.
 */
import { LocalWorkflows } from '../../lib/platform/adapters/workflows/asl.js';

type Call = { action: string; error?: unknown };
type Script = (action: string, attempt: number) => unknown;

async function run(machine: 'promotion' | 'rollback', script: Script): Promise<{ calls: Call[]; errors: unknown[] }> {
  const calls: Call[] = [];
  const attempts = new Map<string, number>();
  const errors: unknown[] = [];
  const wf = new LocalWorkflows({
    definitionsDir: 'statemachines',
    waitMs: 1,
    onError: (_name, e) => errors.push(e),
    step: async (input) => {
      const action = String(input.action);
      const n = (attempts.get(action) ?? 0) + 1;
      attempts.set(action, n);
      calls.push({
        action,
        ...((input.execution as { error?: unknown } | undefined)?.error ? { error: (input.execution as { error: unknown }).error } : {}),
      });
      return script(action, n);
    },
  });
  await wf.start(machine, 'p1', { promotionId: 'p1' });
  await wf.settled('p1');
  return { calls, errors };
}

const fail = (name: string, message = 'database unavailable') => Object.assign(new Error(message), { name });
const ok = (next: string, windowSeconds: unknown = 1) => ({ next, stage: 0, percent: 10, inconclusive: 0, windowSeconds });

describe('promotion.asl.json under faults', () => {
  it('retries an Evaluate that errors, and goes on when a retry succeeds', async () => {
    const { calls } = await run('promotion', (action, n) => {
      if (action === 'start') return ok('wait');
      if (action === 'evaluate' && n === 1) throw fail('Error');
      if (action === 'evaluate') return ok('promote');
      return ok('done');
    });
    expect(calls.map((c) => c.action)).toEqual(['start', 'evaluate', 'evaluate', 'promoteFully']);
  });

  it('rolls back after the retries when Evaluate keeps erroring, passing the error to the rollback', async () => {
    const { calls } = await run('promotion', (action) => {
      if (action === 'start') return ok('wait');
      if (action === 'evaluate') throw fail('Error', 'the database is down');
      return ok('done');
    });
    expect(calls.map((c) => c.action)).toEqual(['start', 'evaluate', 'evaluate', 'evaluate', 'rollback']);
    expect(calls.at(-1)!.error).toMatchObject({ Error: 'Error', Cause: expect.stringContaining('the database is down') });
  });

  it('records the failure and ends failed when the rollback itself keeps failing', async () => {
    const { calls, errors } = await run('promotion', (action) => {
      if (action === 'start') return ok('wait');
      if (action === 'evaluate') return ok('rollback');
      if (action === 'rollback') throw fail('Error', 'routes table locked');
      return ok('done');
    });
    expect(calls.map((c) => c.action)).toEqual(['start', 'evaluate', ...Array(6).fill('rollback'), 'fail']);
    expect(calls.at(-1)!.error).toMatchObject({ Cause: expect.stringContaining('routes table locked') });
    // RollbackFailed is the expected end of this path, not an unexpected runner error
    expect(errors).toEqual([]);
  });

  it('ends in the Fail state even when recording the failed rollback fails too', async () => {
    const { calls } = await run('promotion', (action) => {
      if (action === 'start') return ok('wait');
      if (action === 'evaluate') return ok('rollback');
      throw fail('Error', 'everything is down');
    });
    expect(calls.map((c) => c.action)).toEqual(['start', 'evaluate', ...Array(6).fill('rollback'), ...Array(4).fill('fail')]);
  });

  it.each([
    ['missing', undefined],
    ['a string', 'soon'],
    ['negative', -5],
  ])('never waits on a step result whose windowSeconds is %s: it rolls back naming the malformed result', async (_what, windowSeconds) => {
    const { calls } = await run('promotion', (action) => {
      if (action === 'start') return windowSeconds === undefined ? { next: 'wait' } : ok('wait', windowSeconds);
      return ok('done');
    });
    expect(calls.map((c) => c.action)).toEqual(['start', 'rollback']);
    expect(calls[1]!.error).toMatchObject({ Error: 'Aegis.MalformedStepResult' });
  });

  it('never retries a lost lease, and never rolls back for it', async () => {
    const { calls } = await run('promotion', (action) => {
      if (action === 'start') return ok('wait');
      throw fail('Aegis.LeaseLost', 'another runner holds the lease');
    });
    expect(calls.map((c) => c.action)).toEqual(['start', 'evaluate']);
  });
});

describe('rollback.asl.json under faults', () => {
  it('retries setting the route, then records the failure and ends failed', async () => {
    const { calls, errors } = await run('rollback', (action) => {
      if (action === 'promoteFully') throw fail('Error', 'database unavailable');
      return ok('done');
    });
    expect(calls.map((c) => c.action)).toEqual([...Array(4).fill('promoteFully'), 'fail']);
    expect(errors).toEqual([]);
  });
});

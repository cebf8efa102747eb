import { WARM_UP_TASK_SECONDS } from '../../lib/modules/rollout/domain.js';
import { aslValidator, loadMachine, type AslState } from '../support/asl.js';

describe.each(['promotion', 'rollback'])('statemachines/%s.asl.json', (name) => {
  const def = loadMachine(name);

  it('passes asl-validator', () => {
    const r = aslValidator(def);
    expect(r.errors).toEqual([]);
    expect(r.isValid).toBe(true);
  });

  it('is JSONPath only: the local runner ignores JSONata and variables', () => {
    const text = JSON.stringify(def);
    expect(def.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(text).not.toMatch(/"Assign"|"Arguments"|"Output"|\{%/);
  });

  it('runs every Task on the rollout step function with a timeout, and every failure path ends in a recording step, then a Fail', () => {
    const tasks = Object.entries(def.States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(0);
    // 90 s a step; a blue-green warm-up (WarmUp) loads green and answers its warm-up requests: WARM_UP_TASK_SECONDS, which its lease covers
    const timeouts: Record<string, number> = { WarmUp: WARM_UP_TASK_SECONDS };
    for (const [state, s] of tasks)
      expect({ state, resource: s.Resource, timeout: s.TimeoutSeconds }).toEqual({
        state,
        resource: '${RolloutStepArn}',
        timeout: timeouts[state] ?? 90,
      });
    // a step that errors rolls back (promotion) or records the failure (rollback); a rollback that
    // keeps failing is recorded; the recording step, if it fails too, ends in the Fail state
    const next: Record<string, RegExp> = {
      RollBack: /^RecordRollbackFailure$/,
      RecordRollbackFailure: /^RollbackFailed$/,
      RecordFailure: /^Failed$/,
    };
    for (const [state, s] of tasks) {
      const catchTo = s.Catch?.filter((c) => !c.ErrorEquals.includes('Aegis.LeaseLost')).map((c) => c.Next) ?? [];
      expect({ state, catchTo }).toEqual({ state, catchTo: [expect.stringMatching(next[state] ?? /^(RollBack|RecordFailure)$/)] });
    }
    for (const end of Object.values(next).map((r) => r.source.slice(1, -1)))
      if (def.States[end]?.Type !== 'Task' && end in def.States) expect(def.States[end]).toMatchObject({ Type: 'Fail' });
  });

  it('retries task errors and timeouts, bounded and with backoff, besides Lambda service errors', () => {
    for (const [state, s] of Object.entries(def.States).filter(([, x]) => x.Type === 'Task')) {
      const retriers = s.Retry ?? [];
      const taskErrors = retriers.find((r) => r.ErrorEquals.some((e) => ['States.TaskFailed', 'States.ALL'].includes(e)));
      expect({ state, taskErrors }).toEqual({ state, taskErrors: expect.objectContaining({ IntervalSeconds: 2, BackoffRate: 2 }) });
      expect(taskErrors!.MaxAttempts).toBeGreaterThanOrEqual(2);
      expect(taskErrors!.MaxAttempts).toBeLessThanOrEqual(5);
    }
  });

  it('names the execution as the runner of every step, and ends quietly, never rolling back, when another runner holds the lease', () => {
    expect(def.States.Superseded).toMatchObject({ Type: 'Succeed' });
    for (const [state, s] of Object.entries(def.States).filter(([, x]) => x.Type === 'Task')) {
      expect({ state, runner: s.Parameters?.['runner.$'] }).toEqual({ state, runner: '$$.Execution.Id' });
      // the lease refusal is caught first (before States.ALL) and leads to Superseded
      expect({ state, first: s.Catch?.[0] }).toMatchObject({ state, first: { ErrorEquals: ['Aegis.LeaseLost'], Next: 'Superseded' } });
      // and never retried: a retrier that would match it (States.ALL) comes after one that refuses to
      const matching = (s.Retry ?? []).find((r) =>
        r.ErrorEquals.some((e) => ['Aegis.LeaseLost', 'States.ALL', 'States.TaskFailed'].includes(e)),
      );
      if (matching) expect({ state, matching }).toEqual({ state, matching: { ErrorEquals: ['Aegis.LeaseLost'], MaxAttempts: 0 } });
    }
  });
});

it('asl-validator catches a dangling transition (the check is real)', () => {
  const def = loadMachine('promotion');
  (def.States.Decide as AslState).Default = 'Nowhere';
  expect(aslValidator(def).isValid).toBe(false);
});

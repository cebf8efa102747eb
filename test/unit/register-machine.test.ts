import { aslValidator, loadMachine } from '../support/asl.js';

const def = loadMachine('register');
const tasks = Object.entries(def.States).filter(([, s]) => s.Type === 'Task');

describe('statemachines/register.asl.json (asynchronous registration)', () => {
  it('passes asl-validator and is JSONPath only (the local runner ignores JSONata and variables)', () => {
    const r = aslValidator(def);
    expect(r.errors).toEqual([]);
    expect(r.isValid).toBe(true);
    expect(def.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(JSON.stringify(def)).not.toMatch(/"Assign"|"Arguments"|"Output"|\{%/);
  });

  it('hashes, then commits, each a register-step Task within Lambda’s 15 minutes', () => {
    expect(def.StartAt).toBe('Hash');
    expect(def.States.Hash).toMatchObject({ Parameters: { task: 'hash' }, Next: 'Commit', TimeoutSeconds: 900 });
    expect(def.States.Commit).toMatchObject({ Parameters: { task: 'commit', 'sha256.$': '$.hashed.sha256' }, Next: 'Registered' });
    for (const [state, s] of tasks) {
      expect({ state, resource: s.Resource }).toEqual({ state, resource: '${RegisterStepArn}' });
      expect(s.TimeoutSeconds).toBeLessThanOrEqual(900);
    }
  });

  it('never retries a refusal or a finished registration, and retries other task errors bounded and with backoff', () => {
    for (const [state, s] of [
      ['Hash', def.States.Hash!],
      ['Commit', def.States.Commit!],
    ] as const) {
      const [first, ...rest] = s.Retry ?? [];
      // the first matching retrier applies: the refusals must come before the wildcard
      expect({ state, first }).toEqual({
        state,
        first: { ErrorEquals: ['Aegis.RegistrationFinished', 'Aegis.RegistrationFailed'], MaxAttempts: 0 },
      });
      const taskErrors = rest.find((r) => r.ErrorEquals.includes('States.TaskFailed'));
      expect(taskErrors).toMatchObject({ BackoffRate: 2 });
      expect(taskErrors!.MaxAttempts).toBeGreaterThanOrEqual(2);
      expect(taskErrors!.MaxAttempts).toBeLessThanOrEqual(5);
      expect(s.Catch?.map((c) => [c.ErrorEquals.join(), c.Next])).toEqual([
        ['Aegis.RegistrationFinished', 'AlreadyFinished'],
        ['Aegis.RegistrationFailed', 'RegistrationFailed'],
        ['States.ALL', 'RecordFailure'],
      ]);
    }
  });

  it('records any other failure on the registration, and every failure path ends in the Fail state its alarm counts', () => {
    expect(def.States.RecordFailure).toMatchObject({ Parameters: { task: 'failed', 'error.$': '$.error' }, Next: 'RegistrationFailed' });
    expect(def.States.RecordFailure!.Catch?.map((c) => c.Next)).toEqual(['RegistrationFailed']);
    expect(def.States.RegistrationFailed).toMatchObject({ Type: 'Fail', Error: 'RegistrationFailed' });
    expect(def.States.AlreadyFinished).toMatchObject({ Type: 'Succeed' });
  });
});

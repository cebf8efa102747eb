import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const validator = createRequire(import.meta.url)('asl-validator') as (d: unknown) => { isValid: boolean; errors: unknown[] };

type State = {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
};
const load = (name: string) =>
  JSON.parse(readFileSync(`statemachines/${name}.asl.json`, 'utf8')) as {
    StartAt: string;
    States: Record<string, State>;
    QueryLanguage?: string;
  };

describe.each(['promotion', 'rollback'])('statemachines/%s.asl.json', (name) => {
  const def = load(name);

  it('passes asl-validator', () => {
    const r = validator(def);
    expect(r.errors).toEqual([]);
    expect(r.isValid).toBe(true);
  });

  it('is JSONPath only: the local runner ignores JSONata and variables', () => {
    const text = JSON.stringify(def);
    expect(def.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(text).not.toMatch(/"Assign"|"Arguments"|"Output"|\{%/);
  });

  it('runs every Task on the rollout step function, and every failure path ends in a recording step', () => {
    const tasks = Object.entries(def.States).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(0);
    for (const [, s] of tasks) expect(s.Resource).toBe('${RolloutStepArn}');
    const recorders = new Set(['RollBack', 'RecordFailure']);
    for (const [state, s] of tasks) {
      const catchTo = s.Catch?.filter((c) => !c.ErrorEquals.includes('Aegis.LeaseLost')).map((c) => c.Next) ?? [];
      expect({ state, catchTo }).toEqual({
        state,
        catchTo: recorders.has(state) ? [] : [expect.stringMatching(/^(RollBack|RecordFailure)$/)],
      });
    }
  });

  it('names the execution as the runner of every step, and ends quietly, never rolling back, when another runner holds the lease', () => {
    expect(def.States.Superseded).toMatchObject({ Type: 'Succeed' });
    for (const [state, s] of Object.entries(def.States).filter(([, x]) => x.Type === 'Task')) {
      expect({ state, runner: s.Parameters?.['runner.$'] }).toEqual({ state, runner: '$$.Execution.Id' });
      // the lease refusal is caught first (before States.ALL) and leads to Superseded
      expect({ state, first: s.Catch?.[0] }).toMatchObject({ state, first: { ErrorEquals: ['Aegis.LeaseLost'], Next: 'Superseded' } });
      // and never retried: a retrier that would match it (States.ALL) comes after one that refuses to
      const matching = (s.Retry ?? []).find((r) => r.ErrorEquals.includes('Aegis.LeaseLost') || r.ErrorEquals.includes('States.ALL'));
      if (matching) expect({ state, matching }).toEqual({ state, matching: { ErrorEquals: ['Aegis.LeaseLost'], MaxAttempts: 0 } });
    }
  });
});

it('asl-validator catches a dangling transition (the check is real)', () => {
  const def = load('promotion');
  (def.States.Decide as State).Default = 'Nowhere';
  expect(validator(def).isValid).toBe(false);
});

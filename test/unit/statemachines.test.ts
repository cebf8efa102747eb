import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const validator = createRequire(import.meta.url)('asl-validator') as (d: unknown) => { isValid: boolean; errors: unknown[] };

type State = { Type: string; Resource?: string; Catch?: { Next: string }[]; Next?: string; Default?: string; Choices?: { Next: string }[] };
const load = (name: string) => JSON.parse(readFileSync(`statemachines/${name}.asl.json`, 'utf8')) as { StartAt: string; States: Record<string, State>; QueryLanguage?: string };

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
      if (recorders.has(state)) continue;
      expect({ state, catchTo: s.Catch?.map((c) => c.Next) }).toEqual({ state, catchTo: [expect.stringMatching(/^(RollBack|RecordFailure)$/)] });
    }
  });
});

it('asl-validator catches a dangling transition (the check is real)', () => {
  const def = load('promotion');
  (def.States.Decide as State).Default = 'Nowhere';
  expect(validator(def).isValid).toBe(false);
});

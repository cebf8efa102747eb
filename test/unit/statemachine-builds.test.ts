/**
 * The in-process ASL runner builds (parses and validates) each machine once per adapter and
 * runs every execution of it on that one build; an invalid definition still fails every start
 * with asl-validator's error. Counted through the `build` seam around the real StateMachine.
 * asl-validator itself runs once per definition text and process (`buildValidatedOnce`).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { buildValidatedOnce, LocalWorkflows } from '../../lib/platform/adapters/workflows/asl.js';

/** A rollout that starts, waits one window, and promotes. */
const script = async (input: Record<string, unknown>) => {
  const next = input.action === 'start' ? 'wait' : input.action === 'evaluate' ? 'promote' : 'done';
  return { next, stage: 0, percent: 10, inconclusive: 0, windowSeconds: 1 };
};

function counted(definitionsDir: string, step: (input: Record<string, unknown>) => Promise<unknown>) {
  const built: object[] = [];
  const wf = new LocalWorkflows({
    definitionsDir,
    waitMs: 1,
    step,
    build: (definition) => {
      const sm = new StateMachine(definition as never);
      built.push(sm);
      return sm;
    },
  });
  return { wf, built };
}

describe('LocalWorkflows builds each state machine once', () => {
  it('builds the promotion machine once for many executions, and each other machine once on its first start', async () => {
    const actions: string[] = [];
    const { wf, built } = counted('statemachines', async (input) => {
      actions.push(String(input.action));
      return script(input);
    });
    for (const id of ['p1', 'p2', 'p3']) {
      expect(await wf.start('promotion', id, { promotionId: id })).toEqual({ executionId: `local:promotion:${id}`, started: true });
      await wf.settled(id);
    }
    expect(built).toHaveLength(1);
    await wf.start('rollback', 'r1', { promotionId: 'r1' });
    await wf.settled('r1');
    await wf.start('promotion', 'p4', { promotionId: 'p4' });
    await wf.settled('p4');
    expect(built).toHaveLength(2);
    // every execution still ran its Tasks and ended as before
    expect(['p1', 'p2', 'p3', 'p4', 'r1'].map((n) => wf.outcome(n))).toEqual(Array(5).fill({ status: 'succeeded' }));
    expect(actions).toEqual([
      ...Array(3).fill(['start', 'evaluate', 'promoteFully']).flat(),
      'promoteFully',
      'start',
      'evaluate',
      'promoteFully',
    ]);
  });

  it('runs concurrent executions of one build independently', async () => {
    const calls: string[] = [];
    const { wf, built } = counted('statemachines', async (input) => {
      calls.push(`${String(input.promotionId)}:${String(input.action)}`);
      if (input.action === 'evaluate' && input.promotionId === 'bad')
        return { next: 'rollback', stage: 0, percent: 10, inconclusive: 0, windowSeconds: 1 };
      return script(input);
    });
    await Promise.all([wf.start('promotion', 'ok', { promotionId: 'ok' }), wf.start('promotion', 'bad', { promotionId: 'bad' })]);
    await Promise.all([wf.settled('ok'), wf.settled('bad')]);
    expect(built).toHaveLength(1);
    expect(wf.outcome('ok')).toEqual({ status: 'succeeded' });
    expect(wf.outcome('bad')).toEqual({ status: 'failed', error: 'RolledBack' });
    expect(calls.filter((c) => c.startsWith('ok:'))).toEqual(['ok:start', 'ok:evaluate', 'ok:promoteFully']);
    expect(calls.filter((c) => c.startsWith('bad:'))).toEqual(['bad:start', 'bad:evaluate', 'bad:rollback']);
  });

  it('builds again in another adapter instance (once per instance, not shared across them)', async () => {
    const a = counted('statemachines', script);
    const b = counted('statemachines', script);
    for (const { wf } of [a, b, a, b]) {
      const id = `p${Math.random()}`;
      await wf.start('promotion', id, { promotionId: id });
      await wf.settled(id);
    }
    expect([a.built.length, b.built.length]).toEqual([1, 1]);
    expect(a.built[0]).not.toBe(b.built[0]);
  });

  it('fails every start of an invalid definition with the validator error, building nothing to reuse', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aegis-asl-'));
    try {
      const def = JSON.parse(await readFile('statemachines/promotion.asl.json', 'utf8')) as { StartAt: string };
      await writeFile(join(dir, 'promotion.asl.json'), JSON.stringify({ ...def, StartAt: 'NoSuchState' }));
      const tries: unknown[] = [];
      const wf = new LocalWorkflows({
        definitionsDir: dir,
        step: async () => ({}),
        build: (d) => {
          tries.push(d);
          return new StateMachine(d as never);
        },
      });
      await expect(wf.start('promotion', 'p1', { promotionId: 'p1' })).rejects.toThrow(/State machine definition is invalid/);
      await expect(wf.start('promotion', 'p1', { promotionId: 'p1' })).rejects.toThrow(/State machine definition is invalid/);
      expect(tries).toHaveLength(2);
      expect(wf.isRunning('p1')).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('validates a definition text once per process: a later build of the same text skips asl-validator, an invalid text throws every time', () => {
    // a text no other test builds (the set of validated texts is the process's)
    const def = { Comment: `once ${Math.random()}`, StartAt: 'Done', States: { Done: { Type: 'Succeed' } } };
    const text = JSON.stringify(def);
    const validations: object[] = [];
    const validate = (d: object) => {
      validations.push(d);
      return new StateMachine(d as never);
    };
    const first = buildValidatedOnce(def, text, validate);
    const second = buildValidatedOnce(def, text, validate);
    expect(validations).toEqual([def]);
    expect(second).toBeInstanceOf(StateMachine);
    expect(second).not.toBe(first);

    const bad = { ...def, StartAt: 'NoSuchState' };
    const badText = JSON.stringify(bad);
    for (let i = 0; i < 2; i++) expect(() => buildValidatedOnce(bad, badText, validate)).toThrow(/State machine definition is invalid/);
    expect(validations).toHaveLength(3);
  });

  it('runs every execution the same in an adapter built without validating (its text validated by an earlier one)', async () => {
    const outcomes: unknown[] = [];
    for (const _ of [1, 2]) {
      const actions: string[] = [];
      const wf = new LocalWorkflows({
        definitionsDir: 'statemachines',
        waitMs: 1,
        step: async (i) => (actions.push(String(i.action)), script(i)),
      });
      await wf.start('promotion', 'p', { promotionId: 'p' });
      await wf.settled('p');
      outcomes.push([wf.outcome('p'), actions]);
    }
    expect(outcomes).toEqual(Array(2).fill([{ status: 'succeeded' }, ['start', 'evaluate', 'promoteFully']]));
  });
});

/**
 * The in-process ASL runner builds (parses and validates) each machine once per adapter and
 * runs every execution of it on that one build; an invalid definition still fails every start
 * with asl-validator's error. Counted through the `build` seam around the real StateMachine.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { LocalWorkflows } from '../../lib/platform/adapters/workflows/asl.js';

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
});

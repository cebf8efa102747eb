import { InProcessScheduler } from '../../lib/platform/adapters/scheduler/in-process.js';
import { EventBridgeScheduler } from '../../lib/platform/adapters/scheduler/eventbridge.js';
import { FakeTimers } from '../support/fake-timers.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('InProcessScheduler', () => {
  it('arms each job only once started, runs it when its timer fires, re-arms it after the run, and stops', async () => {
    const timers = new FakeTimers();
    const s = new InProcessScheduler({ timers });
    const runs: string[] = [];
    s.register({ name: 'audit-archive', everyMs: 30_000, run: async () => runs.push('archive') });
    s.register({ name: 'pending-upload-expiry', everyMs: 300_000, run: async () => runs.push('uploads') });
    expect(timers.pending.size).toBe(0);
    s.start();
    expect(s.armed.sort()).toEqual(['audit-archive', 'pending-upload-expiry']);
    expect(timers.fire(30_000)).toBe(1);
    await tick();
    expect(runs).toEqual(['archive']);
    expect(s.armed).toContain('audit-archive'); // re-armed
    timers.fire(30_000);
    timers.fire(300_000);
    await tick();
    expect(runs).toEqual(['archive', 'archive', 'uploads']);
    await s.stop();
    expect(timers.pending.size).toBe(0);
    expect(s.armed).toEqual([]);
  });

  it('never overlaps a job with itself: a run in flight is joined; stop waits for it', async () => {
    const timers = new FakeTimers();
    const errors: unknown[] = [];
    const s = new InProcessScheduler({ timers, onError: (_j, e) => errors.push(e) });
    let release!: () => void;
    let started = 0;
    s.register({ name: 'audit-archive', everyMs: 1000, run: () => (started++, new Promise<void>((r) => (release = r))) });
    s.start();
    timers.fire(1000);
    const joined = s.run('audit-archive');
    await tick();
    expect(started).toBe(1);
    expect(timers.pending.size).toBe(0); // not re-armed while running
    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await tick();
    expect(stopped).toBe(false);
    release();
    await joined;
    await stopping;
    expect(stopped).toBe(true);
    expect(timers.pending.size).toBe(0); // stopped: not re-armed
    expect(errors).toEqual([]);
  });

  it('reports a failed run and keeps the schedule; refuses unknown and duplicate jobs', async () => {
    const timers = new FakeTimers();
    const errors: string[] = [];
    const s = new InProcessScheduler({ timers, onError: (job, e) => errors.push(`${job}: ${(e as Error).message}`) });
    s.register({ name: 'pending-promotion-expiry', everyMs: 10, run: async () => Promise.reject(new Error('db down')) });
    expect(() => s.register({ name: 'pending-promotion-expiry', everyMs: 10, run: async () => undefined })).toThrow(/already scheduled/);
    s.start();
    timers.fire(10);
    await tick();
    await tick();
    expect(errors).toEqual(['pending-promotion-expiry: db down']);
    expect(s.armed).toEqual(['pending-promotion-expiry']);
    await expect(s.run('audit-archive')).rejects.toThrow(/no scheduled job/);
    await s.stop();
  });
});

describe('EventBridgeScheduler', () => {
  it('arms nothing and runs a registered job by name (the rule target calls run)', async () => {
    const s = new EventBridgeScheduler();
    s.register({ name: 'pending-upload-expiry', everyMs: 1, run: async () => ({ expired: [] }) });
    s.start();
    await expect(s.run('pending-upload-expiry')).resolves.toEqual({ expired: [] });
    await expect(s.run('audit-archive')).rejects.toThrow(/no scheduled job/);
    await s.stop();
  });
});

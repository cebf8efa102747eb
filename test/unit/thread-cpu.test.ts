import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { threadCpuSince, threadCpuSnapshot } from '../../bench/thread-cpu.js';

/** This thread's CPU ticks (user + system) from /proc: what the helper reads, per thread. */
const ownTicks = (path: string) => {
  const f = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};

/** The hot-paths bench splits CPU by thread: work on the main thread and on a worker land on their own side. */
describe('thread CPU from /proc', () => {
  it('counts the main thread and the other threads apart', async () => {
    const before = threadCpuSnapshot();
    // 30 ticks (300 ms) of this thread's CPU
    const main = `/proc/self/task/${process.pid}/stat`;
    const start = ownTicks(main);
    while (ownTicks(main) - start < 30);
    // then 30 ticks of a worker's
    const spin = `const f = () => { const s = require('fs').readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' '); return +s[11] + +s[12]; };
      const t = f(); while (f() - t < 30); require('worker_threads').parentPort.postMessage('done'); setInterval(() => undefined, 1000); // alive until terminated`;
    const worker = new Worker(spin, { eval: true });
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    const cpu = threadCpuSince(before)!;
    await worker.terminate();
    expect(cpu.mainUser + cpu.mainSystem).toBeGreaterThanOrEqual(300);
    expect(cpu.otherUser + cpu.otherSystem).toBeGreaterThanOrEqual(300);
  });

  it('is undefined without a snapshot to compare with', () => {
    expect(threadCpuSince(undefined)).toBeUndefined();
  });
});

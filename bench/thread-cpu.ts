/**
 * This process's CPU time by thread (Linux: `/proc/self/task/<tid>/stat`), the main thread apart
 * from the others — V8's garbage-collector and compiler helpers, libuv's pool (file I/O, fsync,
 * crypto off the main thread) and worker threads such as PGlite's — and user time apart from
 * system time. The kernel's share is where file creation and fsync show. Elsewhere than on Linux
 * it is undefined and the benches print the process's CPU alone.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Milliseconds of CPU. */
export interface ThreadCpu {
  mainUser: number;
  mainSystem: number;
  otherUser: number;
  otherSystem: number;
}

/** `/proc` counts in USER_HZ ticks, 100 per second on every Linux ABI. */
const MS_PER_TICK = 10;

/** Each live thread's [user, system] ticks, by thread id. */
function ticks(): Map<string, [number, number]> | undefined {
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  const out = new Map<string, [number, number]>();
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended since the listing
    }
    // fields after the command name (which may hold spaces, in parentheses): utime is the 14th field, stime the 15th
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(tid, [Number(fields[11]), Number(fields[12])]);
  }
  return out;
}

/** A snapshot to pass to {@link threadCpuSince}; undefined where `/proc` is not there. */
export const threadCpuSnapshot = (): Map<string, [number, number]> | undefined => ticks();

/**
 * The CPU each kind of thread used since `before`. A thread started meanwhile counts whole; one
 * that ended meanwhile is missed (the benches' threads live as long as the process).
 */
export function threadCpuSince(before: Map<string, [number, number]> | undefined): ThreadCpu | undefined {
  const after = ticks();
  if (!before || !after) return undefined;
  const main = String(process.pid);
  const cpu: ThreadCpu = { mainUser: 0, mainSystem: 0, otherUser: 0, otherSystem: 0 };
  for (const [tid, [user, system]] of after) {
    const [user0, system0] = before.get(tid) ?? [0, 0];
    const [u, s] = [(user - user0) * MS_PER_TICK, (system - system0) * MS_PER_TICK];
    if (tid === main) [cpu.mainUser, cpu.mainSystem] = [cpu.mainUser + u, cpu.mainSystem + s];
    else [cpu.otherUser, cpu.otherSystem] = [cpu.otherUser + u, cpu.otherSystem + s];
  }
  return cpu;
}

/** Several phases' thread CPU as one (undefined when any is). */
export function sumThreadCpu(parts: readonly (ThreadCpu | undefined)[]): ThreadCpu | undefined {
  if (parts.some((p) => p === undefined)) return undefined;
  return (parts as ThreadCpu[]).reduce(
    (t, p) => ({
      mainUser: t.mainUser + p.mainUser,
      mainSystem: t.mainSystem + p.mainSystem,
      otherUser: t.otherUser + p.otherUser,
      otherSystem: t.otherSystem + p.otherSystem,
    }),
    { mainUser: 0, mainSystem: 0, otherUser: 0, otherSystem: 0 },
  );
}

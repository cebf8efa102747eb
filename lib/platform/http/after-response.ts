/**
 * Work a request leaves for after its response is written (the local server): a handler's
 * code calls {@link afterResponse} and the task runs once the server has sent the response,
 * so it adds nothing to the caller's latency (serving's shadow predictions). Lambda has no
 * such moment (nothing runs after the handler returns): there `afterResponse` returns false.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const tasks = new AsyncLocalStorage<(() => void)[]>();

/** Queues `task` for after the current request's response; false outside a request of the local server. */
export function afterResponse(task: () => void): boolean {
  const queue = tasks.getStore();
  if (!queue) return false;
  queue.push(task);
  return true;
}

/** Runs `fn` (a request's handler) collecting its after-response tasks into `queue`. */
export function collectingAfterResponse<T>(queue: (() => void)[], fn: () => Promise<T>): Promise<T> {
  return tasks.run(queue, fn);
}

/** Runs the queued tasks (each once, a throwing one never stops the rest). */
export function runAfterResponse(queue: (() => void)[]): void {
  for (const task of queue.splice(0)) {
    try {
      task();
    } catch (e) {
      console.error('after-response task failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }
}

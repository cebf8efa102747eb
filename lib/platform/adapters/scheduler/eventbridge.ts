import type { ScheduledJob, ScheduledJobName, Scheduler } from '../../ports/scheduler.js';

/**
 * The AWS {@link Scheduler}: the schedules are EventBridge rules in the stack (see
 * `lib/infra/scheduled-job.ts`), each invoking a function whose handler calls {@link run}
 * with its job's name. Nothing is armed in the process: {@link start} does nothing.
 */
export class EventBridgeScheduler implements Scheduler {
  readonly #jobs = new Map<ScheduledJobName, ScheduledJob>();

  register(job: ScheduledJob): void {
    if (this.#jobs.has(job.name)) throw new Error(`job ${job.name} is already scheduled`);
    this.#jobs.set(job.name, job);
  }

  start(): void {}

  async run(name: ScheduledJobName): Promise<unknown> {
    const job = this.#jobs.get(name);
    if (!job) throw new Error(`no scheduled job ${name}`);
    return job.run();
  }

  async stop(): Promise<void> {}
}

import type { ScheduledJob, ScheduledJobName, Scheduler, Timers } from '../../ports/scheduler.js';

const nodeTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref(); // a schedule never keeps the process alive on its own
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface InProcessSchedulerOptions {
  timers?: Timers;
  /** a run that threw (the schedule goes on) */
  onError?: (job: ScheduledJobName, error: unknown) => void;
}

/**
 * The local {@link Scheduler}: one timer per job, re-armed after each run ends, so a slow run
 * never overlaps itself. {@link stop} disarms every timer and waits for runs in flight.
 */
export class InProcessScheduler implements Scheduler {
  readonly #jobs = new Map<ScheduledJobName, ScheduledJob>();
  readonly #timers = new Map<ScheduledJobName, unknown>();
  readonly #inFlight = new Map<ScheduledJobName, Promise<unknown>>();
  readonly #t: Timers;
  readonly #onError: (job: ScheduledJobName, error: unknown) => void;
  #started = false;

  constructor(opts: InProcessSchedulerOptions = {}) {
    this.#t = opts.timers ?? nodeTimers;
    this.#onError = opts.onError ?? (() => undefined);
  }

  register(job: ScheduledJob): void {
    if (this.#jobs.has(job.name)) throw new Error(`job ${job.name} is already scheduled`);
    if (!(Number.isInteger(job.everyMs) && job.everyMs > 0)) throw new Error(`job ${job.name}: everyMs must be a positive integer`);
    this.#jobs.set(job.name, job);
    if (this.#started) this.#arm(job);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const job of this.#jobs.values()) this.#arm(job);
  }

  run(name: ScheduledJobName): Promise<unknown> {
    const job = this.#jobs.get(name);
    if (!job) return Promise.reject(new Error(`no scheduled job ${name}`));
    const running = this.#inFlight.get(name);
    if (running) return running;
    const p = Promise.resolve()
      .then(() => job.run())
      .finally(() => this.#inFlight.delete(name));
    this.#inFlight.set(name, p);
    return p;
  }

  async stop(): Promise<void> {
    this.#started = false;
    for (const h of this.#timers.values()) this.#t.clearTimeout(h);
    this.#timers.clear();
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  /** Names of the jobs whose timer is armed (for tests and diagnostics). */
  get armed(): ScheduledJobName[] {
    return [...this.#timers.keys()];
  }

  #arm(job: ScheduledJob): void {
    const handle = this.#t.setTimeout(() => {
      this.#timers.delete(job.name);
      void this.run(job.name)
        .catch((e: unknown) => this.#onError(job.name, e))
        .finally(() => {
          if (this.#started && !this.#timers.has(job.name)) this.#arm(job);
        });
    }, job.everyMs);
    this.#timers.set(job.name, handle);
  }
}

/** The scheduler port. Adapters: `adapters/scheduler/{in-process,eventbridge}.ts`. */

/**
 * The jobs that run on a schedule. Each is one EventBridge rule on AWS and one timer locally,
 * but `rollout-takeover` and `quarantine-enforcement`: local only (a server resumes rollouts
 * whose runner died, on AWS the Step Functions execution is durable; and enforces quarantines
 * whose process died after applying them, on AWS by asking for the quarantine again).
 */
export type ScheduledJobName =
  | 'audit-archive'
  | 'audit-checkpoint'
  | 'pending-promotion-expiry'
  | 'pending-upload-expiry'
  | 'rollout-takeover'
  | 'quarantine-enforcement'
  | 'serving-retention'
  | 'drift-schedule'
  | 'event-dispatch';

export interface ScheduledJob {
  name: ScheduledJobName;
  /** how often the in-process scheduler runs it (on AWS the rule's rate in the stack decides) */
  everyMs: number;
  /** one run; must be safe to repeat and to overlap with a run in another process */
  run(): Promise<unknown>;
}

/**
 * Runs jobs on a schedule: timers in this process locally, EventBridge rules on AWS (the rule
 * invokes a function whose handler calls {@link run}). Every periodic job goes through it.
 *
 * @example
 * scheduler.register({ name: 'audit-archive', everyMs: 30_000, run: () => auditTrail.archive() });
 * scheduler.start(); // local server only: arms the timers
 * await scheduler.run('audit-archive'); // the EventBridge target, or a test
 * await scheduler.stop(); // disarms and waits for runs in flight
 */
export interface Scheduler {
  register(job: ScheduledJob): void;
  /** Arms the schedules (in-process timers; a no-op where something outside drives them). */
  start(): void;
  /** Runs one registered job now and returns its result; a run already in flight is joined, not repeated. */
  run(name: ScheduledJobName): Promise<unknown>;
  /** Disarms the schedules and waits for the runs in flight. */
  stop(): Promise<void>;
}

/** The timers an in-process scheduler arms (injectable: a fake one advances time without sleeping). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

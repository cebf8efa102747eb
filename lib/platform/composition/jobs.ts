/** The periodic jobs of a container, and how often the local server runs them. */
import type { Config } from '../config.js';
import { AUDIT_CHECKPOINT_DEFAULT_SECONDS } from '../config-env.js';
import type { ScheduledJobName, Scheduler } from '../ports/scheduler.js';
import type { Container } from './container.js';

/**
 * How often the in-process scheduler runs each job (the local server). On AWS each job is an
 * EventBridge rule whose rate the stack sets (`lib/infra/scheduled-jobs.ts`).
 */
export const LOCAL_SCHEDULE_MS: Readonly<Record<ScheduledJobName, number>> = {
  'audit-archive': 30_000,
  // the default: AEGIS_AUDIT_CHECKPOINT_SECONDS sets it
  'audit-checkpoint': AUDIT_CHECKPOINT_DEFAULT_SECONDS * 1000,
  'pending-promotion-expiry': 30_000,
  'pending-upload-expiry': 300_000,
  // the local server's default lease (60 s) / 4; rolloutTakeoverMs follows AEGIS_ROLLOUT_LEASE_SECONDS
  'rollout-takeover': 15_000,
  'quarantine-enforcement': 15_000,
  // serving events, labels and input segments past AEGIS_SERVING_RETENTION_DAYS
  'serving-retention': 3_600_000,
  // starts the drift runs of windows that closed (a tick finding none starts nothing); on AWS the rule's rate (5 min)
  'drift-schedule': 20_000,
  // delivers the events outbox (a commit that enqueued deliveries also wakes it); on AWS the rule's rate (1 min) and each commit's invocation
  'event-dispatch': 1_000,
};
/**
 * How long an applied quarantine may go without recorded effects before a server enforces it
 * again: its own request enforces it within seconds unless its process died.
 */
export const QUARANTINE_ENFORCEMENT_GRACE_MS = 60_000;
/** How often a local server looks for rollouts to take over: a few times per lease. */
const rolloutTakeoverMs = (config: Config): number => Math.max(500, Math.floor((config.rolloutLeaseSeconds * 1000) / 4));

/**
 * The drift runs of every serving deployment whose scheduled window closed (policies/drift.json);
 * a window already run is skipped, so overlapping ticks and servers start each once.
 */
function registerDriftSchedule(
  scheduler: Scheduler,
  mode: Container['mode'],
  logger: Container['logger'],
  s: Pick<Container, 'driftRuns' | 'clock'>,
): void {
  scheduler.register({
    name: 'drift-schedule',
    everyMs: LOCAL_SCHEDULE_MS['drift-schedule'],
    run: async () => {
      // runs a stopped server (local) or a timed-out execution (AWS) left running: resumed locally, failed on AWS
      const stale = await s.driftRuns.sweepStale(s.clock.now(), { restart: mode === 'local' });
      if (stale.resumed.length) logger.info('resumed interrupted drift runs', { runs: stale.resumed });
      if (stale.failed.length) logger.warn('failed drift runs left running with no execution', { runs: stale.failed });
      const runs = await s.driftRuns.scheduleDue(s.clock.now());
      if (runs.length) logger.info('started drift runs', { runs: runs.map((r) => `${r.model}/${r.env}@${r.to}: ${r.runId}`) });
      return { started: runs.map((r) => r.runId), ...stale };
    },
  });
}

/** Delivers the events outbox: each subscription's due deliveries, in chain order. */
function registerEventDispatch(scheduler: Scheduler, s: Pick<Container, 'eventDispatcher'>): void {
  scheduler.register({ name: 'event-dispatch', everyMs: LOCAL_SCHEDULE_MS['event-dispatch'], run: () => s.eventDispatcher.run() });
}

/** The services the jobs run. */
type JobServices = Pick<
  Container,
  'auditTrail' | 'promotions' | 'registry' | 'quarantines' | 'servingTelemetry' | 'driftRuns' | 'eventDispatcher' | 'clock'
>;

/** The periodic jobs: timers in the local server, EventBridge rules on AWS. */
export function registerJobs(
  scheduler: Scheduler,
  config: Config,
  mode: Container['mode'],
  logger: Container['logger'],
  s: JobServices,
): void {
  const every = LOCAL_SCHEDULE_MS;
  scheduler.register({ name: 'audit-archive', everyMs: every['audit-archive'], run: () => s.auditTrail.archive() });
  // Bounds how many of the newest (not yet archived) events can be deleted unnoticed.
  scheduler.register({ name: 'audit-checkpoint', everyMs: config.auditCheckpointSeconds * 1000, run: () => s.auditTrail.checkpointHead() });
  // Pending multisig promotions past their expiry are also expired whenever they are next touched.
  scheduler.register({
    name: 'pending-promotion-expiry',
    everyMs: every['pending-promotion-expiry'],
    run: () => s.promotions.expirePending(),
  });
  scheduler.register({
    name: 'pending-upload-expiry',
    everyMs: every['pending-upload-expiry'],
    run: () => s.registry.expirePendingUploads(),
  });
  // Serving events, labels and input segments past the retention horizon. On AWS the drift
  // bucket's lifecycle rule expires the segments: the job deletes rows only (see ServingTelemetry.purge).
  scheduler.register({
    name: 'serving-retention',
    everyMs: every['serving-retention'],
    run: async () => {
      const purged = await s.servingTelemetry.purge();
      if (purged.events + purged.labels + purged.segments > 0) logger.info('purged serving telemetry past its retention', { ...purged });
      return purged;
    },
  });
  registerDriftSchedule(scheduler, mode, logger, s);
  registerEventDispatch(scheduler, s);
  // A server resumes the rollouts whose runner died (its lease expired) elsewhere on the same
  // database. Local only: on AWS a Step Functions execution is durable, and named per promotion.
  if (mode !== 'local') return;
  scheduler.register({
    name: 'rollout-takeover',
    everyMs: rolloutTakeoverMs(config),
    run: async () => {
      const taken = await s.promotions.resumeUnfinished(config.rolloutLeaseSeconds * 1000);
      if (taken.length) logger.info('resumed rollouts nobody held (their lease expired or was never taken)', { promotions: taken });
      return taken;
    },
  });
  // Quarantines applied whose enforcement never finished (the process died after the commit).
  // Local only: on AWS, asking for the quarantine again enforces it (see the README's limits).
  scheduler.register({
    name: 'quarantine-enforcement',
    everyMs: every['quarantine-enforcement'],
    run: async () => {
      const enforced = await s.quarantines.resumeEnforcement(QUARANTINE_ENFORCEMENT_GRACE_MS);
      if (enforced.length) logger.warn('enforced quarantines whose enforcement had not finished', { requests: enforced });
      return enforced;
    },
  });
}

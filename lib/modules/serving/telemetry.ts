/**
 * Serving telemetry beside the predictions: label feedback, a deployment's canary status
 * (split, per-variant counts, latency percentiles, error rates, quality) and retention of
 * what serving records (events, labels, input segments).
 */
import { histogramPercentile, sortedRuns } from '../../kernel/canary-judge.js';
import type { Variant } from '../../kernel/canary-metrics.js';
import { AegisError } from '../../kernel/errors.js';
import type { MetricsSource } from '../../platform/ports/canary-metrics.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import { recordFeedback, type FeedbackItem, type FeedbackResult } from './feedback.js';
import type { RouteSource } from './route-cache.js';
import { purgeSegments } from './segments.js';
import { servingSeries, type SeriesPoint } from './store-series.js';
import { purgeBefore } from './store.js';

const DAY_MS = 86_400_000;

/** Who deletes input segments past the retention horizon (see {@link TelemetryDeps.segmentExpiry}). */
export type SegmentExpiry = 'job' | 'lifecycle';

export interface TelemetryDeps {
  database: Database;
  clock: Clock;
  /** the serving events' metrics (it writes buffered events before reading) */
  metrics: MetricsSource;
  routes: RouteSource;
  /** where input segments go (absent: none are written, none purged) */
  driftStore?: ObjectStore | undefined;
  /**
   * Who deletes input segments past the horizon: `job` ({@link ServingTelemetry.purge}, the
   * local data folder) or `lifecycle` (the drift bucket's lifecycle rule on AWS: purge then
   * leaves the store alone and needs no right to list or delete in it).
   *
   * @default 'job'
   */
  segmentExpiry?: SegmentExpiry;
  /** AEGIS_SERVING_RETENTION_DAYS: events, labels and segments older than this are purged */
  retentionDays: number;
}

export interface VariantStatus {
  artifactId: string | null;
  requests: number;
  errors: number;
  errorRate: number | null;
  /** percentiles of the warm requests' latency (ms, from the log-bucketed histogram); null without any */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  /** labelled single-row predictions in the window and how many were correct; null without labels */
  quality: { correct: number; labelled: number; rate: number } | null;
}

export interface DeploymentStatus {
  model: string;
  env: string;
  /** the canary's share (0–100) and the promotion that set the route */
  percent: number;
  promotionId: string | null;
  window: { from: string; to: string };
  variants: Record<Variant, VariantStatus>;
  /** the window in `points` equal slots, per variant (asked with points > 0) */
  series?: SeriesPoint[];
}

export interface PurgeResult {
  before: string;
  events: number;
  labels: number;
  /** input segments this run deleted: always 0 where a lifecycle rule expires them (`segmentExpiry`) */
  segments: number;
  segmentExpiry: SegmentExpiry;
}

export class ServingTelemetry {
  constructor(private readonly d: TelemetryDeps) {}

  /** Label feedback for a deployment's requests (see {@link recordFeedback}). */
  feedback(modelName: string, env: string, items: readonly FeedbackItem[]): Promise<FeedbackResult> {
    return recordFeedback(this.d, `${modelName}/${env}`, items);
  }

  /**
   * What a deployment serves and how each variant did over the last `windowMinutes`; with
   * `points` > 0, that window as a time series of `points` slots too.
   *
   * @throws AegisError NOT_FOUND (field `env`) when nothing serves there
   */
  async status(modelName: string, env: string, windowMinutes: number, points = 0): Promise<DeploymentStatus> {
    const route = await this.d.routes(modelName, env);
    if (!route.stable && !route.canary) throw new AegisError('NOT_FOUND', `nothing serves ${modelName} in ${env}`, { field: 'env' });
    const to = this.d.clock.now();
    const from = new Date(to.getTime() - windowMinutes * 60_000);
    const variant = async (v: Variant, artifactId: string | null): Promise<VariantStatus> => {
      const m = await this.d.metrics.window(`${modelName}/${env}`, v, artifactId, from, to);
      const runs = sortedRuns(m.latencyHistogram ?? []);
      const q = m.quality;
      return {
        artifactId,
        requests: m.requests,
        errors: m.errors,
        errorRate: m.requests > 0 ? m.errors / m.requests : null,
        latencyMs: { p50: histogramPercentile(runs, 0.5), p95: histogramPercentile(runs, 0.95), p99: histogramPercentile(runs, 0.99) },
        quality: q && q.labelled > 0 ? { ...q, rate: q.correct / q.labelled } : null,
      };
    };
    const deploymentKey = `${modelName}/${env}`;
    // read through the metrics source first: it writes what serving buffered before the series reads the table
    const variants = { stable: await variant('stable', route.stable), canary: await variant('canary', route.canary) };
    const series = points > 0 ? { series: await servingSeries(this.d.database.db, { deploymentKey, from, to, points }) } : {};
    return {
      model: modelName,
      env,
      percent: route.canary ? route.percent : 0,
      promotionId: route.promotionId,
      window: { from: from.toISOString(), to: to.toISOString() },
      variants,
      ...series,
    };
  }

  /**
   * The `serving-retention` job: deletes the serving events and labels older than the retention
   * horizon, and the input segments too unless a lifecycle rule expires them (`segmentExpiry`).
   */
  async purge(): Promise<PurgeResult> {
    const before = new Date(this.d.clock.now().getTime() - this.d.retentionDays * DAY_MS);
    const rows = await purgeBefore(this.d.database.db, before);
    const segmentExpiry = this.d.segmentExpiry ?? 'job';
    const segments = this.d.driftStore && segmentExpiry === 'job' ? await purgeSegments(this.d.driftStore, before) : 0;
    return { before: before.toISOString(), ...rows, segments, segmentExpiry };
  }
}

/**
 * Drift windows of served traffic (issue 21, "Windows"): the serving artifact's baseline, the
 * input segments of a window, and their counts binned with the baseline's edges, in one pass or
 * as shards that add (for a state machine that maps over them and merges).
 *
 * @example
 * const windows = new DriftWindows({ segments: driftStore, registry, store, labels: serving });
 * const w = await windows.windowOf({ model: 'churn', env: 'prod', artifactId, from, to });
 * if (w.kind === 'window') detectWindow(w.window, w.baseline, {});
 */
import type { BaselineProfile } from '../../kernel/baseline-profile.js';
import { checkQuery, mergeShards, type ServingWindow, type ShardWindow, type WindowQuery } from './domain.js';
import { servingBaseline, type BaselineDeps, type ServingBaseline } from './baseline.js';
import { listSegments, type SegmentRef, type SegmentSource } from './segments.js';
import { countShard, type LabelSource } from './shard.js';

export { planShards, mergeShards } from './domain.js';
export type { ServingWindow, ShardWindow, WindowQuery, LineProblem, Skipped } from './domain.js';
export type { LabelSource } from './shard.js';
export type { SegmentSource, SegmentRef } from './segments.js';
export type { ServingBaseline } from './baseline.js';

export interface DriftWindowDeps extends BaselineDeps {
  /** the drift store serving writes its input segments to */
  segments: SegmentSource;
  /** serving's label feedback */
  labels: LabelSource;
}

export type WindowResult =
  { kind: 'window'; window: ServingWindow; baseline: BaselineProfile } | Extract<ServingBaseline, { kind: 'no-baseline' }>;

export class DriftWindows {
  readonly #baselines = new Map<string, Promise<ServingBaseline>>();

  constructor(private readonly d: DriftWindowDeps) {}

  /** The serving artifact's baseline (read and verified once per artifact in this process). */
  baselineOf(artifactId: string): Promise<ServingBaseline> {
    let b = this.#baselines.get(artifactId);
    if (!b) {
      b = servingBaseline(this.d, artifactId);
      b.catch(() => this.#baselines.delete(artifactId));
      this.#baselines.set(artifactId, b);
    }
    return b;
  }

  /** The segments of the window's hours, in key order (the plan's input). */
  async segmentsOf(q: WindowQuery): Promise<SegmentRef[]> {
    checkQuery(q);
    return listSegments(this.d.segments, q);
  }

  /** Counts whole segments of the window: one shard. */
  async windowOfShard(q: WindowQuery, baseline: BaselineProfile, keys: readonly string[]): Promise<ShardWindow> {
    checkQuery(q);
    return countShard({ source: this.d.segments, labels: this.d.labels, baseline, query: q }, keys);
  }

  /** The merged shards as the window of the query (the shape a report is built from). */
  static windowFrom(q: WindowQuery, baselineSha256: string, shards: readonly [ShardWindow, ...ShardWindow[]]): ServingWindow {
    const merged = shards.reduce(mergeShards);
    return {
      model: q.model,
      env: q.env,
      artifactId: q.artifactId,
      from: q.from.toISOString(),
      to: q.to.toISOString(),
      baselineSha256,
      ...merged,
    };
  }

  /** The whole window in one pass: its baseline, its segments, counted. `no-baseline` when the artifact carries none. */
  async windowOf(q: WindowQuery): Promise<WindowResult> {
    checkQuery(q);
    const b = await this.baselineOf(q.artifactId);
    if (b.kind === 'no-baseline') return b;
    const keys = (await this.segmentsOf(q)).map((s) => s.key);
    const shard = await this.windowOfShard(q, b.baseline, keys);
    return { kind: 'window', window: DriftWindows.windowFrom(q, b.sha256, [shard]), baseline: b.baseline };
  }
}

/**
 * Counting a shard (whole segments) of a window in one pass: each line read, filtered (window,
 * artifact, variant), its rows binned with the baseline's edges, and the labels of its
 * single-row requests joined from serving's feedback, a segment at a time (a segment holds at
 * most a few thousand lines: memory stays bounded by one segment).
 */
import type { BaselineProfile } from '../../kernel/baseline-profile.js';
import { windowAccumulator } from '../../kernel/drift/window-build.js';
import { AegisError } from '../../kernel/errors.js';
import { firstProblems, type LineProblem, type ShardWindow, type WindowQuery } from './domain.js';
import { parseLine, scoreOf, type SegmentLine } from './lines.js';
import { segmentLines, type SegmentSource } from './segments.js';

/** Labels given through serving's feedback, by request id (the serving module's service answers it). */
export interface LabelSource {
  labels(modelName: string, env: string, requestIds: readonly string[]): Promise<Map<string, string>>;
}

export interface ShardContext {
  source: SegmentSource;
  labels: LabelSource;
  baseline: BaselineProfile;
  query: WindowQuery;
}

const LABEL_BATCH = 500;

async function labelsOf(ctx: ShardContext, lines: readonly SegmentLine[]): Promise<Map<string, string>> {
  const ids = lines.filter((l) => l.rows.length === 1).map((l) => l.requestId);
  const out = new Map<string, string>();
  for (let i = 0; i < ids.length; i += LABEL_BATCH)
    for (const [k, v] of await ctx.labels.labels(ctx.query.model, ctx.query.env, ids.slice(i, i + LABEL_BATCH))) out.set(k, v);
  return out;
}

function emptyShard(profile: ShardWindow['profile']): ShardWindow {
  return {
    segments: 0,
    lines: 0,
    requests: 0,
    failed: 0,
    labelled: 0,
    unknownFeatures: {},
    skipped: { otherArtifact: 0, otherVariant: 0, outOfRange: 0, bad: 0 },
    problems: [],
    profile,
  };
}

/** Reads one segment's lines: those of the window kept, the others counted (bad ones named). */
async function readSegment(ctx: ShardContext, key: string, shard: ShardWindow, score: ReturnType<typeof scoreOf>): Promise<SegmentLine[]> {
  const { query, baseline } = ctx;
  const [from, to] = [query.from.getTime(), query.to.getTime()];
  const kept: SegmentLine[] = [];
  const problems: LineProblem[] = [];
  let lines: AsyncIterable<{ line: number; text: string }>;
  try {
    lines = await segmentLines(ctx.source, key);
  } catch (e) {
    // listed, then deleted by retention before it was read: named, not a failed window
    if (!(e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND')) throw e;
    shard.problems = firstProblems(shard.problems, [{ key, line: 0, problem: 'the segment was deleted after it was listed' }]);
    return [];
  }
  for await (const { line, text } of lines) {
    shard.lines++;
    const l = parseLine(text, baseline, score);
    if (typeof l === 'string') {
      shard.skipped.bad++;
      if (problems.length < 10) problems.push({ key, line, problem: l });
    } else if (l.at < from || l.at >= to) shard.skipped.outOfRange++;
    else if (l.artifactId !== query.artifactId) shard.skipped.otherArtifact++;
    else if (query.variants && !query.variants.includes(l.variant)) shard.skipped.otherVariant++;
    else kept.push(l);
  }
  shard.problems = firstProblems(shard.problems, problems);
  return kept;
}

/** Counts whole segments into a shard window of the query, binned with the baseline. */
export async function countShard(ctx: ShardContext, keys: readonly string[]): Promise<ShardWindow> {
  const acc = windowAccumulator(ctx.baseline);
  const shard = emptyShard(acc.profile());
  const score = scoreOf(ctx.baseline.predictions?.score);
  for (const key of keys) {
    shard.segments++;
    const kept = await readSegment(ctx, key, shard, score);
    const labels = await labelsOf(ctx, kept);
    for (const l of kept) {
      shard.requests++;
      if (!l.outcomes) shard.failed++;
      for (const name of l.unknown) shard.unknownFeatures[name] = (shard.unknownFeatures[name] ?? 0) + 1;
      const label = l.rows.length === 1 ? labels.get(l.requestId) : undefined;
      if (label !== undefined) shard.labelled++;
      l.rows.forEach((features, i) => {
        const o = l.outcomes?.[i];
        acc.add({ features, label, predicted: o?.predicted, score: o?.score ?? null });
      });
    }
  }
  shard.profile = acc.profile();
  return shard;
}

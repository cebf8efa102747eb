/**
 * A deployment's serving events as a time series (the console's serving page): `[from, to)` cut
 * into equal slots, per routed variant (whatever artifact served it then, so a rolled-back
 * canary's windows stay visible), the requests, errors, warm latency percentiles and quality of
 * each slot. Two grouped statements, whatever the number of slots.
 */
import { sql } from 'kysely';
import { histogramPercentile, sortedRuns } from '../../kernel/canary-judge.js';
import type { Variant } from '../../kernel/canary-metrics.js';
import type { Executor } from '../../platform/ports/database.js';

export interface SeriesVariantPoint {
  requests: number;
  errors: number;
  errorRate: number | null;
  /** warm requests' latency percentiles (ms, log-bucketed); null without any */
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  /** labelled single-row predictions that matched their label; null without labels */
  quality: number | null;
}

export interface SeriesPoint {
  from: string;
  to: string;
  stable: SeriesVariantPoint;
  canary: SeriesVariantPoint;
}

const VARIANTS: readonly Variant[] = ['stable', 'canary'];

interface Slot {
  requests: number;
  errors: number;
  runs: [number, number][];
  labelled: number;
  correct: number;
}

type SeriesQuery = { deploymentKey: string; from: Date; to: Date; points: number };

/** The slots' sums: by slot, variant, latency bucket, cold and error; and the labelled requests by slot and variant. */
async function slotRows(x: Executor, q: SeriesQuery, stepMs: number) {
  const slotOf = (col: string) =>
    sql<number>`floor(extract(epoch from (${sql.ref(col)} - ${q.from.toISOString()}::timestamptz)) * 1000 / ${stepMs}::float8)`;
  const events = await x
    .selectFrom('serving_events')
    .where('deployment_key', '=', q.deploymentKey)
    .where('variant', 'in', VARIANTS)
    .where('at', '>=', q.from)
    .where('at', '<', q.to)
    .select((eb) => [slotOf('at').as('slot'), 'variant', 'latency_bucket', 'cold', 'error', eb.fn.countAll<string | number>().as('n')])
    .groupBy(['slot', 'variant', 'latency_bucket', 'cold', 'error'])
    .execute();
  const labels = await x
    .selectFrom('serving_events as e')
    .innerJoin('serving_labels as l', (j) =>
      j.onRef('l.deployment_key', '=', 'e.deployment_key').onRef('l.request_id', '=', 'e.request_id'),
    )
    .where('e.deployment_key', '=', q.deploymentKey)
    .where('e.variant', 'in', VARIANTS)
    .where('e.at', '>=', q.from)
    .where('e.at', '<', q.to)
    .where('e.error', '=', false)
    .where(sql<boolean>`jsonb_array_length(e.prediction::jsonb) = 1`)
    .select((eb) => [
      slotOf('e.at').as('slot'),
      'e.variant as variant',
      eb.fn.countAll<string | number>().as('labelled'),
      eb.fn.sum<string | number | null>(sql`case when (e.prediction::jsonb -> 0 ->> 'label') = l.label then 1 else 0 end`).as('correct'),
    ])
    .groupBy(['slot', 'e.variant'])
    .execute();
  return { events, labels };
}

/** `points` slots of `[from, to)`, oldest first; a slot without requests has zero counts and null rates. */
export async function servingSeries(x: Executor, q: SeriesQuery): Promise<SeriesPoint[]> {
  const stepMs = (q.to.getTime() - q.from.getTime()) / q.points;
  const { events, labels } = await slotRows(x, q, stepMs);
  const slots = new Map<string, Slot>();
  const slot = (i: unknown, v: string): Slot => {
    const key = `${Number(i)}/${v}`;
    let s = slots.get(key);
    if (!s) slots.set(key, (s = { requests: 0, errors: 0, runs: [], labelled: 0, correct: 0 }));
    return s;
  };
  for (const r of events) {
    const s = slot(r.slot, r.variant);
    const n = Number(r.n);
    s.requests += n;
    if (r.error) s.errors += n;
    if (!r.cold) s.runs.push([Number(r.latency_bucket), n]);
  }
  for (const r of labels) Object.assign(slot(r.slot, r.variant), { labelled: Number(r.labelled), correct: Number(r.correct ?? 0) });
  return Array.from({ length: q.points }, (_, i) => {
    const point = (v: Variant): SeriesVariantPoint => {
      const s = slots.get(`${i}/${v}`) ?? { requests: 0, errors: 0, runs: [], labelled: 0, correct: 0 };
      const runs = sortedRuns(s.runs);
      return {
        requests: s.requests,
        errors: s.errors,
        errorRate: s.requests > 0 ? s.errors / s.requests : null,
        latencyMs: { p50: histogramPercentile(runs, 0.5), p95: histogramPercentile(runs, 0.95), p99: histogramPercentile(runs, 0.99) },
        quality: s.labelled > 0 ? s.correct / s.labelled : null,
      };
    };
    return {
      from: new Date(q.from.getTime() + i * stepMs).toISOString(),
      to: new Date(q.from.getTime() + (i + 1) * stepMs).toISOString(),
      stable: point('stable'),
      canary: point('canary'),
    };
  });
}

/** Shadow agreement over `serving_events` (store.ts grown by one concern): a request's stable answer against its shadow answer. */
import { sql } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';

/**
 * The decisions of a stored prediction (canonical JSON of one answer per row): each row's
 * `label`, or its `value` for a regressor, in row order. Probabilities are not part of it: two
 * models that pick the same class for every row agree, whatever their confidence.
 */
const decisions = (alias: 'h' | 's') =>
  sql`(select jsonb_agg(coalesce(p.v -> 'label', p.v -> 'value') order by p.n) from jsonb_array_elements(${sql.ref(`${alias}.prediction`)}::jsonb) with ordinality as p(v, n))`;

/**
 * Shadow agreement in `[from, to)` (by the shadow answer's time): the stable artifact's
 * answers without error joined on request id and deployment with the shadow artifact's
 * answers; `compared` where the shadow answered without error, `agreed` where both made the
 * same decisions ({@link decisions}: the label, or value, of every row).
 */
export async function agreementWindow(
  x: Executor,
  q: { deploymentKey: string; stableArtifactId: string | null; shadowArtifactId: string; from: Date; to: Date },
): Promise<{ compared: number; agreed: number }> {
  if (q.stableArtifactId === null) return { compared: 0, agreed: 0 };
  const r = await x
    .selectFrom('serving_events as h')
    .innerJoin('serving_events as s', (j) =>
      j.onRef('s.request_id', '=', 'h.request_id').onRef('s.deployment_key', '=', 'h.deployment_key'),
    )
    .where('h.deployment_key', '=', q.deploymentKey)
    .where('h.variant', '=', 'shadow')
    .where('h.artifact_id', '=', q.shadowArtifactId)
    .where('h.error', '=', false)
    .where('h.at', '>=', q.from)
    .where('h.at', '<', q.to)
    .where('s.variant', '=', 'stable')
    .where('s.artifact_id', '=', q.stableArtifactId)
    .where('s.error', '=', false)
    .select((eb) => [
      eb.fn.countAll<string | number>().as('compared'),
      eb.fn.sum<string | number | null>(sql`case when ${decisions('h')} = ${decisions('s')} then 1 else 0 end`).as('agreed'),
    ])
    .executeTakeFirstOrThrow();
  return { compared: Number(r.compared), agreed: Number(r.agreed ?? 0) };
}

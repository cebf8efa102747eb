/** The rollout module's tables as parity compares them; the trace (promotion_steps) and leases are left out. */
import { canonicalJson } from '../../kernel/canonical.js';
import type { Executor } from '../../platform/ports/database.js';
import { toIso } from '../../platform/sql/schema.js';
import { allRolloutRows } from './store.js';

/** updated_at left out: a rebuild sets it to the time of the event, a few ms after the original */
export interface RouteSnapshot {
  id: string;
  model: string;
  env: string;
  stable: string | null;
  canary: string | null;
  percent: number;
  shadow: string | null;
  shadowPercent: number;
  promotion: string | null;
}

export interface VerdictSnapshot {
  id: string;
  promotion: string;
  seq: number;
  stage: number;
  percent: number;
  from: string;
  to: string;
  verdict: string;
  reason: string;
  next: string;
  requests: { stable: number; canary: number };
  errors: { stable: number; canary: number } | null;
  detail: string;
  judgement: string | null;
  judgedAt: string;
  phase: string | null;
  agreement: { compared: number; agreed: number } | null;
}

/** Every route (with its shadow), and every judged window (the judgement re-canonicalized; a shadow window's phase and agreement). */
export async function rolloutSnapshot(x: Executor): Promise<{ routes: RouteSnapshot[]; verdicts: VerdictSnapshot[] }> {
  const rows = await allRolloutRows(x);
  const routes = rows.routes.map((r) => ({
    id: `${r.model_name}@${r.env}`,
    model: r.model_name,
    env: r.env,
    stable: r.stable_artifact_id,
    canary: r.canary_artifact_id,
    percent: r.canary_percent,
    shadow: r.shadow_artifact_id ?? null,
    shadowPercent: r.shadow_percent ?? 0,
    promotion: r.promotion_id,
  }));
  const verdicts = rows.verdicts.map((r): VerdictSnapshot => ({
    id: `${r.promotion_id} #${r.seq}`,
    promotion: r.promotion_id,
    seq: r.seq,
    stage: r.stage,
    percent: r.percent,
    from: toIso(r.window_from),
    to: toIso(r.window_to),
    verdict: r.verdict,
    reason: r.reason,
    next: r.next,
    requests: { stable: r.stable_requests, canary: r.canary_requests },
    errors: r.stable_errors === null || r.canary_errors === null ? null : { stable: r.stable_errors, canary: r.canary_errors },
    detail: r.detail,
    judgement: r.judgement === null ? null : canonicalJson(JSON.parse(r.judgement)),
    judgedAt: toIso(r.judged_at),
    phase: r.phase ?? null,
    agreement:
      r.agreement_compared === null || r.agreement_compared === undefined || r.agreement_agreed === null || r.agreement_agreed === undefined
        ? null
        : { compared: r.agreement_compared, agreed: r.agreement_agreed },
  }));
  return { routes, verdicts };
}

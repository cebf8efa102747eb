/**
 * Replaying the promotion events of a verified chain into the rows PromotionService and
 * RolloutService wrote (promotions, promotion_approvals, routes, canary_verdicts and an
 * approximate promotion_steps trace): the keys, promotion and rollout modules' replays, fed
 * the chain in order. Pure: the caller writes the rows.
 */
import { appendAll } from '../kernel/arrays.js';
import type { AuditEvent } from '../kernel/audit-chain.js';
import { ApproverWindows } from '../modules/keys/restore.js';
import { PromotionReplay, RESTORES as PROMOTION_TYPES, type PromotionTableRows } from '../modules/promotion/restore.js';
import { EventReplay, type ReplayProblem } from '../modules/restore.js';
import { RolloutReplay, RESTORES as ROLLOUT_TYPES, type RolloutRows } from '../modules/rollout/restore.js';
import type { RowPlan } from './rows.js';
import { RecoveryError, type Problem, type RebuildReport } from './types.js';

export type PromotionRows = PromotionTableRows & RolloutRows;

export interface PromotionReplayResult extends PromotionRows {
  /** events that are malformed or do not follow from the ones before them: nothing may be written */
  problems: ReplayProblem[];
}

const REPLAYED = new Set([...PROMOTION_TYPES, ...ROLLOUT_TYPES]);

/**
 * Replays the chain's promotion and rollout events in order with the writers' own rules
 * (approver key events move the approver windows the approvals are counted by). A promotion
 * still pending or rolling out at the end of the archive stays so (a restarted server
 * resumes it).
 */
export function replayPromotions(events: readonly AuditEvent[]): PromotionReplayResult {
  const problems: ReplayProblem[] = [];
  const windows = new ApproverWindows();
  const promotions = new PromotionReplay(windows);
  const rollouts = new RolloutReplay();
  for (const e of events) {
    if (windows.handles(e.type)) windows.apply(e);
    else if (e.type === 'route.drained') rollouts.drain(new EventReplay(e, problems));
    else if (REPLAYED.has(e.type)) {
      const r = new EventReplay(e, problems);
      const p = promotions.apply(r);
      if (p && rollouts.handles(e.type)) rollouts.apply(r, p);
    }
  }
  return { ...promotions.rows(), ...rollouts.rows(), problems };
}

/**
 * The promotion rows of a verified chain, or a refusal before anything is written: a
 * promotion state replayed past a malformed or out-of-order event could resume a rollout
 * that ended, or route traffic where it never went. Every such event is in `problems`.
 */
export function replayOrRefuse(events: readonly AuditEvent[]): PromotionRows {
  const r = replayPromotions(events);
  if (r.problems.length === 0) return r;
  const problems: Problem[] = r.problems.map((p) => ({ kind: 'promotion', id: `seq ${p.seq}`, problem: p.code, detail: p.detail }));
  throw new RecoveryError(
    'ARCHIVE_UNVERIFIED',
    `the audit archive cannot be trusted: promotion events do not replay: ${r.problems.map((p) => `seq ${p.seq}: ${p.detail}`).join('; ')}`,
    problems,
  );
}

/**
 * Adds the rows of promotions whose artifact is restored in this phase. A promotion of an
 * artifact that did not verify is left out with its approvals, trace and judged windows,
 * and reported; routes keep naming whatever served, as they did.
 */
export function planPromotions(rows: PromotionRows, plan: RowPlan, report: Pick<RebuildReport, 'problems'>): void {
  const restored = new Set(plan.artifacts.map((a) => a.artifact_id));
  const gone = new Set<string>();
  for (const p of rows.promotions) {
    if (restored.has(p.artifact_id)) continue;
    gone.add(p.promotion_id);
    report.problems.push({
      kind: 'promotion',
      id: p.promotion_id,
      problem: 'artifact-not-restored',
      detail: `${p.kind} of ${p.model_name} to ${p.target_env} (${p.status}) names artifact ${p.artifact_id}, which is not restored: the promotion, its approvals and trace are left out`,
    });
  }
  const kept = <T extends { promotion_id: string }>(items: T[]) => items.filter((x) => !gone.has(x.promotion_id));
  appendAll(plan.promotions, kept(rows.promotions));
  appendAll(plan.approvals, kept(rows.approvals));
  appendAll(plan.steps, kept(rows.steps));
  appendAll(plan.routes, rows.routes);
  appendAll(plan.verdicts, kept(rows.verdicts));
}

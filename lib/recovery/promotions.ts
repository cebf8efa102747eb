/**
 * Replaying the promotion events of a verified chain into the rows PromotionService and
 * RolloutService wrote: promotions, promotion_approvals, routes, and an approximate
 * promotion_steps trace. Pure: the caller writes the rows.
 */
import type { Insertable } from 'kysely';
import { appendAll } from '../kernel/arrays.js';
import * as z from 'zod';
import type { AuditEvent } from '../kernel/audit-chain.js';
import { canonicalJson } from '../kernel/canonical.js';
import {
  PROMOTION_CLOSE_EVENTS,
  PROMOTION_END_EVENTS,
  PromotionApprovalAcceptedPayload,
  PromotionClosedPayload,
  PromotionApprovedPayload,
  PromotionEndedPayload,
  PromotionRequestedPayload,
  type PromotionEnded,
} from '../modules/promotion/events.js';
import { PromotionStepPayload, type PromotionStep } from '../modules/rollout/events.js';
import { stepState, type RolloutState } from '../modules/rollout/domain.js';
import { toDate, toDateOrNull, type DB } from '../platform/sql/schema.js';
import type { RowPlan } from './rows.js';
import { RecoveryError, type Problem, type RebuildReport } from './types.js';

export interface PromotionRows {
  promotions: Insertable<DB['promotions']>[];
  approvals: Insertable<DB['promotion_approvals']>[];
  steps: Insertable<DB['promotion_steps']>[];
  routes: Insertable<DB['routes']>[];
  verdicts: Insertable<DB['canary_verdicts']>[];
}

export interface PromotionReplay extends PromotionRows {
  /** events that are malformed or do not follow from the ones before them: nothing may be written */
  problems: { seq: number; code: 'payload-invalid' | 'conflict'; detail: string }[];
}

/** Every event type the replay reads; `promotion.approval_refused` changes no row. */
export const PROMOTION_EVENT_TYPES = new Set([
  'promotion.requested',
  'promotion.approval_accepted',
  'promotion.approval_refused',
  'promotion.approved',
  'promotion.step',
  ...Object.keys(PROMOTION_END_EVENTS),
  ...Object.keys(PROMOTION_CLOSE_EVENTS),
]);

/** What the chain says of an approver key's window (enrolled with a notAfter, or revoked). */
type KeyWindow = { notAfter: number | null; revokedAt: number | null };
const keyPayload = z.object({ key: z.object({ kid: z.string(), purpose: z.string(), notAfter: z.string().nullable().optional() }) });
const revokedPayload = z.object({ kid: z.string(), revokedAt: z.string() });

const ACTION_OF: Record<PromotionEnded['status'], PromotionStep['action']> = {
  succeeded: 'promoteFully',
  rolled_back: 'rollback',
  failed: 'fail',
};

type Promotion = Insertable<DB['promotions']> & {
  promotion_id: string;
  model_name: string;
  target_env: string;
  kind: string;
  status: string;
  state?: RolloutState;
};
type Route = Insertable<DB['routes']>;

/**
 * Replays `promotion.*` events in chain order with the writers' own rules: a request
 * inserts the row with its policy outcome (in flight unless denied), accepted approvals add
 * rows and the threshold moves it to rolling_out, every step saves its rollout state and
 * route change, and the end events sign it off and settle the route. A promotion still
 * pending or rolling out at the end of the archive stays so (a restarted server resumes it).
 */
export function replayPromotions(events: readonly AuditEvent[]): PromotionReplay {
  const promotions = new Map<string, Promotion>();
  const inFlight = new Map<string, string>();
  const routes = new Map<string, Route>();
  const out: PromotionReplay = { promotions: [], approvals: [], steps: [], routes: [], verdicts: [], problems: [] };
  // promotion → approver → approval row, replaced when an approver renews an approval that stopped counting
  const approvals = new Map<string, Map<string, Insertable<DB['promotion_approvals']>>>();
  const keys = new Map<string, KeyWindow>();
  const stepNo = new Map<string, number>();
  // As approvalCounts, from what the chain says; a key the chain never enrolled is judged by the statement alone.
  const counts = (a: Insertable<DB['promotion_approvals']>, at: number) => {
    const k = keys.get(a.approver_kid);
    if (k && ((k.revokedAt !== null && k.revokedAt <= at) || (k.notAfter !== null && at > k.notAfter))) return false;
    return Date.parse(a.expires_at) > at;
  };

  for (const e of events) {
    if (e.type === 'key.enrolled') {
      const k = keyPayload.safeParse(e.payload);
      if (k.success && k.data.key.purpose === 'approver')
        keys.set(k.data.key.kid, { notAfter: k.data.key.notAfter ? Date.parse(k.data.key.notAfter) : null, revokedAt: null });
      continue;
    }
    if (e.type === 'key.revoked') {
      const k = revokedPayload.safeParse(e.payload);
      const w = k.success ? keys.get(k.data.kid) : undefined;
      if (w && k.success) w.revokedAt = Date.parse(k.data.revokedAt);
      continue;
    }
    if (!PROMOTION_EVENT_TYPES.has(e.type) || e.type === 'promotion.approval_refused') continue;
    const problem = (detail: string, code: 'payload-invalid' | 'conflict' = 'conflict') =>
      out.problems.push({ seq: e.seq, code, detail: `${e.type}: ${detail}` });
    const parse = <S extends z.ZodType>(schema: S): z.infer<S> | undefined => {
      const p = schema.safeParse(e.payload);
      if (p.success) return p.data;
      const issue = p.error.issues[0];
      problem(`payload ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, 'payload-invalid');
      return undefined;
    };
    const id = /^promotion:(.+)$/.exec(e.subject)?.[1];
    if (!id) {
      problem(`subject ${e.subject} names no promotion`, 'payload-invalid');
      continue;
    }
    const trace = (p: Promotion, action: PromotionStep['action']) => {
      const step = (stepNo.get(id) ?? 0) + 1;
      stepNo.set(id, step);
      out.steps.push({
        promotion_id: id,
        step,
        state: stepState(p.kind, action),
        input: canonicalJson({ action }),
        output: canonicalJson(e.payload),
        error: null,
        entered_at: toDate(e.ts),
        finished_at: toDate(e.ts),
      });
    };
    const route = (p: Promotion, set: Partial<Pick<Route, 'stable_artifact_id' | 'canary_artifact_id' | 'canary_percent'>>) => {
      const key = `${p.model_name}\u0000${p.target_env}`;
      const r = routes.get(key);
      if (r) Object.assign(r, set, { promotion_id: id, updated_at: toDate(e.ts) });
      else
        routes.set(key, {
          model_name: p.model_name,
          env: p.target_env,
          stable_artifact_id: set.stable_artifact_id ?? null,
          canary_artifact_id: set.canary_artifact_id ?? null,
          canary_percent: set.canary_percent ?? 0,
          promotion_id: id,
          updated_at: toDate(e.ts),
        });
    };

    if (e.type === 'promotion.requested') {
      const r = parse(PromotionRequestedPayload);
      if (!r) continue;
      if (r.promotionId !== id) problem(`payload names promotion ${r.promotionId}, the subject ${id}`);
      else if (promotions.has(id)) problem(`promotion ${id} is requested twice`);
      else {
        const flight = `${r.modelName}:${r.targetEnv}`;
        const holder = r.status === 'denied' ? undefined : inFlight.get(flight);
        if (holder) problem(`promotion ${id} of ${flight} while ${holder} is still in flight`);
        const raw = e.payload as Record<string, unknown>;
        promotions.set(id, {
          promotion_id: id,
          kind: r.kind,
          artifact_id: r.artifactId,
          model_name: r.modelName,
          target_env: r.targetEnv,
          manifest_signature_id: r.manifestSignatureId,
          status: r.status,
          requested_by: e.actor,
          reason: r.reason,
          canary: canonicalJson(raw.canary),
          policy_decision: canonicalJson(raw.policyDecision),
          threshold: r.threshold,
          in_flight_key: r.status === 'denied' ? null : flight,
          created_at: toDate(r.createdAt),
          applied_at: null,
          record_signature: canonicalJson(raw.recordSignature),
          rollout_state: null,
        });
        if (r.status !== 'denied') inFlight.set(flight, id);
      }
      continue;
    }

    const p = promotions.get(id);
    if (!p) {
      problem(`no earlier promotion.requested for ${id}`);
      continue;
    }
    if (e.type === 'promotion.approval_accepted') {
      const a = parse(PromotionApprovalAcceptedPayload);
      if (!a) continue;
      const rows = approvals.get(id) ?? new Map<string, Insertable<DB['promotion_approvals']>>();
      const at = Date.parse(a.at);
      const valid = [...rows.values()].filter((r) => counts(r, at)).map((r) => r.approver_kid);
      // today's writer counts the approvals valid then; an older one counted every accepted approval
      const follows = a.count === valid.length + 1 || (a.counted === undefined && a.count === rows.size + 1);
      if (p.status !== 'pending_multisig') problem(`promotion ${id} is ${p.status}: it takes no approvals`);
      else if (valid.includes(a.approverId) || (rows.has(a.approverId) && a.counted === undefined))
        problem(`approver ${a.approverId} is counted twice for ${id}`);
      else if (!follows || a.threshold !== p.threshold)
        problem(`approval ${a.count} of ${a.threshold} does not follow ${valid.length} valid of ${p.threshold}`);
      else {
        rows.set(a.approverId, {
          promotion_id: id,
          approver_kid: a.approverId,
          signature: a.signature,
          expires_at: a.expiresAt,
          created_at: toDate(a.at),
        });
        approvals.set(id, rows);
      }
    } else if (e.type === 'promotion.approved') {
      const a = parse(PromotionApprovedPayload);
      if (!a) continue;
      const rows = approvals.get(id) ?? new Map<string, Insertable<DB['promotion_approvals']>>();
      if (p.status !== 'pending_multisig') problem(`promotion ${id} is ${p.status}, not pending_multisig`);
      else if (a.approvers.length < (p.threshold ?? Number.POSITIVE_INFINITY) || a.approvers.some((k) => !rows.has(k)))
        problem(`approved by ${a.approvers.join(', ')} but ${rows.size} of ${p.threshold} approval(s) were accepted`);
      else p.status = 'rolling_out';
    } else if (e.type in PROMOTION_CLOSE_EVENTS) {
      const c = parse(PromotionClosedPayload);
      if (!c) continue;
      if (
        c.status !== PROMOTION_CLOSE_EVENTS[e.type as keyof typeof PROMOTION_CLOSE_EVENTS] ||
        c.promotionId !== id ||
        c.artifactId !== p.artifact_id ||
        c.targetEnv !== p.target_env ||
        c.kind !== p.kind
      ) {
        problem(`payload (${c.status}, ${c.promotionId}, ${c.artifactId}, ${c.targetEnv}) does not match promotion ${id}`);
      } else if (p.status !== 'pending_multisig') problem(`promotion ${id} is ${p.status}: only a pending promotion is ${c.status}`);
      else {
        p.status = c.status;
        p.in_flight_key = null;
        inFlight.delete(`${p.model_name}:${p.target_env}`);
      }
    } else if (e.type === 'promotion.step') {
      // Steps run without a status check (RolloutService.#save): replayed the same way.
      const s = parse(PromotionStepPayload);
      if (!s) continue;
      p.state = {
        stage: s.stage,
        percent: s.percent,
        inconclusive: s.inconclusive,
        windowSeconds: s.windowSeconds,
        ...(s.stageStartedAt ? { stageStartedAt: s.stageStartedAt } : {}),
        ...(s.canaryStartedAt ? { canaryStartedAt: s.canaryStartedAt } : {}),
        ...(s.reason ? { reason: s.reason } : {}),
      };
      p.rollout_state = canonicalJson(p.state);
      const w = s.window;
      if (w) {
        out.verdicts.push({
          promotion_id: id,
          seq: w.seq,
          stage: w.stage,
          percent: w.percent,
          window_from: toDate(w.from),
          window_to: toDate(w.to),
          verdict: w.verdict,
          reason: w.reason,
          next: w.next,
          stable_requests: w.requests.stable,
          canary_requests: w.requests.canary,
          stable_errors: w.errors?.stable ?? null,
          canary_errors: w.errors?.canary ?? null,
          detail: w.detail,
          judgement: w.judgement ? canonicalJson(w.judgement) : null,
          judged_at: toDate(w.judgedAt),
        });
      }
      if (s.route.canary_percent !== undefined) route(p, s.route);
      trace(p, s.action);
    } else {
      const f = parse(PromotionEndedPayload);
      if (!f) continue;
      const expected = PROMOTION_END_EVENTS[e.type as keyof typeof PROMOTION_END_EVENTS];
      if (
        f.status !== expected ||
        f.promotionId !== id ||
        f.artifactId !== p.artifact_id ||
        f.targetEnv !== p.target_env ||
        f.kind !== p.kind
      ) {
        problem(
          `payload (${f.status}, ${f.promotionId}, ${f.artifactId}, ${f.targetEnv}) does not match promotion ${id} ending ${expected}`,
        );
        continue;
      }
      if (p.status !== 'rolling_out') {
        problem(`promotion ${id} is ${p.status}, not rolling out`);
        continue;
      }
      // As RolloutService.#finish: the last saved state (or none) with the final percent.
      const state = p.state ?? { stage: -1, percent: 0, inconclusive: 0, windowSeconds: 0 };
      Object.assign(p, {
        status: f.status,
        in_flight_key: null,
        applied_at: toDateOrNull(f.appliedAt),
        record_signature: canonicalJson((e.payload as Record<string, unknown>).recordSignature),
        rollout_state: canonicalJson({ ...state, percent: f.status === 'succeeded' ? 100 : 0 }),
      });
      inFlight.delete(`${p.model_name}:${p.target_env}`);
      route(
        p,
        f.status === 'succeeded'
          ? { stable_artifact_id: p.artifact_id, canary_artifact_id: null, canary_percent: 0 }
          : { canary_artifact_id: null, canary_percent: 0 },
      );
      trace(p, ACTION_OF[f.status]);
    }
  }
  for (const { state: _s, ...row } of promotions.values()) out.promotions.push(row);
  for (const rows of approvals.values()) appendAll(out.approvals, rows.values());
  appendAll(out.routes, routes.values());
  return out;
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
 * artifact that did not verify is left out with its approvals and trace, and reported;
 * routes keep naming whatever served, as they did.
 */
export function planPromotions(rows: PromotionRows, plan: RowPlan, report: RebuildReport): void {
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
  appendAll(
    plan.promotions,
    rows.promotions.filter((p) => !gone.has(p.promotion_id)),
  );
  appendAll(
    plan.approvals,
    rows.approvals.filter((a) => !gone.has(a.promotion_id)),
  );
  appendAll(
    plan.steps,
    rows.steps.filter((s) => !gone.has(s.promotion_id)),
  );
  appendAll(plan.routes, rows.routes);
  appendAll(
    plan.verdicts,
    rows.verdicts.filter((v) => !gone.has(v.promotion_id)),
  );
}

/**
 * The acceptance report: each check's status and evidence, canonical JSON with its sha256.
 * It passes only when every check of the acceptance ran and passed.
 */
import { canonicalSha256 } from '../../kernel/canonical.js';

/** What a check shows for itself: the ids and hashes it saw, and anything else worth keeping. */
export interface Evidence {
  ids: Record<string, string>;
  hashes: Record<string, string>;
  [more: string]: unknown;
}

export interface CheckOutcome {
  ok: boolean;
  /** one line: what held, or each thing that did not */
  detail: string;
  evidence?: Partial<Evidence>;
}

export interface CheckResult {
  id: string;
  title: string;
  status: 'pass' | 'fail';
  detail: string;
  evidence: Evidence & { timings: { ms: number } };
}

export interface AcceptanceReport {
  type: 'aegis.acceptance-report/v1';
  /** `local` (a fresh registry this run started) or the URL given */
  registry: string;
  /** the commit of the checkout the checks ran from, when it is one */
  commit: string | null;
  startedAt: string;
  finishedAt: string;
  passed: boolean;
  /** checks of the acceptance not run (`--checks`): a report with any does not pass */
  skipped: string[];
  checks: CheckResult[];
  /** sha256 of the canonical JSON of every other field */
  sha256: string;
}

export interface Check<C> {
  id: string;
  title: string;
  run(ctx: C): Promise<CheckOutcome>;
}

/** Runs one check; a thrown error is its failure, named. */
export async function runCheck<C>(check: Check<C>, ctx: C): Promise<CheckResult> {
  const t0 = performance.now();
  let outcome: CheckOutcome;
  try {
    outcome = await check.run(ctx);
  } catch (e) {
    outcome = { ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
  const { ids = {}, hashes = {}, ...more } = outcome.evidence ?? {};
  return {
    id: check.id,
    title: check.title,
    status: outcome.ok ? 'pass' : 'fail',
    detail: outcome.detail,
    evidence: { ...more, ids, hashes, timings: { ms: Math.round(performance.now() - t0) } },
  };
}

export function buildReport(r: Omit<AcceptanceReport, 'passed' | 'sha256'>): AcceptanceReport {
  const body = { ...r, passed: r.skipped.length === 0 && r.checks.length > 0 && r.checks.every((c) => c.status === 'pass') };
  return { ...body, sha256: canonicalSha256(body) };
}

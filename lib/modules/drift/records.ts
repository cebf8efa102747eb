/**
 * The drift pipeline's records (issue 21): runs, the report index, retrain suggestions, and the
 * input and output of each state of the drift state machine (`statemachines/drift.asl.json`).
 * Pure types and rules; the store and service act on them.
 */
import { statementBytes } from '../../kernel/signatures.js';

export const RUN_TRIGGERS = ['schedule', 'request'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];
/** `skipped`: nothing to judge (no route, or the serving artifact carries no baseline): no report */
export const RUN_STATUSES = ['running', 'succeeded', 'skipped', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const REPORT_VERDICTS = ['drift', 'no-drift', 'insufficient-data'] as const;
export type ReportVerdict = (typeof REPORT_VERDICTS)[number];
export const SUGGESTION_STATUSES = ['open', 'accepted', 'dismissed', 'resolved'] as const;
export type SuggestionStatus = (typeof SUGGESTION_STATUSES)[number];

/**
 * The transitions a suggestion may make: a promoter or admin accepts or dismisses an open one
 * (an accepted one may still be dismissed); a promotion applying an artifact retrained from it
 * to its environment resolves an open or accepted one. Dismissed and resolved are final.
 */
export const SUGGESTION_TRANSITIONS: Readonly<Record<SuggestionStatus, readonly SuggestionStatus[]>> = {
  open: ['accepted', 'dismissed', 'resolved'],
  accepted: ['dismissed', 'resolved'],
  dismissed: [],
  resolved: [],
};

/** One run of the drift state machine over a window of a deployment's traffic. */
export interface DriftRun {
  runId: string;
  model: string;
  env: string;
  /** the serving artifact (null until planned: the run reads the route when it plans) */
  artifactId: string | null;
  from: string;
  to: string;
  trigger: RunTrigger;
  requestedBy: string;
  status: RunStatus;
  shards: number | null;
  reportId: string | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

/** The checks a drift reason names. */
export const REASON_DETECTORS = ['feature', 'dataset', 'label', 'prediction', 'performance'] as const;
export type ReasonDetector = (typeof REASON_DETECTORS)[number];

/** Why a report drifts, one entry per failed check (what a suggestion carries). */
export interface SuggestionReason {
  detector: ReasonDetector;
  feature?: string;
  /** the statistic: `js`, `driftedShare`, `missingRate`, `accuracy`, … */
  metric: string;
  value: number;
  threshold: number;
}

/** What the index keeps of a report: lists and the console show it without reading the object. */
export interface DriftReportSummary {
  rows: number;
  requests: number;
  labelled: number;
  features: number;
  driftedFeatures: string[];
  driftedShare: number;
  datasetDrift: boolean;
  labelDrift: boolean | null;
  predictionDrift: boolean | null;
  performanceRegression: boolean;
  reasons: SuggestionReason[];
}

/** An indexed report (`GET /v1/drift/reports[/{id}]`); the report itself is in the drift store at `objectKey`. */
export interface DriftReportRecord {
  reportId: string;
  runId: string;
  model: string;
  env: string;
  artifactId: string;
  from: string;
  to: string;
  verdict: ReportVerdict;
  objectKey: string;
  sha256: string;
  summary: DriftReportSummary;
  suggestionId: string | null;
  createdAt: string;
}

/** A record signature (manifest key) as stored and audited. */
export interface SuggestionSignature {
  signerId: string;
  alg: string;
  ts: string;
  signature: string;
}

/** What a suggestion's signature covers: fixed when it is raised, never its later status. */
export interface SuggestionStatement {
  suggestionId: string;
  model: string;
  env: string;
  servingArtifactId: string;
  reportId: string;
  reasons: SuggestionReason[];
  createdAt: string;
}

/** A retrain suggestion (DESIGN.md: `{ suggestionId, model, env, servingArtifactId, reportId, reasons, createdAt, status }`). */
export interface RetrainSuggestion extends SuggestionStatement {
  status: SuggestionStatus;
  /** the reason, principal and time of the last transition (accept, dismiss, resolve) */
  statusReason: string | null;
  statusBy: string | null;
  statusAt: string | null;
  /** the retrained artifact and the promotion whose applying resolved it */
  resolvedBy: { artifactId: string; promotionId: string } | null;
  /** every report attached to it, the raising one first */
  reportIds: string[];
  signature: SuggestionSignature;
}

/** The bytes a suggestion's signature covers. */
export const suggestionStatementBytes = (s: SuggestionStatement): Uint8Array =>
  statementBytes({ type: 'aegis.retrain-suggestion/v1', ...s });

// ---- the drift state machine's states (statemachines/drift.asl.json) ----

/** What an execution starts with (the scheduler or `POST /v1/drift/runs` created the run row). */
export interface DriftRunInput {
  runId: string;
}

/** The Task states, by the `task` their Parameters pass to the drift-step function. */
export type DriftStepEvent =
  | { task: 'plan'; runId: string }
  | { task: 'count'; runId: string; shard: number }
  | { task: 'report'; runId: string; partials: ShardPartial[] }
  | { task: 'failed'; runId: string; error: { Error?: string; Cause?: string } };

/**
 * Plan's output: the shards to count (their key lists are in the drift store, at
 * `drift-runs/<runId>/plan.json`, so the state stays small whatever the window holds).
 * `shards` empty: nothing to count (no segments, or no baseline: `skip` says why).
 */
export interface PlanOutput {
  runId: string;
  shards: number[];
  skip?: 'no-route' | 'no-baseline';
}

/** A counted shard, written to `drift-runs/<runId>/shard-<n>.json` (Map results must stay under 256 KB). */
export interface ShardPartial {
  shard: number;
  key: string;
  sha256: string;
}

export interface ReportOutput {
  runId: string;
  reportId: string | null;
  verdict: ReportVerdict | null;
  suggestionId: string | null;
}

// ---- the drift configuration (policies/drift.json, AEGIS_DRIFT_POLICY) ----

/** How often a deployment's windows are judged, and how they are counted. */
export interface DriftSchedule {
  /** false: the scheduler starts no run for it (runs may still be requested) */
  enabled: boolean;
  /** a window ends every this many minutes (aligned to the epoch: 60 → every full hour, UTC) */
  everyMinutes: number;
  /** each window spans this many minutes before its end (at most MAX_WINDOW_HOURS × 60) */
  windowMinutes: number;
  /** at most this many shards the Map counts in parallel */
  shards: number;
}

/**
 * The drift configuration of one deployment: the file's `schedule` and `detectors`, overridden by
 * every entry of `deployments` that matches (file order; `model` is a name or `*`, `env` absent
 * matches every environment).
 */
export interface DeploymentDriftConfig {
  model: string;
  env: string;
  schedule: DriftSchedule;
  /** DriftOptions overrides (kernel/drift/options.ts), validated when the file loads */
  detectors: Record<string, unknown>;
}

/**
 * What the routes, the CLI's server side and the Lambda handlers use (DriftService implements it).
 * Lists are newest first, paged by an opaque cursor; `undefined` is "no such object".
 */
export interface DriftApi {
  /** records a run (`trigger: request`) and starts the drift state machine; the window defaults to the schedule's latest */
  requestRun(q: { model: string; env: string; from?: Date; to?: Date }, principal: string): Promise<DriftRun>;
  run(runId: string): Promise<DriftRun | undefined>;
  reports(q: { model?: string; env?: string; since?: Date; limit: number; cursor?: string }): Promise<Page<DriftReportRecord>>;
  /** the index record and the stored report, its bytes checked against the indexed sha256 */
  report(reportId: string): Promise<{ record: DriftReportRecord; report: Record<string, unknown> } | undefined>;
  suggestions(q: {
    model?: string;
    env?: string;
    status?: SuggestionStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<RetrainSuggestion>>;
  suggestion(suggestionId: string): Promise<RetrainSuggestion | undefined>;
  /** accept or dismiss (promoter, admin): 409 naming `status` when the transition is not allowed */
  decide(suggestionId: string, decision: 'accept' | 'dismiss', reason: string, principal: string): Promise<RetrainSuggestion>;
  /** the model a run, report or suggestion belongs to (the scope check) */
  modelOf(kind: 'run' | 'report' | 'suggestion', id: string): Promise<string | undefined>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

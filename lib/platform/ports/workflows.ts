/** The workflow ports: running the rollout and drift state machines and judging canary windows. Adapters: `adapters/workflows/{asl,sfn}.ts`; tested by `test/contracts/sfn-workflows.test.ts` and the promotion suites. */
import type { CanaryJudgement } from '../../kernel/canary-judgement.js';

/** `statemachines/<name>.asl.json`: the rollout machines, the drift run (issue 21), an asynchronous registration (issue 25). */
export type MachineName = 'promotion' | 'rollback' | 'drift' | 'register';

/**
 * What an execution starts with: the promotion, and for the rollback machine an `error` when
 * it aborts that promotion's canary (a quarantine) instead of setting a rollback's route.
 */
export type WorkflowInput = RolloutInput | DriftRunStart | RegistrationStart;

export interface RolloutInput {
  promotionId: string;
  error?: { Error: string; Cause: string };
}

/** The drift machine starts with the run the scheduler or `POST /v1/drift/runs` recorded (the execution name is the run id). */
export interface DriftRunStart {
  runId: string;
}

/** The register machine starts with the registration `POST /v1/registry/register` recorded (the execution name is its id). */
export interface RegistrationStart {
  registrationId: string;
}

/**
 * Runs the rollout state machines: Step Functions on AWS, the same ASL in-process locally.
 * The execution name is the promotion id, so starting twice never runs twice.
 *
 * @example
 * await workflows.start('promotion', promotionId, { promotionId });
 */
export interface Workflows {
  start(machine: MachineName, name: string, input: WorkflowInput): Promise<{ executionId: string; started: boolean }>;
  /**
   * Stops the executions this process runs and waits for them (the local server's shutdown;
   * their persisted state lets a restart resume them). Absent where executions outlive the
   * process (Step Functions).
   */
  stopAll?(): Promise<void>;
}

export interface CanaryWindow {
  promotionId: string;
  modelName: string;
  env: string;
  stableArtifactId: string | null;
  canaryArtifactId: string;
  /**
   * the stage so far, `[from, to)`: from the stage's start (after the route settled) to now, or
   * to where the metrics are complete when that is earlier (the ingest watermark on AWS)
   */
  from: Date;
  to: Date;
  /** when the canary's first stage began: quality is judged over `[canaryFrom, to)`, as labels arrive late */
  canaryFrom: Date;
  /** the canary's share of requests in this stage, in percent (for the sample-ratio check) */
  percent: number;
  rollbackThreshold: number;
  /** requests each arm needs before the window can pass or fail */
  minRequests: number;
  /** labelled predictions each arm needs over the canary so far: given, the window must be judged on quality (else inconclusive) */
  minLabelled?: number;
  /**
   * The arm judged against stable: `canary` (routed callers; the default) or `shadow`
   * (mirrored copies: also judged on agreement with the stable answer, at least `minAgreement`).
   */
  arm?: 'canary' | 'shadow';
  minAgreement?: number;
}

/** A judged window: the verdict, why, and the numbers it rests on (stored, audited and shown). */
export interface WindowVerdict {
  verdict: 'pass' | 'fail' | 'inconclusive';
  /** `pass`, `insufficient-traffic`, or the check that failed (`errorRate`, `latencyP95`, `sampleRatio`, …) */
  reason: string;
  detail: string;
  /** requests per arm in the window: the completed-canary gate reads them back from the audit chain */
  requests: { stable: number; canary: number };
  errors?: { stable: number; canary: number };
  /** the judge's full numbers (percentiles, statistics, p-values, guardrails) */
  judgement?: CanaryJudgement;
  /** a shadow window's agreement with the stable answers (`rate` = agreed / compared; null when none compared) */
  agreement?: { compared: number; agreed: number; rate: number | null };
}

/** Judges a canary window: the statistics over per-variant metrics, or a scripted verdict in tests. */
export interface RolloutJudge {
  evaluate(window: CanaryWindow): Promise<WindowVerdict>;
  /**
   * Up to when the judge's metrics of the deployment are complete, as of `now` (at most `now`):
   * the rollout ends the window there (`MetricsSource.settledUntil`). Absent (a scripted
   * judge reads no metrics): `now`.
   */
  settledUntil?(modelName: string, env: string, now: Date): Promise<Date>;
}

import * as z from 'zod';

/**
 * SentinelNet, the promotion policy gate: what it is asked, what it answers, and the pure
 * helpers both engines (embedded Cedar, remote service) share so their answers look alike.
 * The port itself (`PolicyEngine`) is `lib/platform/ports/policy.ts`.
 */

export const TARGET_ENVS = ['staging', 'canary', 'prod'] as const;
export type TargetEnv = (typeof TARGET_ENVS)[number];

export const RISK_TIERS = ['low', 'medium', 'high'] as const;
export type RiskTier = (typeof RISK_TIERS)[number];

/** How a promotion's candidate meets traffic (the rollout module's `STRATEGIES`, named here for the policy input). */
export const POLICY_STRATEGIES = ['canary', 'shadow', 'blue-green'] as const;
export type PolicyStrategy = (typeof POLICY_STRATEGIES)[number];

export const POLICY_DECISIONS = ['allow', 'deny', 'require_multisig'] as const;
export type PolicyDecisionKind = (typeof POLICY_DECISIONS)[number];

/** Rule ids the engines report themselves, never taken by a policy in the policy file. */
export const ENGINE_RULES = {
  /** the engine could not evaluate (parse/evaluation error): refused, never allowed */
  engineError: 'engine-error',
  /** the remote SentinelNet did not give a usable answer in time */
  unavailable: 'sentinelnet-unavailable',
  /** no policy permitted the request (Cedar's default deny) */
  noPermit: 'no-permit',
} as const;

/** Everything a promotion decision may depend on, gathered by the promotion service. */
export interface PolicyInput {
  artifact: {
    artifactId: string;
    modelName: string;
    version: string;
    manifestSignatureValid: boolean;
    signerId: string;
    codeRef: string;
    datasets: { id: string; version: string; checksum: string }[];
    metrics: Record<string, number>;
  };
  /** the environment of a promotion or rollback; `any` for a quarantine or its release (they are about the artifact everywhere) */
  targetEnv: TargetEnv | 'any';
  requester: { id: string; role: string };
  /** what currently serves in the target env, or null when nothing does yet */
  production: { artifactId: string; metrics: Record<string, number> } | null;
  riskTier: RiskTier;
  /**
   * The most requests per arm that a passing stage of a succeeded canary promotion of this
   * artifact served (0: none; a canary with `steps: 0` has no judged stage). Read from the
   * audit chain and the signed promotion records, never from the status column alone. The
   * embedded engine compares it with `canary.minRequestsPerArm` of its configuration.
   */
  canaryPassedRequestsPerArm: number;
  /** `canaryPassedRequestsPerArm` ≥ the judge's default minimum (200): for remote engines and older policies */
  canaryCompleted: boolean;
  /** the artifact served the target environment before (a verified, applied promotion or rollback to it) */
  servedBefore: boolean;
  /** stored promotion records the audit chain or the signed records do not support; any refuses */
  evidenceProblems: string[];
  action: 'promote' | 'rollback' | 'quarantine' | 'release';
  /** a rollback flagged critical (it replaces what serves immediately) */
  critical?: boolean;
  /**
   * How the promotion meets traffic: the request's strategy; `canary` for a rollback, a
   * quarantine or its release, and when a request names none (engines read an absent value so).
   */
  strategy?: PolicyStrategy;
  /** the artifact is quarantined (promotions and rollbacks to it are refused) */
  quarantined?: boolean;
  /** the automatic rollback a quarantine starts, away from the quarantined artifact that serves there */
  quarantineRollback?: boolean;
}

/** SentinelNet's answer; stored verbatim in the promotion record. */
export interface PolicyDecision {
  decision: PolicyDecisionKind;
  /** ids of the policies that decided: the forbids on deny, the permits otherwise */
  rules: string[];
  /** one human reason per rule, same order */
  reasons: string[];
  /** approvals needed (with require_multisig), e.g. 3 */
  threshold?: number;
  /** size of the approver pool (with require_multisig), e.g. 5 */
  approvers?: number;
  evaluatedAt: string;
  engine: 'cedar' | 'remote';
  /** sha256 of the policy text and configuration that decided; empty when nothing was evaluated */
  policySetSha256: string;
}

/** The wire/storage form of a decision (what a remote SentinelNet must reply). */
export const PolicyDecisionSchema = z
  .object({
    decision: z.enum(POLICY_DECISIONS),
    rules: z.array(z.string().min(1).max(200)).max(100),
    reasons: z.array(z.string().max(2000)).max(100),
    threshold: z.number().int().positive().optional(),
    approvers: z.number().int().positive().optional(),
    evaluatedAt: z.iso.datetime({ offset: true }).optional(),
    engine: z.enum(['cedar', 'remote']).optional(),
    policySetSha256: z.string().regex(/^([0-9a-f]{64})?$/, 'must be a hex sha256'),
  })
  // A multisig demand without its numbers could not be enforced, so it is not a decision.
  .refine(
    (d) => d.decision !== 'require_multisig' || (d.threshold !== undefined && d.approvers !== undefined && d.threshold <= d.approvers),
    {
      message: 'require_multisig needs threshold <= approvers',
      path: ['threshold'],
    },
  );

/** `policies/sentinelnet.json`: the tunable values the policies are evaluated with. */
export const PolicyConfigSchema = z
  .object({
    metric: z
      .object({
        name: z.string().min(1).default('auc'),
        higherIsBetter: z.boolean().default(true),
        /** absolute; a candidate may be this much worse than production and still pass */
        tolerance: z.number().nonnegative().max(1e6).default(0.01),
      })
      .strict()
      .prefault({}),
    multisig: z
      .object({ threshold: z.number().int().positive().default(3), approvers: z.number().int().positive().default(5) })
      .strict()
      .prefault({})
      .refine((m) => m.threshold <= m.approvers, { message: 'threshold must not exceed approvers', path: ['threshold'] }),
    riskTiers: z
      .object({ default: z.enum(RISK_TIERS).default('medium'), models: z.record(z.string(), z.enum(RISK_TIERS)).default({}) })
      .strict()
      .prefault({}),
    /**
     * high-risk-prod-requires-shadow: a high-risk model's promotion to prod must run a shadow
     * first (on by default; off lets it reach prod by any strategy, e.g. where no traffic can be mirrored)
     */
    shadow: z
      .object({ requiredForHighRiskProd: z.boolean().default(true) })
      .strict()
      .prefault({}),
    /** what makes a canary "completed" for the prod gate */
    canary: z
      .object({
        /** requests each arm must have served in a passing stage (the judge's default minimum) */
        minRequestsPerArm: z.number().int().positive().max(1e9).default(200),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type PolicyConfig = z.infer<typeof PolicyConfigSchema>;

/**
 * The risk-tier rule, the only one: a model's tier is the one SentinelNet's configuration
 * lists for it, else the configured default — never the requester's. An engine asked with a
 * tier already set (a remote caller, a test) evaluates that tier raised to the listed one, so
 * nobody can talk a listed model down to a lower tier.
 *
 * @example
 * riskTierFor({ default: 'medium', models: { churn: 'high' } }, 'churn') // 'high'
 * riskTierFor({ default: 'medium', models: { churn: 'high' } }, 'churn', 'low') // 'high'
 * riskTierFor({ default: 'medium', models: {} }, 'ranker') // 'medium'
 */
export function riskTierFor(tiers: PolicyConfig['riskTiers'], modelName: string, requested?: RiskTier): RiskTier {
  const listed = tiers.models[modelName];
  if (requested === undefined) return listed ?? tiers.default;
  if (!listed) return requested;
  return RISK_TIERS.indexOf(listed) > RISK_TIERS.indexOf(requested) ? listed : requested;
}

/** Metric values in millionths: Cedar has no floats and its decimals no arithmetic. */
export const METRIC_SCALE = 1_000_000;

export interface MetricComparison {
  /** both sides have a usable value */
  comparable: boolean;
  /** production has the metric but the candidate does not (or it is not a finite number) */
  candidateMissing: boolean;
  /** oriented so that higher is better, in millionths; 0 when not comparable */
  candidate: number;
  production: number;
  tolerance: number;
}

const toMicros = (v: unknown): number | undefined => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  const m = Math.round(v * METRIC_SCALE);
  // Cedar Longs are 64-bit but JSON numbers are doubles: stay exact or refuse the value.
  return Number.isSafeInteger(m) && Math.abs(m) < 2 ** 52 ? m : undefined;
};

/**
 * The configured metric of candidate and production as integers Cedar can compare
 * (`candidate + tolerance < production` is a regression). Rounding to millionths first makes
 * the boundary exact: 0.89 vs 0.90 with tolerance 0.01 is within tolerance, as a person
 * would read it, where float subtraction would say 0.010000000000000009.
 *
 * @example
 * compareMetric({ auc: 0.85 }, { auc: 0.9 }, config.metric) // { comparable: true, candidate: 850000, production: 900000, tolerance: 10000, … }
 */
export function compareMetric(
  candidateMetrics: Record<string, unknown>,
  productionMetrics: Record<string, unknown> | undefined,
  metric: PolicyConfig['metric'],
): MetricComparison {
  const none = { comparable: false, candidateMissing: false, candidate: 0, production: 0, tolerance: 0 };
  const production = productionMetrics ? toMicros(productionMetrics[metric.name]) : undefined;
  // Nothing to regress against: the first model in an env, or a production without the metric.
  if (production === undefined) return none;
  const candidate = toMicros(candidateMetrics[metric.name]);
  if (candidate === undefined) return { ...none, candidateMissing: true };
  const sign = metric.higherIsBetter ? 1 : -1;
  return {
    comparable: true,
    candidateMissing: false,
    candidate: sign * candidate,
    production: sign * production,
    tolerance: toMicros(metric.tolerance) ?? 0,
  };
}

/** Placeholders `{name}` in a policy's `@reason`, filled from the request's facts. */
export const REASON_PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

/**
 * Fills a reason template; unknown placeholders stay as written (the loader rejects them).
 *
 * @example
 * renderReason('{modelName} needs a canary', { modelName: 'churn' }) // 'churn needs a canary'
 */
export const renderReason = (template: string, facts: Readonly<Record<string, string>>): string =>
  template.replace(REASON_PLACEHOLDER, (whole, name: string) => facts[name] ?? whole);

/**
 * The refusal both engines give when they cannot decide: fail closed, say why.
 *
 * @example
 * failClosed('sentinelnet-unavailable', 'SentinelNet timed out after 2000 ms', { engine: 'remote', policySetSha256: '', evaluatedAt })
 */
export const failClosed = (
  rule: string,
  reason: string,
  meta: Pick<PolicyDecision, 'engine' | 'policySetSha256' | 'evaluatedAt'>,
): PolicyDecision => ({ decision: 'deny', rules: [rule], reasons: [reason], ...meta });

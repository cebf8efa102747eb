/**
 * The promotion policy port (SentinelNet). Adapters: `adapters/policy/{cedar,remote}.ts`;
 * tested by `test/unit/policy-engine.test.ts` and `test/unit/remote-policy-engine.test.ts`.
 * What it is asked and answers (`PolicyInput`, `PolicyDecision`) is pure and lives in the
 * kernel (`lib/kernel/policy.ts`), with the helpers both engines share.
 */
import type { PolicyDecision, PolicyInput } from '../../kernel/policy.js';

/**
 * The promotion gate: one embedded (Cedar) and one remote (`SENTINELNET_URL`) adapter.
 * Implementations fail closed: they resolve to a `deny` rather than reject.
 *
 * @example
 * const d = await policyEngine.decide({ ...input, targetEnv: 'prod', action: 'promote' });
 * if (d.decision === 'deny') throw new AegisError('FORBIDDEN', d.reasons.join('; '), { details: { rules: d.rules } });
 */
export interface PolicyEngine {
  decide(input: PolicyInput): Promise<PolicyDecision>;
}

/** What the promotion service asks: every fact of the request but the risk tier. */
export type PolicyRequest = Omit<PolicyInput, 'riskTier'>;

/**
 * SentinelNet as the promotion service sees it: the composition adds the model's risk tier
 * from SentinelNet's configuration (`riskTierFor`), never from the requester, and asks the
 * configured engine.
 *
 * @example
 * const d = await gate.decide({ artifact, targetEnv: 'prod', requester, action: 'promote', … });
 */
export interface PromotionGate {
  decide(request: PolicyRequest): Promise<PolicyDecision>;
}

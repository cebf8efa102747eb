import { CedarPolicyEngine } from '../adapters/policy/cedar.js';
import { RemotePolicyEngine } from '../adapters/policy/remote.js';
import { riskTierFor } from '../../kernel/policy.js';
import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';
import type { PolicyEngine, PromotionGate } from '../ports/policy.js';

/**
 * SentinelNet for the processes that decide promotions: the Cedar policies from
 * `config.policiesDir`, or the remote engine at `SENTINELNET_URL`. Either way the risk tier
 * comes from the local policy configuration, never from the requester. Imported only by the
 * local composition and the promotion routes' Lambda entries, so no other bundle carries
 * Cedar's WebAssembly.
 */
export async function openPolicy(config: Config, clock: Clock): Promise<PromotionGate> {
  const local = await CedarPolicyEngine.load(config.policiesDir, { clock });
  const engine: PolicyEngine = config.sentinelnetUrl ? new RemotePolicyEngine({ url: config.sentinelnetUrl }) : local;
  return {
    decide: (request) => engine.decide({ ...request, riskTier: riskTierFor(local.config.riskTiers, request.artifact.modelName) }),
  };
}

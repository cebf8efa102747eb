import { CedarPolicyEngine } from '../adapters/policy/cedar.js';
import { RemotePolicyEngine } from '../adapters/policy/remote.js';
import type { PolicyRuntime } from './services.js';
import type { Config } from '../config.js';
import type { Clock } from '../ports/clock.js';

/**
 * SentinelNet for the processes that decide promotions: the Cedar policies from
 * `config.policiesDir`, or the remote engine at `SENTINELNET_URL` (the risk tiers still
 * come from the local policy configuration, never from the requester). Imported only by the
 * local composition and the promotion routes' Lambda entries, so no other bundle carries
 * Cedar's WebAssembly.
 */
export async function openPolicy(config: Config, clock: Clock): Promise<PolicyRuntime> {
  const local = await CedarPolicyEngine.load(config.policiesDir, { clock });
  const riskTierOf = (m: string) => local.config.riskTiers.models[m] ?? local.config.riskTiers.default;
  if (!config.sentinelnetUrl) return { engine: local, riskTierOf };
  return { engine: new RemotePolicyEngine({ url: config.sentinelnetUrl }), riskTierOf };
}

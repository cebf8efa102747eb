import { CedarPolicyEngine } from './adapters/local/cedar-policy-engine.js';
import { RemotePolicyEngine } from './adapters/remote-policy-engine.js';
import type { PolicyRuntime } from './composition.js';
import type { Config } from './config.js';
import type { Clock } from './ports.js';

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

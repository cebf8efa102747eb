import { ENGINE_RULES, PolicyDecisionSchema, failClosed, type PolicyDecision, type PolicyInput } from '../../../kernel/policy.js';
import type { PolicyEngine } from '../../ports/policy.js';
import { systemClock, type Clock } from '../../ports/clock.js';

export interface RemotePolicyEngineOptions {
  /** base URL of SentinelNet (`SENTINELNET_URL`); the engine POSTs to `${url}/v1/decide` */
  url: string;
  /**
   * Whole-exchange budget (connect, send, reply body) in ms.
   * @default 2000
   */
  timeoutMs?: number;
  clock?: Clock;
  /** injectable for tests and custom agents @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** A reply is a few rules and reasons; anything far larger is not a decision. */
const MAX_REPLY_BYTES = 256 * 1024;

/**
 * SentinelNet as a remote service. Every failure to get a well-formed decision in time
 * (timeout, network error, non-2xx, non-JSON, wrong shape) resolves to a `deny` with rule
 * `sentinelnet-unavailable`: a promotion gate that opens when its judge is down is no gate.
 *
 * @example
 * const engine = new RemotePolicyEngine({ url: config.sentinelnetUrl!, timeoutMs: 2000 });
 * const d = await engine.decide(input); // { decision: 'allow', engine: 'remote', … }
 */
export class RemotePolicyEngine implements PolicyEngine {
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly fetchImpl: typeof fetch;

  constructor(opts: RemotePolicyEngineOptions) {
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/v1/decide`;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0)
      throw new RangeError(`timeoutMs must be a positive integer, got ${opts.timeoutMs}`);
    this.clock = opts.clock ?? systemClock;
    this.fetchImpl = opts.fetch ?? globalThis.fetch;
  }

  async decide(input: PolicyInput): Promise<PolicyDecision> {
    const evaluatedAt = this.clock.now().toISOString();
    const unavailable = (reason: string) =>
      failClosed(ENGINE_RULES.unavailable, `SentinelNet at ${this.endpoint} ${reason}; promotion refused`, {
        engine: 'remote',
        policySetSha256: '',
        evaluatedAt,
      });

    let status: number;
    let body: string;
    try {
      // One signal spans the request and the body read, so a server that stalls mid-reply times out too.
      const res = await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(input),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      body = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      if (err.name === 'TimeoutError' || err.name === 'AbortError') return unavailable(`did not answer within ${this.timeoutMs} ms`);
      return unavailable(`is unreachable (${err.cause?.code ?? err.message})`);
    }
    if (status < 200 || status > 299) return unavailable(`replied HTTP ${status}`);
    if (Buffer.byteLength(body) > MAX_REPLY_BYTES) return unavailable(`replied with more than ${MAX_REPLY_BYTES} bytes`);

    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return unavailable('replied with malformed JSON');
    }
    const parsed = PolicyDecisionSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return unavailable(`replied with an invalid decision (${issue.path.join('.') || '(root)'}: ${issue.message})`);
    }
    const d = parsed.data;
    // A decision that cannot be explained rule by rule cannot be shown to the requester or audited.
    if (d.rules.length !== d.reasons.length) return unavailable('replied with a decision whose rules and reasons do not pair up');
    return {
      decision: d.decision,
      rules: d.rules,
      reasons: d.reasons,
      ...(d.decision === 'require_multisig' ? { threshold: d.threshold!, approvers: d.approvers! } : {}),
      evaluatedAt: d.evaluatedAt ?? evaluatedAt,
      engine: 'remote',
      policySetSha256: d.policySetSha256,
    };
  }
}

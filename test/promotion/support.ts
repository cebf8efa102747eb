import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalBytes, approvalStatement } from '../../lib/kernel/approvals.js';
import type { ServingWarmer, WarmUpRequest, WarmUpResult } from '../../lib/platform/ports/serving-warmer.js';
import type { CanaryWindow, RolloutJudge, WindowVerdict } from '../../lib/platform/ports/workflows.js';
import type { Stack } from '../support/local-stack.js';

/**
 * Verdicts injected in order (then `fallback`); 'throw' simulates a failing task. A pass
 * reports `requestsPerArm` requests on each arm (enough for the completed-canary gate by
 * default), an inconclusive window none.
 */
export class ScriptedJudge implements RolloutJudge {
  readonly calls: CanaryWindow[] = [];
  #release: () => void = () => undefined;
  #held: Promise<void> = Promise.resolve();
  constructor(
    readonly script: ('pass' | 'fail' | 'inconclusive' | 'throw' | 'hold' | 'disagree')[] = [],
    private readonly fallback: 'pass' | 'fail' | 'inconclusive' = 'pass',
    public requestsPerArm = 1000,
  ) {}
  /** the next 'hold' verdict blocks until release() (then passes) */
  hold(): void {
    this.#held = new Promise((r) => (this.#release = r));
    this.script.push('hold');
  }
  release(): void {
    this.#release();
  }
  async evaluate(w: CanaryWindow): Promise<WindowVerdict> {
    this.calls.push(w);
    const v = this.script.shift() ?? this.fallback;
    if (v === 'throw') throw new Error('metrics store unreachable');
    const served = { stable: this.requestsPerArm, canary: this.requestsPerArm };
    // a shadow window carries its agreement: all answers equal, or ('disagree') a fifth of them not
    const n = this.requestsPerArm;
    if (v === 'disagree')
      return {
        verdict: 'fail',
        reason: 'agreement',
        detail: 'scripted disagree',
        requests: served,
        agreement: { compared: n, agreed: n * 0.8, rate: 0.8 },
      };
    const agreement = w.arm === 'shadow' && v !== 'inconclusive' ? { agreement: { compared: n, agreed: n, rate: n > 0 ? 1 : null } } : {};
    if (v === 'hold') {
      await this.#held;
      return { verdict: 'pass', reason: 'pass', detail: 'held, then passed', requests: served, ...agreement };
    }
    const reason = v === 'pass' ? 'pass' : v === 'fail' ? 'errorRate' : 'insufficient-traffic';
    return {
      verdict: v,
      reason,
      detail: `scripted ${v}`,
      requests: v === 'inconclusive' ? { stable: 0, canary: 0 } : served,
      ...agreement,
    };
  }
}

/** Polls a promotion until it leaves the in-flight states (or times out). */
export async function settled(stack: Stack, promotionId: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = (await stack.api('GET', `/v1/promotions/${promotionId}`)).body;
    if (!['rolling_out', 'pending_multisig'].includes(p.status)) return p;
    if (Date.now() > deadline) throw new Error(`promotion ${promotionId} still ${p.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Approver {
  kid: string;
  owner: string;
  privateKey: KeyObject;
  publicKey: string;
}

export function approverKey(kid: string, owner: string): Approver {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { kid, owner, privateKey, publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
}

export function approve(
  a: Approver,
  p: { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string },
  expiresAt = new Date(Date.now() + 3600_000).toISOString(),
) {
  const signature = sign(null, approvalBytes(approvalStatement(p, expiresAt)), a.privateKey).toString('base64');
  return { approverId: a.kid, signature, expiresAt };
}

/** A temp copy of the repo's SentinelNet policies with `model` marked high risk (prod needs 3 of 5 approvals). */
export async function highRiskPolicies(model: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aegis-policies-'));
  await cp('policies', dir, { recursive: true });
  const cfg = JSON.parse(await readFile(join(dir, 'sentinelnet.json'), 'utf8'));
  cfg.riskTiers.models = { [model]: 'high' };
  await writeFile(join(dir, 'sentinelnet.json'), JSON.stringify(cfg));
  return dir;
}

/** Real time plus an offset the test moves forward: expiry is tested by advancing it, never by sleeping. */
export class ShiftedClock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/**
 * A serving warmer for blue-green tests (startStack's `warmer`): records every warm-up and
 * answers all its requests, or fails at `failAt` (request n, or the load at 0) for the models
 * in `failing`.
 */
export class FakeWarmer implements ServingWarmer {
  readonly calls: WarmUpRequest[] = [];
  readonly failing = new Set<string>();
  constructor(public failAt = 3) {}
  async warmUp(w: WarmUpRequest): Promise<WarmUpResult> {
    this.calls.push(w);
    if (!this.failing.has(w.modelName)) return { ok: true, answered: w.requests, requests: w.requests, inputs: 'synthetic' };
    const reason =
      this.failAt === 0 ? `loading ${w.artifactId} failed: digest mismatch` : `request ${this.failAt} of ${w.requests}: model error`;
    return { ok: false, answered: Math.max(0, this.failAt - 1), requests: w.requests, inputs: 'synthetic', reason };
  }
}

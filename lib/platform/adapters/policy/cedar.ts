import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { canonicalJson, sha256Hex } from '../../../kernel/canonical.js';
import { AegisError } from '../../../kernel/errors.js';
import {
  ENGINE_RULES,
  POLICY_STRATEGIES,
  PolicyConfigSchema,
  REASON_PLACEHOLDER,
  compareMetric,
  failClosed,
  renderReason,
  riskTierFor,
  type PolicyConfig,
  type PolicyDecision,
  type PolicyInput,
  type PolicyStrategy,
  type RiskTier,
} from '../../../kernel/policy.js';
import type { PolicyEngine } from '../../ports/policy.js';
import { systemClock, type Clock } from '../../ports/clock.js';

/**
 * The request shape the policies are written against. Policies are validated against it at
 * load, so a misspelt attribute fails startup instead of silently never matching (Cedar
 * skips a policy whose evaluation errors, which for a forbid would fail open).
 */
const SCHEMA = `namespace Aegis {
  entity User = { role: String };
  entity Artifact = { modelName: String, version: String, signerId: String, codeRef: String, riskTier: String };
  type Metric = { comparable: Bool, candidateMissing: Bool, candidate: Long, production: Long, tolerance: Long };
  type Canary = { passedRequestsPerArm: Long, requiredRequestsPerArm: Long };
  type Request = { operation: String, targetEnv: String, manifestSignatureValid: Bool, canaryCompleted: Bool,
                   critical: Bool, hasProduction: Bool, metric: Metric, canary: Canary, servedBefore: Bool,
                   evidenceMismatch: Bool, quarantined: Bool, quarantineRollback: Bool, strategy: String,
                   shadowRequired: Bool };
  action promote, rollback, quarantine, release, requireMultisig appliesTo { principal: User, resource: Artifact, context: Request };
}`;

/** The facts a policy's `@reason` may name as `{placeholder}`. */
const FACTS = [
  'artifactId',
  'modelName',
  'version',
  'targetEnv',
  'operation',
  'role',
  'requesterId',
  'riskTier',
  'metric',
  'candidateMetric',
  'productionMetric',
  'tolerance',
  'threshold',
  'approvers',
  'canaryRequests',
  'requiredRequests',
  'evidence',
  'strategy',
] as const;
type Facts = Record<(typeof FACTS)[number], string>;

/** A policy or config file: where it came from (for error messages) and its text. */
export interface PolicySource {
  path: string;
  text: string;
}

type Evaluation = { ok: true; allowed: boolean; rules: string[] } | { ok: false; error: string };

const invalid = (file: string, message: string): AegisError =>
  new AegisError('CONFIG_INVALID', `${file}: ${message}`, { details: { file } });

/** `line:col` (1-based) of a byte offset; Cedar reports byte offsets into the text. */
function lineCol(text: string, byteOffset: number): string {
  const before = Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8').split('\n');
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}

const describe = (errors: cedar.DetailedError[]): string =>
  errors.map((e) => [e.message, e.sourceLocations?.[0]?.label, e.help].filter(Boolean).join(' — ')).join('; ');

/**
 * SentinelNet embedded: the Cedar policies in `policies/sentinelnet.cedar` with the values in
 * `policies/sentinelnet.json`, parsed, validated and preparsed once; each decision is one or
 * two in-memory Cedar evaluations (the gate, then the multisig pass when the gate allows).
 *
 * @example
 * const engine = await CedarPolicyEngine.load('policies');
 * const d = await engine.decide(input); // { decision: 'deny', rules: ['prod-requires-completed-canary'], … }
 */
export class CedarPolicyEngine implements PolicyEngine {
  readonly config: PolicyConfig;
  /** sha256 of JCS `{ config, policies }`: the parsed config and the exact policy text */
  readonly policySetSha256: string;
  private readonly psetId: string;
  private readonly reasons = new Map<string, string>();
  private readonly order = new Map<string, number>();
  private readonly clock: Clock;

  /** Reads `sentinelnet.cedar` and `sentinelnet.json` from `dir`; CONFIG_INVALID naming the file when either is bad. */
  static async load(dir = 'policies', opts: { clock?: Clock } = {}): Promise<CedarPolicyEngine> {
    const read = async (name: string): Promise<PolicySource> => {
      const file = path.join(dir, name);
      try {
        return { path: file, text: await readFile(file, 'utf8') };
      } catch (e) {
        throw new AegisError('CONFIG_INVALID', `${file}: cannot read: ${(e as Error).message}`, { details: { file }, cause: e });
      }
    };
    const [policies, config] = await Promise.all([read('sentinelnet.cedar'), read('sentinelnet.json')]);
    return new CedarPolicyEngine({ policies, config }, opts);
  }

  constructor(sources: { policies: PolicySource; config: PolicySource }, opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.config = parseConfig(sources.config);
    const { path: file, text } = sources.policies;
    this.policySetSha256 = sha256Hex(canonicalJson({ config: this.config, policies: text }));

    const parts = cedar.policySetTextToParts(text);
    if (parts.type === 'failure') {
      const at = parts.errors[0]?.sourceLocations?.[0]?.start;
      throw invalid(at === undefined ? file : `${file}:${lineCol(text, at)}`, describe(parts.errors));
    }
    const byId: Record<string, string> = {};
    const startOf = new Map<string, number>();
    parts.policies.forEach((policy, i) => {
      const start = Buffer.byteLength(text.slice(0, Math.max(0, text.indexOf(policy))));
      const where = `${file}:${lineCol(text, start)}`;
      const json = cedar.policyToJson(policy);
      if (json.type === 'failure') throw invalid(where, describe(json.errors));
      const { id, reason } = json.json.annotations ?? {};
      if (!id) throw invalid(where, 'policy has no @id("…") annotation');
      if (byId[id] !== undefined) throw invalid(where, `duplicate policy id "${id}"`);
      if (Object.values<string>(ENGINE_RULES).includes(id)) throw invalid(where, `policy id "${id}" is reserved for the engine`);
      if (!reason) throw invalid(where, `policy "${id}" has no @reason("…") annotation`);
      for (const [, name] of reason.matchAll(REASON_PLACEHOLDER)) {
        if (!(FACTS as readonly string[]).includes(name!))
          throw invalid(where, `policy "${id}": unknown placeholder {${name}} in @reason (known: ${FACTS.join(', ')})`);
      }
      byId[id] = policy;
      startOf.set(id, start);
      this.reasons.set(id, reason);
      this.order.set(id, i);
    });
    if (parts.policy_templates.length > 0) throw invalid(file, 'policy templates are not supported');

    const validation = cedar.validate({ schema: SCHEMA, policies: { staticPolicies: byId }, validationSettings: { mode: 'strict' } });
    if (validation.type === 'failure') throw invalid(file, describe(validation.errors));
    const first = validation.validationErrors[0];
    if (first) {
      const at = (startOf.get(first.policyId) ?? 0) + (first.error.sourceLocations?.[0]?.start ?? 0);
      throw invalid(`${file}:${lineCol(text, at)}`, `policy "${first.policyId}": ${describe([first.error])}`);
    }

    // Content-addressed: preparsed sets live in wasm thread-local storage for the process's life.
    this.psetId = `sentinelnet:${this.policySetSha256}`;
    const preparsed = cedar.preparsePolicySet(this.psetId, { staticPolicies: byId });
    if (preparsed.type === 'failure') throw invalid(file, describe(preparsed.errors));
  }

  async decide(input: PolicyInput): Promise<PolicyDecision> {
    const meta = { engine: 'cedar', policySetSha256: this.policySetSha256, evaluatedAt: this.clock.now().toISOString() } as const;
    try {
      const { request, facts } = this.request(input);
      const gate = this.evaluate(request, input.action);
      if (!gate.ok) return failClosed(ENGINE_RULES.engineError, gate.error, meta);
      if (!gate.allowed) {
        if (gate.rules.length === 0) return failClosed(ENGINE_RULES.noPermit, 'no policy permits this request', meta);
        return { decision: 'deny', ...this.explain(gate.rules, facts), ...meta };
      }
      const multisig = this.evaluate(request, 'requireMultisig');
      if (!multisig.ok) return failClosed(ENGINE_RULES.engineError, multisig.error, meta);
      // Only permits count in pass 2: a matching forbid there merely means "no multisig".
      if (multisig.allowed) {
        const { threshold, approvers } = this.config.multisig;
        return { decision: 'require_multisig', ...this.explain(multisig.rules, facts), threshold, approvers, ...meta };
      }
      return { decision: 'allow', ...this.explain(gate.rules, facts), ...meta };
    } catch (e) {
      return failClosed(ENGINE_RULES.engineError, `policy evaluation failed: ${(e as Error).message}`, meta);
    }
  }

  /** Entities and context for Cedar, plus the display facts for reasons. */
  private request(input: PolicyInput) {
    const { artifact, requester } = input;
    const riskTier = riskTierFor(this.config.riskTiers, artifact.modelName, input.riskTier);
    const metric = compareMetric(artifact.metrics, input.production?.metrics, this.config.metric);
    const required = this.config.canary.minRequestsPerArm;
    // Cedar Longs: clamp to a safe integer; a missing or malformed count is no canary at all.
    const passed =
      Number.isSafeInteger(input.canaryPassedRequestsPerArm) && input.canaryPassedRequestsPerArm > 0 ? input.canaryPassedRequestsPerArm : 0;
    const problems = Array.isArray(input.evidenceProblems) ? input.evidenceProblems : [];
    const principal = { type: 'Aegis::User', id: requester.id };
    const resource = { type: 'Aegis::Artifact', id: artifact.artifactId };
    const entities: cedar.Entities = [
      { uid: principal, attrs: { role: requester.role }, parents: [] },
      {
        uid: resource,
        attrs: {
          modelName: artifact.modelName,
          version: artifact.version,
          signerId: artifact.signerId,
          codeRef: artifact.codeRef,
          riskTier,
        },
        parents: [],
      },
    ];
    const request = {
      principal,
      resource,
      entities,
      context: {
        operation: input.action,
        targetEnv: input.targetEnv,
        manifestSignatureValid: input.artifact.manifestSignatureValid === true,
        canaryCompleted: passed >= required,
        critical: input.critical === true,
        hasProduction: input.production !== null,
        metric: { ...metric },
        canary: { passedRequestsPerArm: passed, requiredRequestsPerArm: required },
        servedBefore: input.servedBefore === true,
        evidenceMismatch: problems.length > 0,
        quarantined: input.quarantined === true,
        quarantineRollback: input.quarantineRollback === true,
        strategy: strategyOf(input),
        shadowRequired: this.config.shadow.requiredForHighRiskProd,
      },
    };
    return { request, facts: factsOf(input, this.config, { riskTier, passed, problems }) };
  }

  private evaluate(request: ReturnType<CedarPolicyEngine['request']>['request'], action: string): Evaluation {
    const answer = cedar.statefulIsAuthorized({
      ...request,
      action: { type: 'Aegis::Action', id: action },
      preparsedPolicySetId: this.psetId,
    });
    if (answer.type === 'failure') return { ok: false, error: `policy evaluation failed: ${describe(answer.errors)}` };
    const { decision, diagnostics } = answer.response;
    // Cedar ignores a policy whose evaluation errored; a skipped forbid must not become an allow.
    const err = diagnostics.errors[0];
    if (err) return { ok: false, error: `policy "${err.policyId}" failed to evaluate: ${err.error.message}` };
    const rules = [...diagnostics.reason].sort((a, b) => (this.order.get(a) ?? 0) - (this.order.get(b) ?? 0));
    return { ok: true, allowed: decision === 'allow', rules };
  }

  private explain(rules: string[], facts: Facts) {
    return { rules, reasons: rules.map((id) => renderReason(this.reasons.get(id) ?? id, facts)) };
  }
}

/** The request's strategy; a rollback, quarantine or release, and a request naming none, is `canary`. */
const strategyOf = (input: PolicyInput): PolicyStrategy =>
  input.action === 'promote' && (POLICY_STRATEGIES as readonly unknown[]).includes(input.strategy) ? input.strategy! : 'canary';

function parseConfig({ path: file, text }: PolicySource): PolicyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(file, `not valid JSON: ${(e as Error).message}`);
  }
  const parsed = PolicyConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(file, `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The request's facts as text, for the `{placeholder}`s of a policy's `@reason`. */
function factsOf(input: PolicyInput, config: PolicyConfig, d: { riskTier: RiskTier; passed: number; problems: string[] }): Facts {
  const { artifact, requester } = input;
  const show = (v: number | undefined) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : 'missing');
  return {
    artifactId: artifact.artifactId,
    modelName: artifact.modelName,
    version: artifact.version,
    targetEnv: input.targetEnv,
    operation: input.action,
    role: requester.role,
    requesterId: requester.id,
    riskTier: d.riskTier,
    metric: config.metric.name,
    candidateMetric: show(artifact.metrics[config.metric.name]),
    productionMetric: show(input.production?.metrics[config.metric.name]),
    tolerance: String(config.metric.tolerance),
    threshold: String(config.multisig.threshold),
    approvers: String(config.multisig.approvers),
    canaryRequests: String(d.passed),
    requiredRequests: String(config.canary.minRequestsPerArm),
    evidence: d.problems.join('; ') || 'none',
    strategy: strategyOf(input),
  };
}

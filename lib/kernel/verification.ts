import { manifestSha256, provenanceProblems, TrainingManifest } from './manifest.js';
import { checkSignerValidity, manifestStatement, statementBytes, verifyRaw, type KeyRecord, type SignatureRecord } from './signatures.js';

export type CheckName =
  | 'manifest-schema'
  | 'artifact-sha256'
  | 'artifact-size'
  | 'baselineSha256'
  | 'manifest-registered'
  | 'signature'
  | 'signer'
  | 'provenance';

/** A drift baseline to check against the manifest's `baselineSha256`: its sha256 (null: not found, see `problem`) and where it came from. */
export interface BaselineEvidence {
  sha256: string | null;
  /** `artifact`: read from the artifact's bytes; `file`: a baseline file the caller gave */
  source: 'artifact' | 'file';
  /** for the reason, e.g. "baseline.json in the artifact", or the file's path */
  from: string;
  problem?: string;
}

export interface Check {
  check: CheckName;
  ok: boolean;
  /** why it failed, for a person */
  reason?: string;
  expected?: string | number;
  actual?: string | number;
}

export interface VerificationReport {
  ok: boolean;
  artifactId: string | null;
  signerId: string | null;
  checks: Check[];
  /** the artifact is quarantined (then `ok` is false whatever the checks say) */
  quarantined?: { requestId: string; reason: string; quarantinedBy: string; quarantinedAt: string };
}

export interface VerificationInput {
  manifest: unknown;
  signature: SignatureRecord | undefined;
  /** the signer's key ring entry (undefined when unknown) */
  key: KeyRecord | undefined;
  /** sha256/size of the stored (or local) bytes, when they were read */
  bytes?: { sha256: string; size: number };
  /** the manifest hash the registry recorded, when the manifest came from elsewhere */
  registeredManifestSha256?: string;
  /**
   * baselines read for this manifest (from the artifact, or files a caller gave): each must
   * match a `baselineSha256`; none given, no `baselineSha256` check (the bytes were not read)
   */
  baselines?: BaselineEvidence[];
}

const pass = (check: CheckName): Check => ({ check, ok: true });
const fail = (check: CheckName, reason: string, extra: Partial<Check> = {}): Check => ({ check, ok: false, reason, ...extra });

/**
 * The `baselineSha256` check: every baseline read must be the pinned one. An artifact without
 * a pin (older manifests) is not checked; a baseline file given for a manifest without a pin fails.
 */
function baselineCheck(pinned: string | undefined, evidence: readonly BaselineEvidence[]): Check | undefined {
  const read = pinned === undefined ? evidence.filter((e) => e.source === 'file') : evidence;
  if (read.length === 0) return undefined;
  if (pinned === undefined) return fail('baselineSha256', `the manifest pins no baseline, so ${read[0]!.from} cannot be verified`);
  const bad = read.find((e) => e.sha256 !== pinned);
  if (!bad) return pass('baselineSha256');
  return fail(
    'baselineSha256',
    bad.sha256 === null
      ? `${bad.from}: ${bad.problem ?? 'not found'}, but the manifest pins baselineSha256`
      : `${bad.from} does not match the manifest's baselineSha256: the baseline was swapped or edited`,
    { expected: pinned, actual: bad.sha256 ?? 'missing' },
  );
}

/**
 * Pure verification of a manifest, its signature, the signer's validity and (when given)
 * the artifact bytes. Every check runs, so the report names every problem at once.
 */
export function verifyManifest(input: VerificationInput): VerificationReport {
  const checks: Check[] = [];
  const parsed = TrainingManifest.safeParse(input.manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    checks.push(fail('manifest-schema', `${issue.path.join('.') || 'manifest'}: ${issue.message}`));
    return { ok: false, artifactId: null, signerId: input.signature?.signerId ?? null, checks };
  }
  const m = parsed.data;
  checks.push(pass('manifest-schema'));

  if (input.bytes) {
    checks.push(
      input.bytes.sha256 === m.artifactSha256
        ? pass('artifact-sha256')
        : fail('artifact-sha256', 'sha256 of the artifact bytes does not match the manifest', {
            expected: m.artifactSha256,
            actual: input.bytes.sha256,
          }),
    );
    checks.push(
      input.bytes.size === m.artifactSize
        ? pass('artifact-size')
        : fail('artifact-size', 'size of the artifact bytes does not match the manifest', {
            expected: m.artifactSize,
            actual: input.bytes.size,
          }),
    );
  }

  const baseline = baselineCheck(m.baselineSha256, input.baselines ?? []);
  if (baseline) checks.push(baseline);

  const mSha = manifestSha256(m);
  if (input.registeredManifestSha256 !== undefined) {
    checks.push(
      input.registeredManifestSha256 === mSha
        ? pass('manifest-registered')
        : fail('manifest-registered', 'manifest differs from the one registered for this artifact', {
            expected: input.registeredManifestSha256,
            actual: mSha,
          }),
    );
  }

  const sig = input.signature;
  if (!sig) {
    checks.push(fail('signature', 'no signature found for this manifest'));
  } else if (!input.key) {
    checks.push(fail('signature', `signer ${sig.signerId} is not in the key ring, so the signature cannot be checked`));
  } else if (sig.alg !== input.key.alg) {
    checks.push(fail('signature', `signature algorithm ${sig.alg} does not match key ${input.key.kid} (${input.key.alg})`));
  } else {
    const ok = verifyRaw(sig.alg, input.key.publicKey, statementBytes(manifestStatement(m, sig)), sig.signature);
    checks.push(
      ok ? pass('signature') : fail('signature', `signature does not verify under ${input.key.kid}: the manifest or signature was altered`),
    );
  }
  if (sig) {
    const validity = checkSignerValidity(input.key, sig.ts, 'manifest');
    checks.push(validity.ok ? pass('signer') : fail('signer', `${sig.signerId}: ${validity.reason}`));
  }

  const problems = provenanceProblems(m);
  checks.push(problems.length === 0 ? pass('provenance') : fail('provenance', problems.join('; ')));

  return { ok: checks.every((c) => c.ok), artifactId: m.artifactId, signerId: sig?.signerId ?? null, checks };
}

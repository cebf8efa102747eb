/**
 * Acceptance sign-off: what `aegis signoff` signs and how `aegis signoff verify` judges one
 * signature (no I/O; the git and file checks are the CLI's).
 */
import { canonicalBytes } from './canonical.js';
import { checkSignerValidity, signoffPurpose, verifyRaw, type KeyRecord, type SignatureAlg, type SignoffRole } from './signatures.js';

/** Binds the release commit, the acceptance report (by its sha256), the role, the signer and the time. */
export interface SignoffStatement {
  type: 'aegis.acceptance-signoff/v1';
  role: SignoffRole;
  release: string;
  reportSha256: string;
  signerId: string;
  ts: string;
}

/** The content of `signoffs/<role>.sig`. */
export interface SignoffRecord {
  statement: SignoffStatement;
  alg: SignatureAlg;
  /** base64 Ed25519 over the canonical statement */
  signature: string;
}

export const signoffBytes = (s: SignoffStatement): Buffer => canonicalBytes(s);

/**
 * The mismatches of one sign-off against what it must bind (empty: it holds). `role` is the
 * file's role (`<role>.sig`); `key` the signer's entry in the trusted key ring.
 */
export function signoffProblems(
  rec: SignoffRecord,
  expect: { role: SignoffRole; release: string; reportSha256: string },
  key: KeyRecord | undefined,
): string[] {
  const s = rec.statement;
  const problems: string[] = [];
  if (s.role !== expect.role) problems.push(`role: the statement is signed for ${s.role}, not ${expect.role}`);
  if (s.release !== expect.release) problems.push(`release: signed for commit ${s.release}, not ${expect.release}`);
  if (s.reportSha256 !== expect.reportSha256)
    problems.push(`report: signed report sha256 ${s.reportSha256} is not the report's ${expect.reportSha256}`);
  const validity = checkSignerValidity(key, s.ts, signoffPurpose(expect.role));
  if (!validity.ok) problems.push(`signer: ${s.signerId}: ${validity.reason}`);
  else if (!verifyRaw(rec.alg, key!.publicKey, signoffBytes(s), rec.signature))
    problems.push(`signature: does not verify under ${s.signerId} for this statement`);
  return problems;
}

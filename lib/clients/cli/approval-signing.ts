/** How `aegis approve` and `aegis quarantine approve` sign: the approval statement, locally, with the approver's private key; only the signature leaves. */
import { createPrivateKey, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { approvalBytes, approvalStatement } from '../../kernel/approvals.js';
import { CliError } from './context.js';

function durationMs(s: string): number {
  const m = /^(\d+)(m|h|d)$/.exec(s);
  if (!m) throw new CliError(`--expires-in ${s}: use e.g. 30m, 24h, 7d`, 2);
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}

/**
 * The approval body `{ approverId, signature, expiresAt }` for `subject` (a promotion, or a
 * quarantine request with `quarantine:<action>` as its target), signed with the Ed25519 key in
 * `o.key`, valid for `o.expiresIn` (e.g. 24h). Names what it approves on stderr first.
 */
export async function signApproval(
  subject: { promotionId: string; artifactId: string; manifestSha256: string; targetEnv: string },
  o: { key: string; kid: string; expiresIn: string },
  what: string,
): Promise<{ approverId: string; signature: string; expiresAt: string }> {
  const expiresAt = new Date(Date.now() + durationMs(o.expiresIn)).toISOString();
  let key;
  try {
    key = createPrivateKey(await readFile(o.key, 'utf8'));
  } catch (e) {
    throw new CliError(`cannot read an Ed25519 private key from ${o.key}: ${(e as Error).message}`);
  }
  process.stderr.write(
    `aegis: approving ${what} (artifact ${subject.artifactId}, manifest ${subject.manifestSha256.slice(0, 12)}…) until ${expiresAt}\n`,
  );
  const signature = sign(null, approvalBytes(approvalStatement(subject, expiresAt)), key).toString('base64');
  return { approverId: o.kid, signature, expiresAt };
}

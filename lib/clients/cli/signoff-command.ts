import { createPrivateKey, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { Option, type Command } from 'commander';
import { canonicalJson, canonicalSha256, sha256Hex } from '../../kernel/canonical.js';
import { SIGNOFF_ROLES, type KeyRecord, type SignoffRole } from '../../kernel/signatures.js';
import { signoffBytes, signoffProblems, type SignoffRecord, type SignoffStatement } from '../../kernel/signoff.js';
import { KeysReply } from '../../platform/http/schemas.js';
import { CliError, readJsonFile, type CliContext } from './context.js';
import { changedOutside, commitSha, isAncestorOfHead, repoRoot } from './git.js';
import { readKeyRing } from './publish-commands.js';

/** Where sign-offs and the report they sign live, relative to the top of the working tree. */
const DIR = 'signoffs';
const REPORT = `${DIR}/acceptance-report.json`;

const SignoffFile = z
  .object({
    statement: z
      .object({
        type: z.literal('aegis.acceptance-signoff/v1'),
        role: z.enum(SIGNOFF_ROLES),
        release: z.string().regex(/^[0-9a-f]{40,64}$/),
        reportSha256: z.string().regex(/^[0-9a-f]{64}$/),
        signerId: z.string().min(1),
        ts: z.iso.datetime({ offset: true }),
      })
      .strict(),
    alg: z.literal('ed25519'),
    signature: z.base64(),
  })
  .strict();

/** The report's sha256 (of its bytes), after checking that it passed and, when it carries its own sha256, that it matches. */
function passedReportSha256(path: string): string {
  const report = readJsonFile(path, 'report');
  if (report.passed !== true) throw new CliError(`report ${path} did not pass: only a passing acceptance report is signed off`);
  const { sha256, ...body } = report;
  if (sha256 !== undefined && sha256 !== canonicalSha256(body))
    throw new CliError(`report ${path}: its sha256 field is not the sha256 of its content: it was edited after the run`);
  return sha256Hex(readFileSync(path));
}

function readSignoff(path: string): SignoffRecord | string {
  if (!existsSync(path)) return 'missing';
  let raw: Record<string, unknown>;
  try {
    raw = readJsonFile(path, 'sign-off');
  } catch (e) {
    return (e as Error).message;
  }
  const parsed = SignoffFile.safeParse(raw);
  if (!parsed.success) return `${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`;
  return parsed.data as SignoffRecord;
}

/** Every mismatch of the sign-offs in `root` against the working tree, the report and the key ring. */
function verifyProblems(root: string, reportPath: string, ring: KeyRecord[]): string[] {
  const problems: string[] = [];
  let reportSha256 = '';
  try {
    reportSha256 = passedReportSha256(reportPath);
  } catch (e) {
    problems.push(`report: ${(e as Error).message}`);
  }
  const keys = new Map(ring.map((k) => [k.kid, k]));
  const releases = new Set<string>();
  for (const role of SIGNOFF_ROLES) {
    const rec = readSignoff(join(root, DIR, `${role}.sig`));
    if (typeof rec === 'string') {
      problems.push(`${role}: ${DIR}/${role}.sig: ${rec}`);
      continue;
    }
    const release = rec.statement.release;
    releases.add(release);
    const expect = { role, release, reportSha256: reportSha256 || rec.statement.reportSha256 };
    problems.push(...signoffProblems(rec, expect, keys.get(rec.statement.signerId)).map((p) => `${role}: ${p}`));
    if (!commitSha(root, release)) problems.push(`${role}: release: commit ${release} is not in this repository`);
    else if (!isAncestorOfHead(root, release)) problems.push(`${role}: release: commit ${release} is not an ancestor of HEAD`);
    else {
      const changed = changedOutside(root, release, DIR);
      if (changed.length)
        problems.push(
          `${role}: release: ${changed.length} path(s) outside ${DIR}/ changed since ${release}: ${changed.slice(0, 5).join(', ')}`,
        );
    }
  }
  if (releases.size > 1) problems.push(`release: the sign-offs name different commits: ${[...releases].join(', ')}`);
  return problems;
}

/** `aegis signoff …` (sign an acceptance report for a release) and `aegis signoff verify`. */
export function signoffCommands(program: Command, ctx: CliContext): void {
  const signoff = program
    .command('signoff')
    .description(`sign a passing acceptance report off for a release commit: writes ${DIR}/<role>.sig (and ${REPORT})`)
    .addOption(new Option('--role <role>', 'the sign-off role').choices(SIGNOFF_ROLES))
    .option('--key <file>', 'your Ed25519 private key (PEM, from aegis keys generate)')
    .option('--kid <id>', 'your key id, enrolled with aegis keys add --role <role>')
    .option('--report <file>', `the acceptance report (aegis acceptance --out); with verify, the signed report (default ${REPORT})`)
    .option('--release <commit>', 'the release commit the report was made on')
    .action((o: { role?: SignoffRole; key?: string; kid?: string; report?: string; release?: string }) => {
      const missing = (['role', 'key', 'kid', 'report', 'release'] as const).filter((f) => !o[f]);
      if (missing.length) throw new CliError(`signoff needs ${missing.map((f) => `--${f}`).join(', ')}`, 2);
      const root = repoRoot(process.cwd());
      const release = commitSha(root, o.release!);
      if (!release) throw new CliError(`--release ${o.release}: not a commit of ${root}`, 2);
      const reportSha256 = passedReportSha256(o.report!);
      let key;
      try {
        key = createPrivateKey(readFileSync(o.key!, 'utf8'));
      } catch (e) {
        throw new CliError(`cannot read an Ed25519 private key from ${o.key}: ${(e as Error).message}`);
      }
      const copy = join(root, REPORT);
      if (resolve(o.report!) !== copy) {
        if (existsSync(copy) && sha256Hex(readFileSync(copy)) !== reportSha256)
          throw new CliError(`${REPORT} holds another report: sign that one, or remove it to sign a new release`);
        mkdirSync(join(root, DIR), { recursive: true });
        writeFileSync(copy, readFileSync(o.report!));
      }
      const statement: SignoffStatement = {
        type: 'aegis.acceptance-signoff/v1',
        role: o.role!,
        release,
        reportSha256,
        signerId: o.kid!,
        ts: new Date().toISOString(),
      };
      const record: SignoffRecord = { statement, alg: 'ed25519', signature: sign(null, signoffBytes(statement), key).toString('base64') };
      const out = join(root, DIR, `${o.role}.sig`);
      writeFileSync(out, `${canonicalJson(record)}\n`);
      ctx.out(`signed off release ${release} as ${o.role} (report ${reportSha256.slice(0, 12)}…): ${out}`, record);
    });

  signoff
    .command('verify')
    .description(
      `check both sign-offs in ${DIR}/: release an ancestor of HEAD with nothing outside ${DIR}/ changed since, report, signers (exit 1 naming each mismatch)`,
    )
    .option('--trusted-keys <file>', 'the key ring to trust (GET /v1/keys output); default: fetched from the API')
    .action(async (o: { trustedKeys?: string }) => {
      // --report is the parent's option (commander gives it to `signoff` wherever it stands)
      const report = signoff.opts<{ report?: string }>().report;
      const root = repoRoot(process.cwd());
      const ring = o.trustedKeys
        ? readKeyRing(o.trustedKeys)
        : (KeysReply.parse(await (await ctx.client()).request('GET', '/v1/keys')).keys as KeyRecord[]);
      const problems = verifyProblems(root, report ?? join(root, REPORT), ring);
      const head = problems.length ? `signoff verify: ${problems.length} mismatch(es)` : `signoff verify: ok (${SIGNOFF_ROLES.join(', ')})`;
      ctx.out([head, ...problems.map((p) => `  ${p}`)].join('\n'), { ok: problems.length === 0, problems });
      if (problems.length) process.exitCode = 1;
    });
}

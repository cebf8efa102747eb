import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseJsonStrict } from '../../kernel/json.js';
import { TeamName } from '../../kernel/identity.js';
import { LIMITS } from '../../kernel/manifest.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import { KeysReply } from '../../platform/http/schemas.js';
import { formatReport } from '../http/format.js';
import { publishFolder, verifyFolder, type PublishEntry } from '../publish/publish.js';
import { CliError, type CliContext } from './context.js';

const DEFAULT_DIR = 'model_registry';

/** `--trusted-keys`: the `GET /v1/keys` reply kept out of band (or a bare array of its keys). */
export function readKeyRing(path: string): KeyRecord[] {
  let raw: unknown;
  try {
    raw = parseJsonStrict(readFileSync(path, 'utf8'), { maxDepth: LIMITS.jsonDepth });
  } catch (e) {
    throw new CliError(`--trusted-keys ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 2);
  }
  const parsed = KeysReply.safeParse(Array.isArray(raw) ? { keys: raw } : raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(`--trusted-keys ${path}: ${issue.path.join('.') || '(the file)'}: ${issue.message}`, 2);
  }
  return parsed.data.keys as KeyRecord[];
}

const line = (e: PublishEntry) => {
  const what = {
    registered: `registered v${e.version}  ${e.artifactId}`,
    'would-register': 'would register',
    'already-published': `already published as v${e.version}  ${e.artifactId}`,
    refused: `REFUSED: ${e.problems?.join('; ')}`,
  }[e.action];
  return `  ${e.folder}  ${what}`;
};

/** publish, verify-folder: the GitOps flow over a `model_registry/` folder. */
export function publishCommands(program: Command, ctx: CliContext): void {
  program
    .command('publish [dir]')
    .description(
      `register every <model>/<label>/ folder under DIR (default ${DEFAULT_DIR}) that has no metadata.json yet, in natural order, and write its metadata.json`,
    )
    .option('--dry-run', 'list what would be registered; registers nothing and calls no API', false)
    .option('--team <team>', 'the team label a model gets when this run registers its first version; a model of another team is refused')
    .action(async (dir: string | undefined, o: { dryRun: boolean; team?: string }) => {
      const root = dir ?? DEFAULT_DIR;
      if (o.team !== undefined) {
        const checked = TeamName.safeParse(o.team);
        if (!checked.success) throw new CliError(`--team ${o.team}: ${checked.error.issues[0]!.message}`, 2);
      }
      const reporter = ctx.reporter();
      const r = await publishFolder(root, {
        api: () => ctx.client(),
        registryUrl: ctx.globals.url ?? ctx.cfg.url,
        dryRun: o.dryRun,
        team: o.team,
        reporter,
        multipart: ctx.multipart(reporter),
      });
      const published = r.folders.filter((f) => f.action === 'already-published').length;
      const summary = !r.ok
        ? `REFUSED: ${r.folders.filter((f) => f.action === 'refused').length} folder(s) do not match their ${'metadata.json'} or are not valid; nothing registered`
        : r.dryRun
          ? `dry run: ${r.folders.length - published} folder(s) would be registered, ${published} already published`
          : r.registered
            ? `registered ${r.registered} folder(s), ${published} already published`
            : `nothing to register: all ${published} folder(s) already published`;
      const header = `${root}: ${r.folders.length} folder(s)${r.team ? `, new models get team ${r.team}` : ''}`;
      ctx.out([header, ...r.folders.map(line), summary].join('\n'), r);
      if (!r.ok) process.exitCode = 1;
    });

  program
    .command('verify-folder [dir]')
    .description(
      `check every metadata.json under DIR (default ${DEFAULT_DIR}) offline: artifact bytes, manifest.json, signature and signer against the key ring`,
    )
    .option('--trusted-keys <file>', 'the key ring (GET /v1/keys output) kept out of band; without it the ring is fetched from the API')
    .action(async (dir: string | undefined, o: { trustedKeys?: string }) => {
      const root = dir ?? DEFAULT_DIR;
      const ring = o.trustedKeys
        ? readKeyRing(o.trustedKeys)
        : (await (await ctx.client()).request<{ keys: KeyRecord[] }>('GET', '/v1/keys')).keys;
      const results = await verifyFolder(root, ring, ctx.reporter());
      const failed = results.filter((r) => r.status === 'failed');
      const lines = results.map((r) => {
        if (r.status === 'unpublished') return `${r.folder}: unpublished (no metadata.json)`;
        if (!r.report) return `${r.folder}: FAILED ${r.problems?.join('; ')}`;
        return `${r.folder}: ${formatReport(r.report)}`;
      });
      const trust = o.trustedKeys
        ? `key ring pinned by ${o.trustedKeys}`
        : 'key ring fetched from the API (not pinned: pass --trusted-keys)';
      const summary = `${failed.length ? `FAILED ${failed.map((r) => r.folder).join(', ')}` : 'VERIFIED'}: ${results.length} folder(s), ${trust}`;
      ctx.out([...lines, summary].join('\n'), { ok: failed.length === 0, pinned: Boolean(o.trustedKeys), folders: results });
      if (failed.length) process.exitCode = 1;
    });
}

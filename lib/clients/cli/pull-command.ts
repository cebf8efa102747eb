import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { KeyRecord } from '../../kernel/signatures.js';
import { verifyManifest, type Check } from '../../kernel/verification.js';
import { downloadFile } from '../http/download.js';
import { ApiError } from '../http/client.js';
import type { DownloadReply, KeysReply } from '../../platform/http/schemas.js';
import { CliError, readJsonFile, type CliContext } from './context.js';

interface PullOptions {
  artifactId?: string;
  model?: string;
  version?: string;
  env?: string;
  variant?: string;
  out: string;
  trustedKeys?: string;
}

/** The download route the options name (exactly one way of naming an artifact). */
function downloadPath(o: PullOptions): string {
  if (o.variant && !o.env) throw new CliError('--variant goes with --env', 2);
  if (o.artifactId && !o.model && !o.version && !o.env) return `/v1/artifacts/${encodeURIComponent(o.artifactId)}/download`;
  const model = o.model && !o.artifactId ? `/v1/registry/models/${encodeURIComponent(o.model)}` : undefined;
  if (model && o.version && !o.env) return `${model}/versions/${encodeURIComponent(o.version)}/download`;
  if (model && o.env && !o.version)
    return `${model}/environments/${encodeURIComponent(o.env)}/download${o.variant ? `?variant=${encodeURIComponent(o.variant)}` : ''}`;
  throw new CliError('give --artifact-id ID, or --model M with --version V or --env E', 2);
}

function trustedKeys(path: string): KeyRecord[] {
  const raw = readJsonFile(path, 'trusted keys') as { keys?: KeyRecord[] };
  if (!Array.isArray(raw.keys)) throw new CliError(`--trusted-keys ${path}: expected the GET /v1/keys reply ({ "keys": [...] })`, 2);
  return raw.keys;
}

/** Every check the pulled bytes must pass: the signed manifest's hash and size, its signature, the signer's window, the id asked for. */
function checksFor(ticket: DownloadReply, ring: KeyRecord[], bytes: { sha256: string; size: number }): Check[] {
  const a = ticket.artifact;
  const report = verifyManifest({
    manifest: a.manifest,
    signature: a.signature,
    key: ring.find((k) => k.kid === a.signature.signerId),
    bytes,
  });
  const checks = report.checks.filter((c) => c.check !== 'provenance');
  if (report.artifactId !== a.artifactId)
    checks.push({ check: 'manifest-registered', ok: false, reason: `the manifest names ${report.artifactId}, not ${a.artifactId}` });
  return checks;
}

/** fsync, then rename into place: `out` holds either nothing new or the whole verified file. */
async function moveIntoPlace(part: string, out: string): Promise<void> {
  const fh = await open(part, 'r');
  await fh.sync().finally(() => fh.close());
  await rename(part, out);
}

/** aegis pull: a registered artifact's bytes, verified against its signed manifest and the key ring before they land at --out. */
export function pullCommand(program: Command, ctx: CliContext): void {
  program
    .command('pull')
    .description(
      'download an artifact and verify it (sha256, size, manifest signature, signer window) before moving it to --out; resumes an interrupted download',
    )
    .option('--artifact-id <id>', 'the artifact')
    .option('--model <name>', 'the model (with --version)')
    .option('--version <n>', 'the version of --model')
    .option('--env <env>', 'the artifact serving --model in this environment (stable unless --variant canary)')
    .option('--variant <v>', 'with --env: stable (default) or canary')
    .requiredOption('--out <path>', 'where the verified file goes')
    .option('--trusted-keys <file>', 'the key ring to trust (GET /v1/keys output); default: fetched from the API')
    .action(async (o: PullOptions) => {
      const path = downloadPath(o);
      const api = await ctx.client();
      const ticket = await api.request<DownloadReply>('GET', path);
      const ring = o.trustedKeys ? trustedKeys(o.trustedKeys) : (await api.request<KeysReply>('GET', '/v1/keys')).keys;
      const out = resolve(o.out);
      // beside --out, so the final rename stays on one filesystem; kept when a transfer breaks, to resume
      const part = join(dirname(out), `.${basename(out)}.${ticket.artifact.artifactId}.part`);
      const reporter = ctx.reporter();
      let bytes: { sha256: string; size: number };
      try {
        bytes = await downloadFile(api, ticket.url, part, {
          expectedSize: ticket.artifact.size,
          onProgress: ticket.artifact.size > 8 * 1024 * 1024 ? (d, t) => reporter.bytes('downloading', d, t) : undefined,
        });
      } catch (e) {
        if (e instanceof ApiError && e.status >= 400 && e.status < 500) await unlink(part).catch(() => undefined);
        throw new CliError(`${(e as Error).message} (nothing written to ${o.out}; run again to resume)`);
      }
      const failed = checksFor(ticket, ring, bytes).filter((c) => !c.ok);
      if (failed.length > 0) {
        await unlink(part).catch(() => undefined);
        const lines = failed.map((c) => `  FAIL ${c.check}: ${c.reason ?? ''}`);
        throw new CliError(`refused ${ticket.artifact.artifactId}: nothing written to ${o.out}\n${lines.join('\n')}`);
      }
      await moveIntoPlace(part, out);
      const a = ticket.artifact;
      ctx.out(
        `pulled ${a.modelName} v${a.version} (${a.artifactId}) to ${o.out}\n  sha256 ${bytes.sha256}  verified, signed by ${a.signature.signerId}`,
        {
          artifactId: a.artifactId,
          modelName: a.modelName,
          version: a.version,
          sha256: bytes.sha256,
          size: bytes.size,
          signerId: a.signature.signerId,
          out,
        },
      );
    });
}

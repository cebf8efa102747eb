import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { bytes, formatReport } from '../http/format.js';
import { registerArtifact, registerDatasets, verifyingReporter } from '../http/registration.js';
import { artifactEvidence, hashArtifact } from '../../kernel/artifact-baseline.js';
import { verifyManifest } from '../../kernel/verification.js';
import { hashFile } from '../../kernel/file-hash.js';
import { datasetChecksum } from '../training/dataset-checksum.js';
import type {
  ArtifactReply,
  DatasetReply,
  ModelsReply,
  ModelTeamReply,
  VerificationReply,
  VersionsReply,
} from '../../platform/http/schemas.js';
import { CliError, readJsonFile, type CliContext } from './context.js';

/** register, get, list, verify-manifest, set-team, datasets. */
export function registryCommands(program: Command, ctx: CliContext): void {
  program
    .command('register')
    .description(
      'register an artifact with its training manifest (its datasets must be registered): at most 3 MiB in one request, larger ones uploaded first',
    )
    .requiredOption('--model <name>', 'model name')
    .requiredOption('--artifact <file>', 'artifact file')
    .requiredOption(
      '--manifest <file>',
      "training manifest JSON (artifactSha256/artifactSize/createdAt are filled in when absent; createdAt from the artifact file's mtime, so a retry replays)",
    )
    .option('--team <team>', "the new model's team label (scoped grants name teams); a later registration must agree")
    .option('--idempotency-key <key>', 'repeat-safe key: the same key returns the first result')
    .option(
      '--multipart-threshold <bytes>',
      'upload files larger than this in resumable parts (AEGIS_MULTIPART_THRESHOLD, default 64 MiB; always above 5 GiB); an interrupted upload resumes when the same command runs again',
    )
    .option('--upload-id <id>', 'resume this multipart upload (default: the one remembered for these bytes under AEGIS_STATE_DIR)')
    .action(
      async (o: {
        model: string;
        artifact: string;
        manifest: string;
        team?: string;
        idempotencyKey?: string;
        multipartThreshold?: string;
        uploadId?: string;
      }) => {
        if (o.multipartThreshold !== undefined && !/^\d+$/.test(o.multipartThreshold))
          throw new CliError(`--multipart-threshold must be a number of bytes, not ${o.multipartThreshold}`, 2);
        const manifest = readJsonFile(o.manifest, 'manifest');
        const { size, mtime } = await stat(o.artifact).then(
          (s) => s,
          (e: NodeJS.ErrnoException) => {
            throw new CliError(`cannot read artifact ${o.artifact}: ${e.code}`);
          },
        );
        if (manifest.modelName !== undefined && manifest.modelName !== o.model)
          throw new CliError(`--model ${o.model} differs from manifest.modelName ${String(manifest.modelName)}`);
        const { sha256 } = await hashFile(o.artifact);
        if (manifest.artifactSha256 !== undefined && manifest.artifactSha256 !== sha256) {
          throw new CliError(`artifact sha256 ${sha256} differs from manifest.artifactSha256 ${String(manifest.artifactSha256)}`);
        }
        const full = {
          ...manifest,
          modelName: o.model,
          artifactSha256: sha256,
          artifactSize: size,
          createdAt: manifest.createdAt ?? mtime.toISOString(),
        };
        const reporter = ctx.reporter();
        const res = await registerArtifact(await ctx.client(), {
          modelName: o.model,
          artifactPath: o.artifact,
          manifest: full,
          team: o.team,
          idempotencyKey: o.idempotencyKey,
          onProgress: size > 8 * 1024 * 1024 ? (d, t) => reporter.bytes('uploading', d, t) : undefined,
          multipart: ctx.multipart(reporter, {
            ...(o.multipartThreshold !== undefined && { threshold: Number(o.multipartThreshold) }),
            uploadId: o.uploadId,
          }),
          onVerifying: verifyingReporter(reporter),
        });
        ctx.out(
          `${res.replayed ? 'already registered' : 'registered'} ${o.model} v${res.version}\n  artifactId          ${res.artifactId}\n  manifestSignatureId ${res.manifestSignatureId}\n  signerId            ${res.signerId}`,
          res,
        );
      },
    );

  program
    .command('get <artifactId>')
    .description('show an artifact record with its manifest and signature')
    .action(async (id: string) => {
      const r = await (await ctx.client()).request<ArtifactReply>('GET', `/v1/artifacts/${encodeURIComponent(id)}`);
      ctx.out(
        `${r.modelName} v${r.version}  ${bytes(r.size)}\n  sha256   ${r.sha256}\n  codeRef  ${r.manifest.codeRef}\n  signer   ${r.signature.signerId}\n  created  ${r.createdAt} by ${r.createdBy}`,
        r,
      );
    });

  program
    .command('list')
    .description('list models, or the versions of one model')
    .option('--model <name>', 'list the versions of this model')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <c>', 'nextCursor of the previous page')
    .action(async (o: { model?: string; limit: string; cursor?: string }) => {
      const api = await ctx.client();
      const q = new URLSearchParams({ limit: o.limit, ...(o.cursor ? { cursor: o.cursor } : {}) });
      const more = (c: string | null) => (c ? [`  more: --cursor ${c}`] : []);
      if (o.model) {
        const r = await api.request<VersionsReply>('GET', `/v1/registry/models/${encodeURIComponent(o.model)}/versions?${q}`);
        ctx.out(
          [
            `${o.model}: ${r.items.length} version(s)`,
            ...r.items.map((v) => `  v${v.version}  ${v.artifactId}  ${v.sha256.slice(0, 12)}  ${v.createdAt}`),
            ...more(r.nextCursor),
          ].join('\n'),
          r,
        );
      } else {
        const r = await api.request<ModelsReply>('GET', `/v1/registry/models?${q}`);
        ctx.out(
          [
            `${r.items.length} model(s)`,
            ...r.items.map((m) => `  ${m.name}  latest v${m.latestVersion}${m.team ? `  team ${m.team}` : ''}`),
            ...more(r.nextCursor),
          ].join('\n'),
          r,
        );
      }
    });

  program
    .command('verify-manifest')
    .description('verify a registered artifact (--artifact-id) or a manifest file (--manifest [--artifact FILE])')
    .option('--artifact-id <id>', 'verify the registered artifact: stored bytes, signature, signer, provenance')
    .option('--manifest <file>', 'a manifest JSON file to verify against the registry')
    .option('--signature <file>', 'a signature record JSON (default: the registered one)')
    .option('--artifact <file>', 'also check a local artifact file against the manifest')
    .action(async (o: { artifactId?: string; manifest?: string; signature?: string; artifact?: string }) => {
      if (!o.artifactId === !o.manifest) throw new CliError('give exactly one of --artifact-id or --manifest', 2);
      const api = await ctx.client();
      let report: VerificationReply;
      if (o.artifactId) {
        report = await api.request<VerificationReply>('GET', `/v1/artifacts/${encodeURIComponent(o.artifactId)}/validate`);
      } else {
        const manifest = readJsonFile(o.manifest!, 'manifest');
        const signature = o.signature ? readJsonFile(o.signature, 'signature') : undefined;
        report = await api.request<VerificationReply>('POST', '/v1/registry/verify-manifest', {
          manifest,
          ...(signature ? { signature } : {}),
        });
        if (o.artifact) {
          const { baseline, ...hashed } = await hashArtifact(createReadStream(o.artifact, { highWaterMark: 1024 * 1024 }), {
            baseline: true,
          });
          const byteChecks = verifyManifest({
            manifest,
            signature: undefined,
            key: undefined,
            bytes: hashed,
            ...(baseline ? { baselines: [artifactEvidence(baseline)] } : {}),
          }).checks.filter((c) => c.check.startsWith('artifact-') || c.check === 'baselineSha256');
          report.checks.unshift(...byteChecks);
          report.ok = report.ok && byteChecks.every((c) => c.ok);
        }
      }
      ctx.out(formatReport(report), report);
      if (!report.ok) process.exitCode = 1;
    });

  program
    .command('set-team <model> [team]')
    .description("set a model's team label (admin with a global scope); without a team, clear it")
    .action(async (model: string, team: string | undefined) => {
      const path = `/v1/registry/models/${encodeURIComponent(model)}/team`;
      const r = await (await ctx.client()).request<ModelTeamReply>('PUT', path, { team: team ?? null });
      ctx.out(`${r.name}: team ${r.team ?? '(none)'} (was ${r.previous ?? '(none)'})`, r);
    });

  const datasets = program.command('datasets').description('the dataset registry');
  datasets
    .command('register')
    .description('register a dataset version; its checksum is computed from --path')
    .requiredOption('--id <id>', 'dataset id')
    .requiredOption('--version <v>', 'dataset version')
    .requiredOption('--path <path>', 'the dataset file or folder')
    .option('--uri <uri>', 'where it lives (default: the file:// URL of --path)')
    .option('--schema <file>', 'a JSON object describing its columns')
    .action(async (o: { id: string; version: string; path: string; uri?: string; schema?: string }) => {
      const reporter = ctx.reporter();
      const { checksum, totalBytes, files } = await datasetChecksum(o.path, {
        onProgress: (d, t) => reporter.bytes(`hashing ${o.id}`, d, t),
      });
      const schema = o.schema ? readJsonFile(o.schema, 'schema') : undefined;
      const uri = o.uri ?? pathToFileURL(resolve(o.path)).href;
      const [r] = await registerDatasets(await ctx.client(), [
        { id: o.id, version: o.version, checksum, uri, ...(schema ? { schema } : {}) },
      ]);
      ctx.out(
        `${r!.replayed ? 'already registered' : 'registered'} dataset ${o.id}@${o.version}\n  checksum ${checksum}\n  ${files.length} file(s), ${bytes(totalBytes)}\n  uri      ${uri}`,
        { id: o.id, version: o.version, checksum, uri, replayed: r!.replayed },
      );
    });
  datasets
    .command('get <id> <version>')
    .description('a registered dataset version')
    .action(async (id: string, version: string) => {
      const r = await (
        await ctx.client()
      ).request<DatasetReply>('GET', `/v1/datasets/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}`);
      ctx.out(`${id}@${version}\n  checksum ${r.checksum}\n  uri      ${r.uri}\n  created  ${r.createdAt} by ${r.createdBy}`, r);
    });
}

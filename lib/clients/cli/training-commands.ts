import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { AegisClient } from '../http/client.js';
import { registerArtifact, registerDatasets, verifyingReporter } from '../http/registration.js';
import type { MultipartUploads } from '../http/multipart-upload.js';
import { parseJsonStrict } from '../../kernel/json.js';
import { LIMITS } from '../../kernel/manifest.js';
import { DatasetId, DatasetVersion } from '../../kernel/names.js';
import { runBuiltinTrainer } from '../training/builtin-trainer.js';
import { datasetChecksum } from '../training/dataset-checksum.js';
import { pushTrainingMetrics, trainingDuration } from '../training/metrics.js';
import { resolveCodeRef, resolveContainerDigest } from '../training/provenance.js';
import { recordTraining, type DatasetSpec, type Reporter } from '../training/record.js';
import { reproduce } from '../training/reproduce.js';
import type { ArtifactReply, RegisterReply } from '../../platform/http/schemas.js';
import { CliError, readJsonFile, type CliContext } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `[id[@version]=]PATH`; the id defaults to the file or folder name, the version to the checksum's first 12 hex. */
export async function parseDatasetSpecs(specs: readonly string[]): Promise<DatasetSpec[]> {
  const out: DatasetSpec[] = [];
  for (const spec of specs) {
    const m = /^(?:([^=@]+)(?:@([^=]+))?=)?(.+)$/.exec(spec)!;
    const path = m[3]!;
    const id =
      m[1] ??
      basename(path)
        .replace(/\.[^.]+$/, '')
        .replace(/[^A-Za-z0-9._-]/g, '-');
    if (!DatasetId.safeParse(id).success)
      throw new CliError(`--dataset ${spec}: id ${JSON.stringify(id)} ${DatasetId.safeParse(id).error!.issues[0]!.message}`, 2);
    let version = m[2];
    if (version === undefined) version = `sha-${(await datasetChecksum(path)).checksum.slice(7, 19)}`;
    if (!DatasetVersion.safeParse(version).success)
      throw new CliError(`--dataset ${spec}: version ${JSON.stringify(version)} is not a valid version`, 2);
    if (out.some((d) => d.id === id)) throw new CliError(`--dataset ${spec}: dataset id ${id} is given twice`, 2);
    out.push({ id, version, path });
  }
  return out;
}

async function parseHyperparams(value: string | undefined): Promise<Record<string, unknown>> {
  if (!value) return {};
  const text = value.trimStart().startsWith('{')
    ? value
    : await readFile(value, 'utf8').catch(() => {
        throw new CliError(`--hyperparams ${value}: neither a JSON object nor a readable file`, 2);
      });
  try {
    const v = parseJsonStrict(text, { maxDepth: LIMITS.jsonDepth });
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new CliError(`--hyperparams: ${(e as Error).message}`, 2);
  }
}

function parseSeed(s: string): number {
  if (!/^\d{1,10}$/.test(s) || Number(s) > 2 ** 32 - 1) throw new CliError(`--seed ${s}: must be an integer in [0, 4294967295]`, 2);
  return Number(s);
}

/** train --record, reproduce, builtin-train. */
export function trainingCommands(program: Command, ctx: CliContext): void {
  program
    .command('train')
    .description('run a training command with a fixed seed and record everything that influences the artifact')
    .option('--record', 'record a training manifest (always on; the flag is accepted for clarity)', true)
    .requiredOption('--model <name>', 'model name')
    .option('--dataset <spec>', 'dataset as [id[@version]=]PATH (file or folder); repeatable', collect, [])
    .option('--cmd <command>', 'the training command (run with sh -c); default: the built-in trainer')
    .option('--hyperparams <json-or-file>', 'hyperparameters: a JSON object or a file holding one')
    .option('--seed <n>', 'random seed, passed as AEGIS_SEED, PYTHONHASHSEED, SEED', '0')
    .option('--out <dir>', 'where the command writes its output (must be empty)', 'aegis-out/model')
    .option('--artifact <file>', 'the packed artifact (default: <out>.tar.gz)')
    .option('--manifest-out <file>', 'where to write the training manifest (default: <out>.manifest.json)')
    .option('--register', 'register datasets and the artifact with the registry', false)
    .option('--code-ref <ref>', 'what the code is (default: git HEAD of the current folder)')
    .option('--allow-dirty', 'allow uncommitted changes (recorded as environment.gitDirty)', false)
    .option('--container-digest <digest>', 'image digest sha256:<64 hex> (default: CONTAINER_DIGEST)')
    .action(
      async (o: {
        model: string;
        dataset: string[];
        cmd?: string;
        hyperparams?: string;
        seed: string;
        out: string;
        artifact?: string;
        manifestOut?: string;
        register: boolean;
        codeRef?: string;
        allowDirty: boolean;
        containerDigest?: string;
      }) => {
        if (o.dataset.length === 0) throw new CliError('at least one --dataset is needed', 2);
        const reporter = ctx.reporter();
        const cwd = process.cwd();
        const out = resolve(o.out);
        const artifactPath = resolve(o.artifact ?? `${out}.tar.gz`);
        const manifestPath = resolve(o.manifestOut ?? `${out}.manifest.json`);
        const seed = parseSeed(o.seed);
        const hyperparams = await parseHyperparams(o.hyperparams);
        const containerDigest = resolveContainerDigest(o.containerDigest ?? ctx.cfg.containerDigest);
        const code = await resolveCodeRef(cwd, { given: o.codeRef, allowDirty: o.allowDirty });
        const datasets = await parseDatasetSpecs(o.dataset);
        const stop = trainingDuration.startTimer({ model: o.model });
        let result;
        try {
          await mkdir(dirname(artifactPath), { recursive: true });
          result = await recordTraining({
            modelName: o.model,
            datasets,
            cmd: o.cmd,
            hyperparams,
            seed,
            code,
            containerDigest,
            outDir: out,
            artifactPath,
            cwd,
            reporter,
          });
          stop({ outcome: 'success' });
        } catch (e) {
          stop({ outcome: 'failure' });
          throw e;
        } finally {
          if (ctx.cfg.promEndpoint) {
            const problem = await pushTrainingMetrics(ctx.cfg.promEndpoint, o.model);
            if (problem) reporter.step(problem);
          }
        }
        // Written before registering, so a failed registration still leaves the record behind.
        await writeFile(manifestPath, `${JSON.stringify(result.manifest, null, 2)}\n`);
        let registration: RegisterReply | undefined;
        if (o.register) {
          const api = await ctx.client();
          ({ registration } = await registerRecorded(api, reporter, {
            modelName: o.model,
            datasets: result.manifest.datasetRefs,
            artifactPath,
            manifest: result.manifest,
            manifestPath,
            multipart: ctx.multipart(reporter),
          }));
        }
        const summary = {
          artifactPath,
          manifestPath,
          artifactSha256: result.manifest.artifactSha256,
          artifactSize: result.manifest.artifactSize,
          datasetChecksums: result.datasetChecksums,
          durationSeconds: result.durationSeconds,
          registration: registration ?? null,
        };
        ctx.out(
          [
            `artifact ${artifactPath}`,
            `  sha256   ${summary.artifactSha256}`,
            `  manifest ${manifestPath}`,
            ...(registration
              ? [`  registered ${o.model} v${registration.version} (${registration.artifactId}), signed by ${registration.signerId}`]
              : []),
          ].join('\n'),
          summary,
        );
      },
    );

  program
    .command('reproduce')
    .description('re-run a recorded training run and compare codeRef, container, datasets and artifact bytes')
    .requiredOption('--manifest <file>', 'the training manifest')
    .option('--dataset <id=path>', 'where a dataset is now (default: the recorded file:// uri); repeatable', collect, [])
    .option('--container-digest <digest>', 'the image this runs in (default: CONTAINER_DIGEST)')
    .option('--out <dir>', 'work folder for the rebuilt artifact (default: a temp folder)')
    .action(async (o: { manifest: string; dataset: string[]; containerDigest?: string; out?: string }) => {
      const manifest = readJsonFile(o.manifest, 'manifest') as never;
      const datasetPaths: Record<string, string> = {};
      for (const spec of o.dataset) {
        const i = spec.indexOf('=');
        if (i < 1) throw new CliError(`--dataset ${spec}: expected id=path`, 2);
        datasetPaths[spec.slice(0, i)] = resolve(spec.slice(i + 1));
      }
      const digest = o.containerDigest ?? ctx.cfg.containerDigest;
      const report = await reproduce({
        manifest,
        datasetPaths,
        containerDigest: digest,
        cwd: process.cwd(),
        ...(o.out ? { outDir: resolve(o.out) } : {}),
        reporter: ctx.reporter(),
      });
      const lines = [report.ok ? `REPRODUCED  artifact sha256 ${report.artifactSha256}` : 'DIFFERS'];
      for (const d of report.differences)
        lines.push(
          `  ${d.what}${d.subject ? ` ${d.subject}` : ''}: ${d.reason}`,
          `      expected ${d.expected}`,
          `      actual   ${d.actual}`,
        );
      for (const n of report.notes) lines.push(`  note: ${n}`);
      ctx.out(lines.join('\n'), report);
      if (!report.ok) process.exitCode = 1;
    });

  program
    .command('builtin-train')
    .description('the built-in trainer (logistic regression on CSV), as train runs it when no --cmd is given')
    .requiredOption('--data <path>', 'CSV file, or a folder with train.csv')
    .requiredOption('--out <dir>', 'output folder')
    .option('--seed <n>', 'random seed', '0')
    .option('--hyperparams <json-or-file>', 'hyperparameters (target, learningRate, epochs, l2, holdoutFraction, batchSize, features)')
    .action(async (o: { data: string; out: string; seed: string; hyperparams?: string }) => {
      const { metrics } = await runBuiltinTrainer({
        datasets: [{ id: 'train', path: o.data }],
        outDir: resolve(o.out),
        seed: parseSeed(o.seed),
        hyperparams: await parseHyperparams(o.hyperparams),
        onProgress: (m) => ctx.reporter().step(m),
      });
      ctx.out(
        `accuracy ${metrics.accuracy.toFixed(4)}  auc ${metrics.auc === null ? 'n/a' : metrics.auc.toFixed(4)}  logLoss ${metrics.logLoss.toFixed(4)}`,
        metrics,
      );
    });
}

/**
 * A recorded training run registered: its dataset versions, then the artifact; the stored
 * manifest (with what the registry added) read back over `manifestPath`. `train --record` and
 * `retrain` register this way.
 */
export async function registerRecorded(
  api: AegisClient,
  reporter: Reporter,
  o: {
    modelName: string;
    datasets: readonly { id: string; version: string; checksum: string; uri?: string | undefined }[];
    artifactPath: string;
    manifest: Record<string, unknown>;
    manifestPath: string;
    /** large artifacts in resumable parts (see `registerArtifact`) */
    multipart?: MultipartUploads | undefined;
  },
): Promise<{ registration: RegisterReply; manifest: Record<string, unknown> }> {
  reporter.step('registering datasets');
  await registerDatasets(
    api,
    o.datasets.map((r) => ({ id: r.id, version: r.version, checksum: r.checksum, uri: r.uri! })),
  );
  reporter.step('uploading and registering the artifact');
  const registration = await registerArtifact(api, {
    modelName: o.modelName,
    artifactPath: o.artifactPath,
    manifest: o.manifest,
    onProgress: (d, t) => reporter.bytes('uploading', d, t),
    multipart: o.multipart,
    onVerifying: verifyingReporter(reporter),
  });
  const manifest = (await api.request<ArtifactReply>('GET', `/v1/artifacts/${encodeURIComponent(registration.artifactId)}`)).manifest;
  await writeFile(o.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { registration, manifest };
}

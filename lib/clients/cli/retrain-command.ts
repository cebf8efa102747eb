import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ApiError } from '../http/client.js';
import { ManifestParent, type TrainingManifest } from '../../kernel/manifest.js';
import { Uuid } from '../../kernel/names.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import { verifyManifest } from '../../kernel/verification.js';
import { resolveCodeRef } from '../training/provenance.js';
import { BUILTIN_TRAINING_CMD, recordTraining, type TrainingResult } from '../training/record.js';
import { formatRetrainDiff, keptDatasetProblems, planDatasets, retrainDiff } from '../training/retrain.js';
import type { ArtifactReply, DriftSuggestionReply, RegisterReply } from '../../platform/http/schemas.js';
import { CliError, type CliContext } from './context.js';
import { parseDatasetSpecs, registerRecorded } from './training-commands.js';

interface RetrainOptions {
  from?: string;
  suggestion?: string;
  dataset: string[];
  out: string;
  register: boolean;
  codeRef?: string;
  allowDirty: boolean;
  containerDigest?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Options checked before anything is fetched or run: ids, the dataset specs' form. */
function checkOptions(o: RetrainOptions): void {
  if (o.from === undefined && o.suggestion === undefined) throw new CliError('give --from, --suggestion or both', 2);
  if (o.from !== undefined && !Uuid.safeParse(o.from).success) throw new CliError(`--from ${o.from}: must be an artifact id (a UUID)`, 2);
  if (o.suggestion !== undefined) {
    const link = ManifestParent.shape.suggestionId.safeParse(o.suggestion);
    if (!link.success) throw new CliError(`--suggestion ${JSON.stringify(o.suggestion)}: ${link.error.issues[0]!.message}`, 2);
  }
  if (o.dataset.length === 0) throw new CliError('at least one --dataset id@version=PATH is needed (the datasets that changed)', 2);
  for (const spec of o.dataset)
    if (!/^[^=@]+@[^=]+=.+$/.test(spec))
      throw new CliError(`--dataset ${spec}: expected id@version=PATH (the id names the parent's dataset)`, 2);
}

/**
 * The parent and its link: `--from`, or the serving artifact of the `--suggestion` (fetched);
 * given both, they must name the same artifact.
 */
async function parentLink(ctx: CliContext, o: RetrainOptions): Promise<ManifestParent> {
  if (o.suggestion === undefined) return { artifactId: o.from! };
  let suggestion: DriftSuggestionReply['suggestion'];
  try {
    suggestion = (
      await (await ctx.client()).request<DriftSuggestionReply>('GET', `/v1/drift/suggestions/${encodeURIComponent(o.suggestion)}`)
    ).suggestion;
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 400))
      throw new CliError(`--suggestion ${o.suggestion}: no such retrain suggestion — nothing was trained or registered`);
    throw e;
  }
  if (o.from !== undefined && o.from !== suggestion.servingArtifactId)
    throw new CliError(
      `--from ${o.from} is not the artifact --suggestion ${o.suggestion} was raised for (${suggestion.servingArtifactId}): give one of them, or both naming the same artifact`,
      2,
    );
  return { artifactId: suggestion.servingArtifactId, suggestionId: o.suggestion };
}

/** The parent's record, its manifest checked against its signature and the published key ring before anything is run from it. */
async function fetchParent(ctx: CliContext, artifactId: string): Promise<ArtifactReply> {
  const api = await ctx.client();
  let parent: ArtifactReply;
  try {
    parent = await api.request<ArtifactReply>('GET', `/v1/artifacts/${encodeURIComponent(artifactId)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404)
      throw new CliError(`--from ${artifactId}: no such artifact in the registry — nothing was trained or registered`);
    throw e;
  }
  const { keys } = await api.request<{ keys: KeyRecord[] }>('GET', '/v1/keys');
  const report = verifyManifest({
    manifest: parent.manifest,
    signature: parent.signature,
    key: keys.find((k) => k.kid === parent.signature.signerId),
    registeredManifestSha256: parent.manifestSha256,
  });
  const bad = report.checks.filter((c) => !c.ok);
  if (bad.length)
    throw new CliError(
      `--from ${artifactId}: the parent's manifest does not verify (${bad.map((c) => `${c.check}${c.reason ? `: ${c.reason}` : ''}`).join('; ')}) — nothing was trained`,
    );
  return parent;
}

/** The container the parent ran in is recorded; a different one given here is refused (it would be a false record). */
function containerOf(parent: TrainingManifest, given: string | undefined): string {
  if (given !== undefined && given !== parent.containerDigest)
    throw new CliError(
      `container digest ${given} is not the parent's ${parent.containerDigest}: retrain in the parent's image (or unset CONTAINER_DIGEST)`,
    );
  return parent.containerDigest;
}

async function retrain(ctx: CliContext, o: RetrainOptions): Promise<void> {
  checkOptions(o);
  const given = await parseDatasetSpecs(o.dataset);
  const link = await parentLink(ctx, o);
  const parent = (await fetchParent(ctx, link.artifactId)).manifest;
  const datasets = await planDatasets(parent.datasetRefs, given);
  const containerDigest = containerOf(parent, o.containerDigest ?? ctx.cfg.containerDigest);
  const cwd = process.cwd();
  const code = await resolveCodeRef(cwd, { given: o.codeRef, allowDirty: o.allowDirty });
  const out = resolve(o.out);
  const artifactPath = `${out}.tar.gz`;
  const manifestPath = `${out}.manifest.json`;
  const reporter = ctx.reporter();
  await mkdir(dirname(artifactPath), { recursive: true });
  reporter.step(`retraining ${parent.modelName} from ${parent.artifactId}: ${parent.trainingCmd} (seed ${parent.seed})`);
  const result: TrainingResult = await recordTraining({
    modelName: parent.modelName,
    datasets,
    cmd: parent.trainingCmd === BUILTIN_TRAINING_CMD ? undefined : parent.trainingCmd,
    hyperparams: parent.hyperparams,
    seed: parent.seed,
    code,
    containerDigest,
    outDir: out,
    artifactPath,
    cwd,
    reporter,
  });
  const kept = datasets.filter((d) => !given.some((g) => g.id === d.id)).map((d) => d.id);
  const changed = keptDatasetProblems(parent.datasetRefs, kept, result.datasetChecksums);
  if (changed.length) throw new CliError(`${changed.join('; ')} — nothing was registered`);
  const manifest: Record<string, unknown> = { ...result.manifest, parent: link };
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  let registration: RegisterReply | undefined;
  if (o.register) {
    const api = await ctx.client();
    // the new dataset versions only: the kept ones are registered already
    ({ registration } = await registerRecorded(api, reporter, {
      modelName: parent.modelName,
      datasets: result.manifest.datasetRefs.filter((r) => !kept.includes(r.id)),
      artifactPath,
      manifest,
      manifestPath,
      multipart: ctx.multipart(reporter),
    }));
  }
  const diff = retrainDiff(parent, result.manifest);
  const summary = {
    artifactId: registration?.artifactId ?? null,
    parent: link,
    artifactPath,
    manifestPath,
    artifactSha256: result.manifest.artifactSha256,
    registration: registration ?? null,
    diff,
  };
  ctx.out(
    [
      registration
        ? `registered ${parent.modelName} v${registration.version}: ${registration.artifactId}, retrained from ${parent.artifactId}`
        : `not registered (--no-register); retrained from ${parent.artifactId}`,
      `  sha256   ${summary.artifactSha256}`,
      `  manifest ${manifestPath}`,
      ...(link.suggestionId ? [`  suggestion ${link.suggestionId}`] : []),
      ...formatRetrainDiff(diff),
    ].join('\n'),
    summary,
  );
}

/** aegis retrain: the parent's recorded training run again, with new dataset versions, registered with manifest.parent. */
export function retrainCommand(program: Command, ctx: CliContext): void {
  program
    .command('retrain')
    .description(
      "re-run a registered artifact's training (command or built-in trainer, hyperparameters, seed, container) with new dataset versions and register the result with manifest.parent",
    )
    .option(
      '--from <artifactId>',
      "the parent artifact (its manifest is fetched from the registry); default: the --suggestion's serving artifact",
    )
    .option(
      '--suggestion <id>',
      'the retrain suggestion this answers (fetched): its serving artifact is the parent; recorded as manifest.parent.suggestionId',
    )
    .option('--dataset <spec>', "id@version=PATH replacing the parent's dataset of that id; repeatable", collect, [])
    .option(
      '--out <dir>',
      'output folder (must be empty); the artifact is <out>.tar.gz, the manifest <out>.manifest.json',
      'aegis-out/retrain',
    )
    .option('--no-register', 'train and write the manifest, but register nothing')
    .option('--code-ref <ref>', 'what the code is (default: git HEAD of the current folder)')
    .option('--allow-dirty', 'allow uncommitted changes (recorded as environment.gitDirty)', false)
    .option('--container-digest <digest>', "the image this runs in (default: CONTAINER_DIGEST); must be the parent's")
    .action((o: RetrainOptions) => retrain(ctx, o));
}

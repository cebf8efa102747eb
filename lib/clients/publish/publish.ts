/** `aegis publish` and `aegis verify-folder` over a `model_registry/` folder (see folders.ts). */
import type { KeyRecord } from '../../kernel/signatures.js';
import type { VerificationReport } from '../../kernel/verification.js';
import type { ArtifactReply } from '../../platform/http/schemas.js';
import type { AegisClient } from '../http/client.js';
import { registerArtifact, verifyingReporter } from '../http/registration.js';
import type { MultipartUploads } from '../http/multipart-upload.js';
import type { Reporter } from '../training/record.js';
import {
  filledManifest,
  listFolders,
  METADATA_FILE,
  prepareArtifact,
  readJsonIn,
  withScratch,
  type ModelFolder,
  type PreparedArtifact,
} from './folders.js';
import { driftOf, metadataOf, parseMetadata, verifyPublished, writeMetadata, type PublishMetadata } from './metadata.js';

interface FolderState {
  folder: ModelFolder;
  artifact?: PreparedArtifact;
  manifest?: Record<string, unknown>;
  meta?: PublishMetadata;
  /** new: no metadata.json; published: it matches; invalid: see problems */
  status: 'new' | 'published' | 'invalid';
  problems: string[];
}

async function stateOf(folder: ModelFolder, scratch: string): Promise<FolderState> {
  try {
    const artifact = await prepareArtifact(folder, scratch);
    const manifest = await filledManifest(folder, artifact);
    const raw = await readJsonIn(folder, METADATA_FILE);
    if (!raw) return { folder, artifact, manifest, status: 'new', problems: [] };
    const { meta, problem } = parseMetadata(raw);
    if (!meta) return { folder, artifact, manifest, status: 'invalid', problems: [problem!] };
    const drift = driftOf(folder, meta, artifact, manifest);
    return { folder, artifact, manifest, meta, status: drift.length ? 'invalid' : 'published', problems: drift };
  } catch (e) {
    return { folder, status: 'invalid', problems: [(e as Error).message.replace(`${folder.name}: `, '')] };
  }
}

async function statesOf(dir: string, scratch: string, reporter: Reporter): Promise<FolderState[]> {
  const states: FolderState[] = [];
  for (const folder of await listFolders(dir)) {
    reporter.step(`hashing ${folder.name}`);
    states.push(await stateOf(folder, scratch));
  }
  return states;
}

export interface PublishEntry {
  folder: string;
  action: 'registered' | 'would-register' | 'already-published' | 'refused';
  version?: number;
  artifactId?: string;
  sha256?: string;
  problems?: string[];
}

export interface PublishReport {
  dir: string;
  dryRun: boolean;
  /** `--team`: the team label a model gets when this run's registration creates it */
  team?: string;
  ok: boolean;
  registered: number;
  folders: PublishEntry[];
}

const entryOf = (s: FolderState, dryRun: boolean): PublishEntry => {
  const base = { folder: s.folder.name, ...(s.artifact ? { sha256: s.artifact.sha256 } : {}) };
  if (s.status === 'invalid') return { ...base, action: 'refused', problems: s.problems };
  if (s.status === 'published') return { ...base, action: 'already-published', version: s.meta!.version, artifactId: s.meta!.artifactId };
  return { ...base, action: dryRun ? 'would-register' : 'registered' };
};

/**
 * Registers every folder without a `metadata.json`, in natural order, and writes its
 * `metadata.json`. A folder that no longer matches its `metadata.json` (or is not a valid
 * folder) refuses the whole run before anything is registered. A registration interrupted
 * before its `metadata.json` was written replays on the next run (same bytes and manifest).
 */
export async function publishFolder(
  dir: string,
  o: {
    api?: () => Promise<AegisClient>;
    registryUrl: string;
    dryRun: boolean;
    team?: string | undefined;
    reporter: Reporter;
    /** large artifacts in resumable parts (see `registerArtifact`) */
    multipart?: MultipartUploads | undefined;
  },
): Promise<PublishReport> {
  return withScratch(async (scratch) => {
    const states = await statesOf(dir, scratch, o.reporter);
    const entries = states.map((s) => entryOf(s, o.dryRun));
    const ok = states.every((s) => s.status !== 'invalid');
    const team = o.team === undefined ? {} : { team: o.team };
    if (!ok || o.dryRun) return { dir, dryRun: o.dryRun, ...team, ok, registered: 0, folders: entries };
    let registered = 0;
    for (const [i, s] of states.entries()) {
      if (s.status !== 'new') continue;
      o.reporter.step(`registering ${s.folder.name}`);
      const api = await o.api!();
      const res = await registerArtifact(api, {
        modelName: s.folder.model,
        artifactPath: s.artifact!.path,
        manifest: s.manifest!,
        // sets the team when this registration creates the model; the registry refuses a model of another team (409 naming team)
        team: o.team,
        onProgress: (d, t) => o.reporter.bytes(`uploading ${s.folder.name}`, d, t),
        multipart: o.multipart,
        onVerifying: verifyingReporter(o.reporter),
      });
      const record = await api.request<ArtifactReply>('GET', `/v1/artifacts/${encodeURIComponent(res.artifactId)}`);
      await writeMetadata(s.folder, metadataOf(s.folder, s.artifact!, record, o.registryUrl));
      entries[i] = { ...entries[i]!, version: res.version, artifactId: res.artifactId };
      registered++;
    }
    return { dir, dryRun: false, ...team, ok, registered, folders: entries };
  });
}

export interface FolderVerification {
  folder: string;
  /** unpublished: no metadata.json yet (nothing to verify) */
  status: 'verified' | 'failed' | 'unpublished';
  report?: VerificationReport;
  problems?: string[];
}

/** Checks every `metadata.json` under `dir` offline against the bytes, `manifest.json` and the key ring. */
export async function verifyFolder(dir: string, ring: readonly KeyRecord[], reporter: Reporter): Promise<FolderVerification[]> {
  return withScratch(async (scratch) => {
    const out: FolderVerification[] = [];
    for (const s of await statesOf(dir, scratch, reporter)) {
      const folder = s.folder.name;
      if (s.status === 'new') out.push({ folder, status: 'unpublished' });
      else if (!s.meta || !s.artifact) out.push({ folder, status: 'failed', problems: s.problems });
      else {
        const report = verifyPublished(s.meta, s.artifact, ring, s.problems);
        out.push({ folder, status: report.ok ? 'verified' : 'failed', report });
      }
    }
    return out;
  });
}

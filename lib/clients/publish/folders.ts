/**
 * The GitOps layout `aegis publish` and `aegis verify-folder` read: `<dir>/<model>/<label>/`,
 * each folder holding the artifact (one file, or one folder packed as `train --record` packs),
 * its training `manifest.json` and, once published, its `metadata.json`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AegisError } from '../../kernel/errors.js';
import { parseJsonStrict } from '../../kernel/json.js';
import { LIMITS, ManifestInput } from '../../kernel/manifest.js';
import { packDirectory } from '../training/pack.js';
import { hashFile } from '../../kernel/file-hash.js';

export const MANIFEST_FILE = 'manifest.json';
export const METADATA_FILE = 'metadata.json';

export interface ModelFolder {
  model: string;
  label: string;
  /** `<model>/<label>`, how reports name the folder */
  name: string;
  path: string;
}

/** The folder's artifact as it would be uploaded: a file, or a folder packed into a temporary archive. */
export interface PreparedArtifact {
  /** the file name (a packed folder: `<name>.tar.gz`) */
  name: string;
  packed: boolean;
  /** the file to upload */
  path: string;
  sha256: string;
  size: number;
}

const problem = (folder: string, message: string) => new AegisError('VALIDATION_FAILED', `${folder}: ${message}`, { field: folder });

/** Natural order: runs of digits compare as numbers (`2` before `10`), the rest by code unit. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

const visible = async (dir: string) =>
  (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.')).sort((a, b) => naturalCompare(a.name, b.name));

/** Every `<model>/<label>` folder under `dir`, models and labels in natural order. */
export async function listFolders(dir: string): Promise<ModelFolder[]> {
  let models;
  try {
    models = await visible(dir);
  } catch (e) {
    throw new AegisError('VALIDATION_FAILED', `cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      field: 'dir',
    });
  }
  const out: ModelFolder[] = [];
  for (const m of models.filter((e) => e.isDirectory())) {
    for (const l of (await visible(join(dir, m.name))).filter((e) => e.isDirectory())) {
      out.push({ model: m.name, label: l.name, name: `${m.name}/${l.name}`, path: join(dir, m.name, l.name) });
    }
  }
  return out;
}

export async function readJsonIn(folder: ModelFolder, file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(join(folder.path, file), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw problem(folder.name, `cannot read ${file}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = parseJsonStrict(text, { maxDepth: LIMITS.jsonDepth });
  } catch (e) {
    throw problem(folder.name, `${file}: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw problem(folder.name, `${file} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Hashes the folder's one artifact (packing a folder into `scratch`). */
export async function prepareArtifact(folder: ModelFolder, scratch: string): Promise<PreparedArtifact> {
  const entries = (await readdir(folder.path, { withFileTypes: true })).filter(
    (e) => !e.name.startsWith('.') && e.name !== MANIFEST_FILE && e.name !== METADATA_FILE,
  );
  if (entries.length !== 1)
    throw problem(
      folder.name,
      `expected one artifact (a file or a folder) beside ${MANIFEST_FILE}, found ${entries.length ? entries.map((e) => e.name).join(', ') : 'none'}`,
    );
  const entry = entries[0]!;
  const source = join(folder.path, entry.name);
  if (entry.isDirectory()) {
    const out = join(scratch, `${folder.model}-${folder.label}-${entry.name}.tar.gz`);
    const { sha256, size } = await packDirectory(source, out);
    return { name: `${entry.name}.tar.gz`, packed: true, path: out, sha256, size };
  }
  if (!entry.isFile()) throw problem(folder.name, `${entry.name} is neither a file nor a folder`);
  const { sha256, size } = await hashFile(source);
  return { name: entry.name, packed: false, path: source, sha256, size };
}

/** When `file` was last committed (ISO, UTC), or its modification time outside git or before its first commit. */
async function lastCommitTime(folder: ModelFolder, file: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('git', ['log', '-1', '--format=%cI', '--', file], { cwd: folder.path });
    if (stdout.trim()) return new Date(stdout.trim()).toISOString();
  } catch {
    // not a git work tree (or no git): the file's own time
  }
  return (await stat(join(folder.path, file))).mtime.toISOString();
}

/**
 * The manifest `manifest.json` stands for, filled deterministically: `modelName` from the
 * folder, the artifact's sha256 and size, `createdAt` from the manifest's last commit, so a
 * re-run sends the same manifest. Checked against the manifest schema here, naming the folder.
 */
export async function filledManifest(folder: ModelFolder, artifact: PreparedArtifact): Promise<Record<string, unknown>> {
  const m = await readJsonIn(folder, MANIFEST_FILE);
  if (!m) throw problem(folder.name, `no ${MANIFEST_FILE}`);
  if (m.modelName !== undefined && m.modelName !== folder.model)
    throw problem(folder.name, `manifest.modelName ${String(m.modelName)} differs from the folder's model ${folder.model}`);
  for (const [field, value] of [
    ['artifactSha256', artifact.sha256],
    ['artifactSize', artifact.size],
  ] as const) {
    if (m[field] !== undefined && m[field] !== value)
      throw problem(folder.name, `manifest.${field} ${String(m[field])} differs from the artifact's ${value}`);
  }
  const full = {
    ...m,
    modelName: folder.model,
    artifactSha256: artifact.sha256,
    artifactSize: artifact.size,
    metrics: m.metrics ?? {},
    createdAt: m.createdAt ?? (await lastCommitTime(folder, MANIFEST_FILE)),
  };
  const parsed = ManifestInput.safeParse(full);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw problem(folder.name, `${MANIFEST_FILE}: ${issue.path.join('.') || 'manifest'}: ${issue.message}`);
  }
  return full;
}

/** Runs `fn` with a scratch folder for packed artifacts, removed afterwards. */
export async function withScratch<T>(fn: (scratch: string) => Promise<T>): Promise<T> {
  const scratch = await mkdtemp(join(tmpdir(), 'aegis-publish-'));
  try {
    return await fn(scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

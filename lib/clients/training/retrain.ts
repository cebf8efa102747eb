/**
 * `aegis retrain`: the parent's recorded run (command or built-in trainer, hyperparameters,
 * seed, container) with some of its datasets replaced by id. The pure parts: which datasets the
 * new run reads, whether the kept ones are still what the parent read, and what changed.
 */
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { AegisError } from '../../kernel/errors.js';
import type { DatasetRef, ManifestInput, TrainingManifest } from '../../kernel/manifest.js';
import type { DatasetSpec } from './record.js';

const refused = (message: string, field = 'dataset'): AegisError => new AegisError('VALIDATION_FAILED', message, { field });

async function readable(path: string): Promise<string | undefined> {
  try {
    await stat(path);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  }
}

/**
 * The datasets of the retraining run, in the parent's order: a given dataset replaces the
 * parent's ref with its id; a parent ref not given is kept and read from its recorded `file://`
 * uri (checked afterwards by {@link keptDatasetProblems}). Refused, naming it: a given id the
 * parent was not trained on, a given path that cannot be read, a kept ref with no readable local uri.
 */
export async function planDatasets(parentRefs: readonly DatasetRef[], given: readonly DatasetSpec[]): Promise<DatasetSpec[]> {
  const known = new Set(parentRefs.map((r) => r.id));
  const unknown = given.find((g) => !known.has(g.id));
  if (unknown)
    throw refused(
      `--dataset ${unknown.id}: the parent was not trained on a dataset ${unknown.id} (its datasets: ${[...known].join(', ')}); retrain replaces datasets by id`,
    );
  const out: DatasetSpec[] = [];
  for (const ref of parentRefs) {
    const g = given.find((d) => d.id === ref.id);
    if (g) {
      const problem = await readable(g.path);
      if (problem) throw refused(`--dataset ${g.id}@${g.version}=${g.path}: cannot read ${g.path} (${problem})`);
      out.push(g);
      continue;
    }
    const path = ref.uri?.startsWith('file:') ? fileURLToPath(ref.uri) : undefined;
    const problem = path ? await readable(path) : `recorded uri ${ref.uri ?? '(none)'} is not a local file`;
    if (!path || problem)
      throw refused(
        `dataset ${ref.id}@${ref.version} is kept from the parent but cannot be read${path ? ` at ${path}` : ''} (${problem}): pass --dataset ${ref.id}@VERSION=PATH`,
      );
    out.push({ id: ref.id, version: ref.version, path });
  }
  return out;
}

/** Kept datasets must be byte for byte what the parent read (same checksum); otherwise a new version is due. */
export function keptDatasetProblems(parentRefs: readonly DatasetRef[], kept: readonly string[], now: Record<string, string>): string[] {
  return parentRefs
    .filter((r) => kept.includes(r.id) && now[r.id] !== r.checksum)
    .map(
      (r) =>
        `dataset ${r.id}@${r.version} is kept from the parent but its data changed (checksum ${now[r.id]}, recorded ${r.checksum}): pass it as --dataset ${r.id}@NEWVERSION=PATH`,
    );
}

export interface RetrainDiff {
  datasets: { id: string; from: { version: string; checksum: string }; to: { version: string; checksum: string } }[];
  /** every metric either run recorded whose value differs (null: absent in that run) */
  metrics: { name: string; from: unknown; to: unknown }[];
  codeRef?: { from: string; to: string };
}

/** What changed from the parent's manifest to the retrained one: datasets (version, checksum), metrics, codeRef. */
export function retrainDiff(parent: TrainingManifest, child: ManifestInput): RetrainDiff {
  const datasets: RetrainDiff['datasets'] = [];
  for (const to of child.datasetRefs) {
    const from = parent.datasetRefs.find((r) => r.id === to.id)!;
    if (from.version !== to.version || from.checksum !== to.checksum)
      datasets.push({
        id: to.id,
        from: { version: from.version, checksum: from.checksum },
        to: { version: to.version, checksum: to.checksum },
      });
  }
  const pm = parent.metrics;
  const cm = child.metrics ?? {};
  const names = [...new Set([...Object.keys(pm), ...Object.keys(cm)])].sort();
  const metrics = names
    .filter((n) => JSON.stringify(pm[n]) !== JSON.stringify(cm[n]))
    .map((name) => ({ name, from: pm[name] ?? null, to: cm[name] ?? null }));
  return { datasets, metrics, ...(parent.codeRef !== child.codeRef ? { codeRef: { from: parent.codeRef, to: child.codeRef } } : {}) };
}

const show = (v: unknown): string => (typeof v === 'number' ? String(Number(v.toFixed(6))) : JSON.stringify(v));
const scalar = (v: unknown): boolean => v === null || typeof v !== 'object';

/** The diff as lines for a terminal. */
export function formatRetrainDiff(d: RetrainDiff): string[] {
  const lines = ['changed from the parent:'];
  for (const x of d.datasets) lines.push(`  dataset ${x.id}: ${x.from.version} → ${x.to.version}  (${x.from.checksum} → ${x.to.checksum})`);
  for (const m of d.metrics) if (scalar(m.from) && scalar(m.to)) lines.push(`  metric ${m.name}: ${show(m.from)} → ${show(m.to)}`);
  const nested = d.metrics.filter((m) => !scalar(m.from) || !scalar(m.to)).map((m) => m.name);
  if (nested.length) lines.push(`  also changed (see --json): ${nested.join(', ')}`);
  if (d.codeRef) lines.push(`  codeRef: ${d.codeRef.from} → ${d.codeRef.to}`);
  if (lines.length === 1) lines.push('  nothing (same datasets, same metrics)');
  return lines;
}

import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildLineage } from '../../lib/kernel/lineage.js';
import { ManifestInput, TrainingManifest } from '../../lib/kernel/manifest.js';
import { verifyManifest } from '../../lib/kernel/verification.js';
import { formatRetrainDiff, keptDatasetProblems, planDatasets, retrainDiff } from '../../lib/clients/training/retrain.js';
import { sampleManifest } from '../support/manifests.js';

const base = sampleManifest('churn', 'c'.repeat(64), 10);
const parentId = randomUUID();
const issuesOf = (v: unknown) => {
  const r = ManifestInput.safeParse(v);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('manifest.parent', () => {
  it('is optional, and accepts an artifact id with or without a suggestion id', () => {
    expect(issuesOf(base)).toEqual([]);
    expect(issuesOf({ ...base, parent: { artifactId: parentId } })).toEqual([]);
    const withSuggestion = ManifestInput.parse({ ...base, parent: { artifactId: parentId, suggestionId: 'sugg 2026-11/churn#1' } });
    expect(withSuggestion.parent).toEqual({ artifactId: parentId, suggestionId: 'sugg 2026-11/churn#1' });
  });

  it('refuses a bad uuid, a bad suggestion id and unknown keys, naming the field', () => {
    expect(issuesOf({ ...base, parent: { artifactId: 'not-a-uuid' } })).toEqual(['parent.artifactId: must be a UUID']);
    expect(issuesOf({ ...base, parent: {} })).toEqual([expect.stringMatching(/^parent\.artifactId: /)]);
    expect(issuesOf({ ...base, parent: { artifactId: parentId, suggestionId: '' } })).toEqual(['parent.suggestionId: must not be empty']);
    expect(issuesOf({ ...base, parent: { artifactId: parentId, suggestionId: 'x'.repeat(129) } })).toEqual([
      'parent.suggestionId: must be at most 128 characters',
    ]);
    expect(issuesOf({ ...base, parent: { artifactId: parentId, suggestionId: 'a\nb' } })).toEqual([
      'parent.suggestionId: must be printable ASCII',
    ]);
    expect(issuesOf({ ...base, parent: { artifactId: parentId, model: 'churn' } })[0]).toMatch(/^parent: /);
    expect(issuesOf({ ...base, parent: parentId })[0]).toMatch(/^parent: /);
  });

  it('is part of the signed content: the manifest hash changes with it, and the schema check passes offline', () => {
    const m = TrainingManifest.parse({ ...base, artifactId: randomUUID(), parent: { artifactId: parentId } });
    const report = verifyManifest({ manifest: m, signature: undefined, key: undefined });
    expect(report.checks.find((c) => c.check === 'manifest-schema')).toEqual({ check: 'manifest-schema', ok: true });
    const bad = verifyManifest({ manifest: { ...m, parent: { artifactId: 'x' } }, signature: undefined, key: undefined });
    expect(bad.checks[0]).toMatchObject({ check: 'manifest-schema', ok: false });
  });

  it('gives the lineage a retrained-from edge and the suggestion id', () => {
    const childId = randomUUID();
    const m = TrainingManifest.parse({ ...base, artifactId: childId, parent: { artifactId: parentId, suggestionId: 's-1' } });
    const artifact = {
      artifactId: childId,
      modelName: 'churn',
      version: 2,
      sha256: 'c'.repeat(64),
      size: 10,
      createdAt: '',
      createdBy: 'x',
    };
    const sig = { manifestSignatureId: randomUUID(), signerId: 'k', alg: 'ed25519', ts: '', signature: '' } as never;
    const l = buildLineage(artifact, m, 'd'.repeat(64), sig, []);
    expect(l.parent).toEqual({ artifactId: parentId, suggestionId: 's-1' });
    expect(l.edges).toContainEqual({ from: `artifact:${childId}`, to: `artifact:${parentId}`, rel: 'retrained-from' });
    const first = buildLineage(artifact, TrainingManifest.parse({ ...base, artifactId: childId }), 'd'.repeat(64), sig, []);
    expect(first.parent).toBeUndefined();
    expect(first.edges.map((e) => e.rel)).not.toContain('retrained-from');
  });
});

describe('retrain planning', () => {
  const sum = (c: string) => `sha256:${c.repeat(64)}`;

  it('replaces datasets by id, keeps the others from their recorded file uri, and refuses an id the parent lacks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'retrain-plan-'));
    const labels = join(dir, 'labels.csv');
    const fresh = join(dir, 'tx-v2.csv');
    await writeFile(labels, 'x\n1\n');
    await writeFile(fresh, 'x\n2\n');
    const refs = [
      { id: 'tx', version: 'v1', checksum: sum('1'), uri: pathToFileURL(join(dir, 'tx-v1.csv')).href },
      { id: 'labels', version: 'v1', checksum: sum('2'), uri: pathToFileURL(labels).href },
    ];
    expect(await planDatasets(refs, [{ id: 'tx', version: 'v2', path: fresh }])).toEqual([
      { id: 'tx', version: 'v2', path: fresh },
      { id: 'labels', version: 'v1', path: labels },
    ]);
    await expect(planDatasets(refs, [{ id: 'clicks', version: 'v2', path: fresh }])).rejects.toThrow(
      /--dataset clicks: the parent was not trained on a dataset clicks \(its datasets: tx, labels\)/,
    );
    await expect(planDatasets(refs, [{ id: 'tx', version: 'v2', path: join(dir, 'nope.csv') }])).rejects.toThrow(
      /--dataset tx@v2=.*nope\.csv: cannot read .*nope\.csv \(ENOENT\)/,
    );
    // the kept ref's recorded file is gone: the user must pass it
    await expect(planDatasets(refs, [{ id: 'labels', version: 'v2', path: fresh }])).rejects.toThrow(
      /dataset tx@v1 is kept from the parent but cannot be read at .*tx-v1\.csv \(ENOENT\): pass --dataset tx@VERSION=PATH/,
    );
    await expect(planDatasets([{ id: 'tx', version: 'v1', checksum: sum('1'), uri: 's3://b/tx' }], [])).rejects.toThrow(
      /recorded uri s3:\/\/b\/tx is not a local file/,
    );
    expect(keptDatasetProblems(refs, ['labels'], { tx: sum('9'), labels: sum('2') })).toEqual([]);
    expect(keptDatasetProblems(refs, ['labels'], { tx: sum('9'), labels: sum('3') })[0]).toMatch(
      /dataset labels@v1 is kept from the parent but its data changed/,
    );
  });

  it('diffs dataset versions and checksums, metrics and codeRef', () => {
    const parent = TrainingManifest.parse({ ...base, artifactId: parentId, metrics: { auc: 0.9, n: 10, same: 1, cm: [1, 2] } });
    const child = {
      ...base,
      codeRef: 'git:new',
      datasetRefs: [{ ...base.datasetRefs[0]!, version: '2026-12', checksum: sum('e') }],
      metrics: { auc: 0.8, same: 1, cm: [2, 2], extra: 'x' },
    };
    const d = retrainDiff(parent, child);
    expect(d.datasets).toEqual([
      { id: 'transactions', from: { version: '2026-11', checksum: sum('b') }, to: { version: '2026-12', checksum: sum('e') } },
    ]);
    expect(d.metrics.map((m) => m.name)).toEqual(['auc', 'cm', 'extra', 'n']);
    expect(d.codeRef).toEqual({ from: 'git:4f2c1e0', to: 'git:new' });
    const text = formatRetrainDiff(d).join('\n');
    expect(text).toMatch(/dataset transactions: 2026-11 → 2026-12/);
    expect(text).toMatch(/metric auc: 0\.9 → 0\.8/);
    expect(text).toMatch(/metric n: 10 → null/);
    expect(text).toMatch(/also changed \(see --json\): cm/);
    expect(formatRetrainDiff(retrainDiff(parent, { ...parent }))).toEqual([
      'changed from the parent:',
      '  nothing (same datasets, same metrics)',
    ]);
  });
});

/** Drift records in tests: window reports built by the real detectors, and DriftRecords over a stack's container. */
import { join } from 'node:path';
import { buildBaseline } from '../../lib/kernel/baseline-build.js';
import { windowAccumulator } from '../../lib/kernel/drift/window-build.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { detectWindow, type WindowReport } from '../../lib/modules/drift/detect.js';
import { DriftRecords } from '../../lib/modules/drift/records-service.js';
import type { Stack } from './local-stack.js';

const N = 400;
const baseline = buildBaseline({
  columns: [
    { name: 'age', kind: 'numeric', values: Array.from({ length: N }, (_, i) => 20 + (i % 40)) },
    { name: 'income', kind: 'numeric', values: Array.from({ length: N }, (_, i) => 1000 * (i % 50)) },
  ],
});

/**
 * The detectors' report on a window of 200 rows from the baseline's own distribution, or with
 * `age` shifted by `shift` (30: far past the training range, drifted).
 */
export function windowReport(q: { artifactId: string; shift: number; env?: string }): WindowReport {
  const acc = windowAccumulator(baseline);
  for (let i = 0; i < 200; i++) acc.add({ features: { age: 20 + (i % 40) + q.shift, income: 1000 * (i % 50) } });
  const window = {
    model: 'churn',
    env: q.env ?? 'staging',
    artifactId: q.artifactId,
    from: '2026-11-30T10:00:00.000Z',
    to: '2026-11-30T11:00:00.000Z',
    baselineSha256: 'a'.repeat(64),
    segments: 1,
    lines: 200,
    requests: 200,
    failed: 0,
    labelled: 0,
    unknownFeatures: {},
    skipped: { otherArtifact: 0, otherVariant: 0, outOfRange: 0, bad: 0 },
    problems: [],
    profile: acc.profile(),
  };
  return detectWindow(window, baseline, { minRows: 50 });
}

/** DriftRecords over the stack's services and the data folder's drift store; `raised` collects the metric's calls. */
export function recordsOf(stack: Stack): { records: DriftRecords; objects: FsObjectStore; raised: string[] } {
  const c = stack.container;
  const objects = new FsObjectStore({ root: join(stack.dataDir, 'drift') });
  const raised: string[] = [];
  const records = new DriftRecords({
    database: c.database,
    objects,
    keys: c.keys,
    audit: c.audit,
    clock: c.clock,
    registry: c.registry,
    metrics: { driftSuggestion: (model, env, detector) => raised.push(`${model}/${env}/${detector}`) },
  });
  return { records, objects, raised };
}

let runs = 0;
/** A run of the deployment over the window the report says. */
export const runOf = (artifactId: string, env = 'staging') => ({
  runId: `run-${++runs}-${artifactId.slice(0, 8)}`,
  model: 'churn',
  env,
  artifactId,
  from: new Date('2026-11-30T10:00:00.000Z'),
  to: new Date('2026-11-30T11:00:00.000Z'),
});

/**
 * Drift reports and suggestions on a local stack without the runs pipeline: a window report
 * computed by the drift module (`detectWindow`) over synthetic counts, recorded as a run's
 * report through the records service on the stack's own database, drift store and keys.
 */
import { randomUUID } from 'node:crypto';
import { profileColumns } from '../../lib/kernel/drift/reference.js';
import { windowAccumulator } from '../../lib/kernel/drift/window-build.js';
import { detectWindow, type WindowReport } from '../../lib/modules/drift/detect.js';
import type { DriftRecords } from '../../lib/modules/drift/records-service.js';
import { recordsOf } from './drift-records.js';
import type { Stack } from './local-stack.js';

const ROWS = 2000;
const reference = Float64Array.from({ length: ROWS }, (_, i) => (i % 100) / 10);
const colours = ['red', 'green', 'blue'];

/** A window report of `ROWS` rows: `drifted` shifts the numeric feature and the category mix (drift), otherwise the reference again (no drift). */
export function windowReport(opts: { model: string; env: string; artifactId: string; drifted: boolean }): WindowReport {
  const baseline = profileColumns([
    { name: 'amount', kind: 'numeric', values: reference },
    { name: 'colour', kind: 'categorical', values: Array.from({ length: ROWS }, (_, i) => colours[i % 3]!) },
  ]);
  const acc = windowAccumulator(baseline);
  for (let i = 0; i < ROWS; i++) {
    const amount = opts.drifted ? 5 + (i % 100) / 10 : (i % 100) / 10;
    const colour = opts.drifted ? (i % 5 === 0 ? 'green' : 'red') : colours[i % 3]!;
    acc.add({ features: { amount: String(amount), colour } });
  }
  const now = Date.now();
  return detectWindow(
    {
      model: opts.model,
      env: opts.env,
      artifactId: opts.artifactId,
      from: new Date(now - 3_600_000).toISOString(),
      to: new Date(now).toISOString(),
      baselineSha256: '0'.repeat(64),
      segments: 1,
      lines: ROWS,
      requests: ROWS,
      failed: 0,
      labelled: 0,
      unknownFeatures: {},
      skipped: { otherArtifact: 0, otherVariant: 0, outOfRange: 0, bad: 0 },
      problems: [],
      profile: acc.profile(),
    },
    baseline,
  );
}

/** The records service over the stack's database, drift store (`<data>/drift`) and keys: what the runs pipeline records reports with. */
export const driftRecords = (stack: Stack): DriftRecords => recordsOf(stack).records;

/** Records a report of a (made-up) run of the deployment; a drifted one raises (or attaches to) its open suggestion. */
export async function recordReport(
  stack: Stack,
  q: { model: string; env: string; artifactId: string; drifted: boolean; hoursAgo?: number },
) {
  const to = new Date(Date.now() - (q.hoursAgo ?? 0) * 3_600_000);
  const run = { runId: randomUUID(), model: q.model, env: q.env, artifactId: q.artifactId, from: new Date(to.getTime() - 3_600_000), to };
  return driftRecords(stack).recordReport(run, windowReport(q));
}

/** The numeric feature detector: JS distance on the baseline's bins gates; PSI, Wasserstein/σ and KS are reported. */
import type { NumericFeatureProfile } from '../baseline-profile.js';
import { ks2sampSorted } from './ks.js';
import type { NumericReport } from './report.js';
import { binnedKs, jsDistance, psi, wassersteinBinned, wassersteinSorted } from './statistics.js';

/**
 * Where each bin sits for the binned Wasserstein distance: an inner bin `[eᵢ, eᵢ₊₁)` at its
 * midpoint, the open lower tail half the first inner bin's width below the first edge, the
 * open upper tail half the last inner bin's width above the last edge (with a single edge,
 * a constant feature, the tails sit 0.5 either side of it).
 *
 * @example binPositions([0, 1, 3]) // [-0.5, 0.5, 2, 4]
 */
export function binPositions(edges: readonly number[]): number[] {
  const n = edges.length;
  if (n === 0) return [0];
  const first = n > 1 ? edges[1]! - edges[0]! : 1;
  const last = n > 1 ? edges[n - 1]! - edges[n - 2]! : 1;
  const pos = [edges[0]! - first / 2];
  for (let i = 0; i < n - 1; i++) pos.push((edges[i]! + edges[i + 1]!) / 2);
  pos.push(edges[n - 1]! + last / 2);
  return pos;
}

export interface NumericInput {
  feature: string;
  reference: NumericFeatureProfile;
  current: { counts: readonly number[]; missing: number; invalid: number };
  threshold: number;
  missingRateChange: number;
  /** raw samples, each sorted ascending, when both are at hand */
  raw?: { reference: Float64Array; current: Float64Array };
}

const rate = (part: number, whole: number): number => (whole > 0 ? part / whole : 0);

export function numericDrift(input: NumericInput): NumericReport {
  const { reference: ref, current: cur, threshold } = input;
  if (cur.counts.length !== ref.counts.length)
    throw new RangeError(`${input.feature}: the window has ${cur.counts.length} bins, the baseline ${ref.counts.length}`);
  const rows = cur.counts.reduce((s, c) => s + c, 0);
  const js = jsDistance(ref.counts, cur.counts);
  const sigma = ref.std > 0 ? ref.std : null;
  const w = wassersteinBinned(binPositions(ref.edges), ref.counts, cur.counts);
  const missingRate = {
    reference: rate(ref.missing, ref.count + ref.missing),
    current: rate(cur.missing + cur.invalid, rows + cur.missing + cur.invalid),
  };
  const reasons: string[] = [];
  if (rows > 0 && js >= threshold) reasons.push('js');
  if (Math.abs(missingRate.current - missingRate.reference) >= input.missingRateChange) reasons.push('missing-rate');
  if (rate(cur.invalid, rows + cur.missing + cur.invalid) >= input.missingRateChange) reasons.push('type-mismatch');
  const report: NumericReport = {
    feature: input.feature,
    kind: 'numeric',
    rows,
    js,
    threshold,
    psi: psi(ref.counts, cur.counts),
    wassersteinSigma: sigma === null ? null : w / sigma,
    binnedKs: binnedKs(ref.counts, cur.counts),
    missingRate,
    invalid: cur.invalid,
    drift: reasons.length > 0,
    reasons,
  };
  if (input.raw && input.raw.reference.length > 0 && input.raw.current.length > 0) {
    report.ks = ks2sampSorted(input.raw.reference, input.raw.current);
    report.wassersteinRawSigma = sigma === null ? null : wassersteinSorted(input.raw.reference, input.raw.current) / sigma;
  }
  return report;
}

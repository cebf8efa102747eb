/**
 * A baseline profile (v2) built from reference columns in memory — what `aegis drift compare`
 * uses when no baseline file is given, and what the simulation tests use. The same builder as
 * the trainer's and `aegis baseline`'s (`baseline-build.ts`), fed typed columns: a numeric
 * column is a Float64Array with NaN for a missing value, a categorical one strings with `null`
 * (or '') for a missing value.
 */
import { buildBaseline } from '../baseline-build.js';
import type { BaselineProfile, CategoricalFeatureProfile, NumericFeatureProfile } from '../baseline-profile.js';

export { quantileSorted } from '../baseline-build.js';

export type ReferenceColumn =
  { name: string; kind: 'numeric'; values: Float64Array } | { name: string; kind: 'categorical'; values: readonly (string | null)[] };

const present = (values: Float64Array): (number | null)[] => Array.from(values, (v) => (Number.isNaN(v) ? null : v));

/** A numeric feature's profile (missing values are NaN in `values`). */
export function numericProfile(values: Float64Array, bins?: number): NumericFeatureProfile {
  return buildBaseline({ columns: [{ name: 'x', kind: 'numeric', values: present(values) }], ...(bins ? { bins } : {}) }).features
    .x as NumericFeatureProfile;
}

/** A categorical feature's profile (`null` or '' is missing). */
export function categoricalProfile(values: readonly (string | null)[], topCategories?: number): CategoricalFeatureProfile {
  return buildBaseline({ columns: [{ name: 'x', kind: 'categorical', values }], ...(topCategories ? { topCategories } : {}) }).features
    .x as CategoricalFeatureProfile;
}

/** A whole profile from reference columns; `label` (its values as strings) becomes the label distribution. */
export function profileColumns(
  columns: readonly ReferenceColumn[],
  label?: { column: string; values: readonly (string | null)[] },
): BaselineProfile {
  return buildBaseline({
    columns: columns.map((c) => (c.kind === 'numeric' ? { ...c, values: present(c.values) } : c)),
    ...(label ? { label } : {}),
  });
}

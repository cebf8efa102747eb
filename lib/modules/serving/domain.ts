/**
 * Serving's pure rules: which variant answers a request, how a request's rows become the
 * model's numeric matrix (a bad row is the caller's 4xx naming the field, never a model
 * error), and the limits.
 */
import { isCanary } from '../../kernel/canary-assignment.js';
import type { Variant } from '../../kernel/canary-metrics.js';
import { AegisError } from '../../kernel/errors.js';

export const SERVING_LIMITS = {
  /** rows in one predict request */
  maxRows: 1000,
  /** a packed artifact serving will hold in memory */
  maxArtifactBytes: 512 * 1024 ** 2,
  /** the unpacked files of one artifact, together */
  maxUnpackedBytes: 1024 ** 3,
  /** files in one artifact */
  maxFiles: 10_000,
  /**
   * the largest artifact `promote` test-loads to warn when serving cannot load it: the promote
   * handler (a Lambda of its own memory on AWS) must not hold a serving-sized model; larger
   * ones are checked at their first prediction, and the reply says so
   */
  maxPromoteCheckBytes: 64 * 1024 ** 2,
} as const;

/** The model's route in an environment, as serving reads it: who answers, and the canary's share. */
export interface ServingRoute {
  modelName: string;
  env: string;
  stable: string | null;
  canary: string | null;
  /** 0–100: the canary's share of routing keys */
  percent: number;
  /** the promotion that set the route: the canary split's seed */
  promotionId: string | null;
  /** the candidate a share of requests is mirrored to (strategy `shadow`): its answers are recorded, never returned */
  shadow?: string | null;
  /** 0–100: the share of requests mirrored to the shadow */
  shadowPercent?: number;
}

/** The variant a routing key goes to: the canary iff the route has one and the key's bucket falls below its percent. */
export function chooseVariant(route: ServingRoute, key: string): Variant {
  if (!route.canary || !route.promotionId || route.percent <= 0) return 'stable';
  return isCanary(route.promotionId, key, route.percent) ? 'canary' : 'stable';
}

/** The seed suffix of the shadow sample: a key's shadow bucket is independent of its canary bucket. */
export const SHADOW_SEED_SUFFIX = ':shadow';

/**
 * Whether a routing key's request (answered by the stable) is mirrored to the shadow: the route
 * has one, and the key's bucket, seeded by the promotion id plus {@link SHADOW_SEED_SUFFIX},
 * falls below the shadow percent. Deterministic, like {@link chooseVariant}.
 */
export function mirrored(route: ServingRoute, key: string): boolean {
  if (!route.shadow || !route.promotionId || !((route.shadowPercent ?? 0) > 0)) return false;
  return isCanary(`${route.promotionId}${SHADOW_SEED_SUFFIX}`, key, route.shadowPercent!);
}

const invalid = (field: string, message: string) => new AegisError('VALIDATION_FAILED', `${field}: ${message}`, { field });
const keyField = (i: number, name: string) =>
  /^[A-Za-z_$][\w$]*$/.test(name) ? `inputs[${i}].${name}` : `inputs[${i}][${JSON.stringify(name)}]`;

/**
 * The request's rows as the model's matrix: an array in training column order, or an object
 * keyed by feature name (every feature, nothing else). Finite numbers only.
 *
 * @throws AegisError VALIDATION_FAILED naming the field: `inputs[3].age`, `inputs[0][2]`, `inputs`.
 * @example toMatrix([{ age: 41, income: 52000 }, [39, 61000]], ['age', 'income']) // [[41, 52000], [39, 61000]]
 */
export function toMatrix(inputs: readonly unknown[], features: readonly string[]): number[][] {
  if (inputs.length === 0) throw invalid('inputs', 'at least one row is required');
  if (inputs.length > SERVING_LIMITS.maxRows) throw invalid('inputs', `at most ${SERVING_LIMITS.maxRows} rows per request`);
  const known = new Set(features);
  return inputs.map((row, i) => {
    if (Array.isArray(row)) {
      if (row.length !== features.length)
        throw invalid(`inputs[${i}]`, `has ${row.length} values; the model takes ${features.length} (${features.join(', ')})`);
      return row.map((v: unknown, j) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`inputs[${i}][${j}]`, `${features[j]} must be a finite number`);
        return v;
      });
    }
    if (row === null || typeof row !== 'object')
      throw invalid(`inputs[${i}]`, 'must be an array of numbers or an object keyed by feature name');
    const rec = row as Record<string, unknown>;
    const extra = Object.keys(rec).find((k) => !known.has(k));
    if (extra !== undefined) throw invalid(keyField(i, extra), `is not a feature of the model (${features.join(', ')})`);
    return features.map((f) => {
      const v = Object.hasOwn(rec, f) ? rec[f] : undefined;
      if (v === undefined) throw invalid(keyField(i, f), 'is missing');
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(keyField(i, f), 'must be a finite number');
      return v;
    });
  });
}

/** What a request may name itself: printable, short, so it can key an event row and a header. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

/** A refusal to serve an artifact, remembered for the process: the code callers see, and why. */
export interface Refusal {
  code: 'ARTIFACT_UNVERIFIED' | 'UNSUPPORTED_FORMAT' | 'ARTIFACT_UNLOADABLE';
  reason: string;
}

/**
 * The drift configuration (issue 21): `policies/drift.json` (or the file `AEGIS_DRIFT_POLICY`
 * names): how often each deployment's windows are judged, how long they are, how many shards
 * count them, and the detectors' thresholds. Read and checked once; a bad file is refused
 * (CONFIG_INVALID naming the file and the field), so a process never starts on it.
 *
 * @example
 * const drift = loadDriftConfig('policies/drift.json');
 * drift.configFor('churn', 'prod'); // { model, env, schedule: { enabled, everyMinutes, windowMinutes, shards }, detectors }
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { AegisError } from '../../kernel/errors.js';
import { resolveOptions, type DriftOptions } from '../../kernel/drift/options.js';
import { MAX_WINDOW_HOURS } from './domain.js';
import type { DeploymentDriftConfig, DriftSchedule } from './records.js';

export const DRIFT_POLICY_FILE = 'drift.json';

const nonNegative = z.number().finite().min(0);
const FeatureOverride = z.strictObject({ threshold: nonNegative.optional(), ignore: z.boolean().optional() });
/** DriftOptions, every key optional (kernel/drift/options.ts); values are checked again by resolveOptions. */
const Detectors = z.strictObject({
  minRows: nonNegative.optional(),
  numericThreshold: nonNegative.optional(),
  categoricalThreshold: nonNegative.optional(),
  labelThreshold: nonNegative.optional(),
  predictionThreshold: nonNegative.optional(),
  missingRateChange: nonNegative.optional(),
  driftShare: nonNegative.max(1).optional(),
  topFeatureCount: nonNegative.optional(),
  minLabelled: nonNegative.optional(),
  tolerance: nonNegative.optional(),
  alpha: nonNegative.optional(),
  features: z.record(z.string(), FeatureOverride).optional(),
});

const everyMinutes = z.number().int().min(1).max(1440);
const windowMinutes = z
  .number()
  .int()
  .min(1)
  .max(MAX_WINDOW_HOURS * 60);
const shards = z.number().int().min(1).max(50);

const Schedule = z.strictObject({ enabled: z.boolean(), everyMinutes, windowMinutes, shards });
const Deployment = z.strictObject({
  model: z.string().regex(/^(\*|[a-z0-9][a-z0-9._-]{0,127})$/, 'must be a model name or *'),
  env: z.string().min(1).optional(),
  enabled: z.boolean().optional(),
  everyMinutes: everyMinutes.optional(),
  windowMinutes: windowMinutes.optional(),
  shards: shards.optional(),
  detectors: Detectors.optional(),
});
const DriftFile = z.strictObject({
  schedule: Schedule,
  detectors: Detectors.default({}),
  deployments: z.array(Deployment).default([]),
});

type DetectorOverrides = z.infer<typeof Detectors>;

const invalid = (file: string, message: string): AegisError =>
  new AegisError('CONFIG_INVALID', `${file}: ${message}`, { details: { file } });

/** Overrides `base` with `over`, per-feature overrides merged by feature. */
function mergeDetectors(base: DetectorOverrides, over: DetectorOverrides | undefined): DetectorOverrides {
  if (!over) return base;
  const features = base.features || over.features ? { ...base.features } : undefined;
  for (const [name, f] of Object.entries(over.features ?? {})) features![name] = { ...features![name], ...f };
  return { ...base, ...over, ...(features && { features }) };
}

/** A checked drift configuration: {@link configFor} merges the file's entries for one deployment. */
export class DriftConfig {
  private constructor(
    readonly file: string,
    private readonly parsed: z.infer<typeof DriftFile>,
  ) {}

  /** Parses the file's text; CONFIG_INVALID naming `file` and the field at fault. */
  static parse(file: string, text: string): DriftConfig {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw invalid(file, `not valid JSON: ${(e as Error).message}`);
    }
    const r = DriftFile.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw invalid(file, `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const config = new DriftConfig(file, r.data);
    // Every merged detector set must resolve: a bad combination is refused now, not at the first run.
    const check = (field: string, d: DetectorOverrides) => {
      try {
        resolveOptions(d as Partial<DriftOptions>);
      } catch (e) {
        throw invalid(file, `${field}: ${(e as Error).message}`);
      }
    };
    check('detectors', r.data.detectors);
    r.data.deployments.forEach((d, i) => check(`deployments.${i}.detectors`, mergeDetectors(r.data.detectors, d.detectors)));
    return config;
  }

  /** The deployment's configuration: the file's defaults, then every matching entry of `deployments` in file order. */
  configFor(model: string, env: string): DeploymentDriftConfig {
    const schedule: DriftSchedule = { ...this.parsed.schedule };
    let detectors = this.parsed.detectors;
    for (const d of this.parsed.deployments) {
      if ((d.model !== '*' && d.model !== model) || (d.env !== undefined && d.env !== env)) continue;
      if (d.enabled !== undefined) schedule.enabled = d.enabled;
      if (d.everyMinutes !== undefined) schedule.everyMinutes = d.everyMinutes;
      if (d.windowMinutes !== undefined) schedule.windowMinutes = d.windowMinutes;
      if (d.shards !== undefined) schedule.shards = d.shards;
      detectors = mergeDetectors(detectors, d.detectors);
    }
    return { model, env, schedule, detectors: detectors as Record<string, unknown> };
  }
}

/** Reads and checks the drift configuration file; CONFIG_INVALID naming the file when it cannot be read or is bad. */
export function loadDriftConfig(file: string): DriftConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new AegisError('CONFIG_INVALID', `${file}: cannot read: ${(e as Error).message}`, { details: { file }, cause: e });
  }
  return DriftConfig.parse(file, text);
}

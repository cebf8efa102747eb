import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import type { RecordedVariant, VariantMetrics } from '../../../kernel/canary-metrics.js';
import type { Agreement, MetricsSource } from '../../ports/canary-metrics.js';
import { AegisError } from '../../../kernel/errors.js';

/** One served request, as a serving proxy would log it. */
export interface RecordedSample {
  deploymentKey: string;
  /** `stable`, `canary`, or `shadow` (a mirrored copy: the same `requestId` as its stable answer) */
  variant: RecordedVariant;
  /** The artifact that served it; when recorded, a window for another artifact leaves it out. */
  artifactId?: string;
  /** The request's id: a shadow sample is compared with the stable sample of the same id (agreement). */
  requestId?: string;
  /** The answer as text (serving stores canonical JSON): equal texts agree. */
  prediction?: string;
  /** When the request arrived: an ISO 8601 string (as in JSON fixtures) or a Date. */
  at: string | Date;
  /** End-to-end latency; omit it for requests whose latency was not sampled. */
  latencyMs?: number;
  /** True when the request failed. @default false */
  error?: boolean;
  /** Whether the prediction matched its label; omit it while no label has arrived. */
  correct?: boolean;
}

const Sample = z.strictObject({
  deploymentKey: z.string().min(1),
  variant: z.enum(['stable', 'canary', 'shadow']),
  artifactId: z.string().min(1).optional(),
  requestId: z.string().min(1).optional(),
  prediction: z.string().optional(),
  at: z.union([z.iso.datetime({ offset: true }), z.date()]),
  latencyMs: z.number().nonnegative().optional(),
  error: z.boolean().optional(),
  correct: z.boolean().optional(),
});
const Recording = z.strictObject({ samples: z.array(Sample) });

interface Stored {
  deploymentKey: string;
  variant: RecordedVariant;
  artifactId?: string;
  requestId?: string;
  prediction?: string;
  atMs: number;
  latencyMs?: number;
  error: boolean;
  correct?: boolean;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  throw new AegisError('VALIDATION_FAILED', `invalid ${what} at "${field}": ${issue?.message ?? 'invalid'}`, { field });
}

/**
 * A {@link MetricsSource} that replays recorded requests from memory, for tests and the
 * local stack (which has no serving fleet to measure). Fill it from a JSON recording,
 *
 * ```json
 * { "samples": [
 *   { "deploymentKey": "churn/prod", "variant": "canary", "at": "2026-11-22T10:00:01Z",
 *     "latencyMs": 41.2, "error": false, "correct": true } ] }
 * ```
 *
 * or push samples as they happen. A window counts every sample with `from ≤ at < to`
 * (and, when both the sample and the query name an artifact, the same artifact):
 * each is one request; `latencyMs`, `error` and `correct` feed the latencies, error count
 * and label feedback (quality is absent when no sample in the window carries `correct`).
 * Latencies come back in recording order, so replays are deterministic.
 *
 * @example
 * const source = await RecordedMetricsSource.fromFile('test/fixtures/canary-recording.json');
 * source.push({ deploymentKey: 'churn/prod', variant: 'canary', at: new Date(), latencyMs: 38, error: false });
 * const canary = await source.window('churn/prod', 'canary', canaryArtifactId, from, to);
 */
export class RecordedMetricsSource implements MetricsSource {
  readonly #samples: Stored[] = [];

  constructor(samples: readonly RecordedSample[] = []) {
    this.#add(samples);
  }

  /** Reads a recording (`{ "samples": [...] }`) from a JSON string or an already parsed value. */
  static fromJson(json: string | unknown): RecordedMetricsSource {
    let value = json;
    if (typeof json === 'string') {
      try {
        value = JSON.parse(json);
      } catch (cause) {
        throw new AegisError('INVALID_JSON', 'recorded metrics are not valid JSON', { cause });
      }
    }
    return new RecordedMetricsSource(parse(Recording, value, 'recorded metrics').samples);
  }

  /** Reads a recording file; an unreadable file is a local-stack misconfiguration. */
  static async fromFile(path: string): Promise<RecordedMetricsSource> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new AegisError('CONFIG_INVALID', `cannot read recorded metrics ${path}`, { cause });
    }
    return RecordedMetricsSource.fromJson(text);
  }

  /** Records more requests; each is validated (VALIDATION_FAILED names the bad field). */
  push(...samples: RecordedSample[]): void {
    this.#add(samples);
  }

  // An array, never a spread: a recording can hold far more samples than a call can take arguments.
  #add(samples: readonly RecordedSample[]): void {
    // Validate all before storing any, so a bad batch leaves the recording unchanged.
    const parsed = samples.map((s, i) => parse(Sample, s, `sample ${i}`));
    for (const s of parsed) {
      const stored: Stored = {
        deploymentKey: s.deploymentKey,
        variant: s.variant,
        atMs: new Date(s.at).getTime(),
        error: s.error ?? false,
      };
      if (s.artifactId !== undefined) stored.artifactId = s.artifactId;
      if (s.requestId !== undefined) stored.requestId = s.requestId;
      if (s.prediction !== undefined) stored.prediction = s.prediction;
      if (s.latencyMs !== undefined) stored.latencyMs = s.latencyMs;
      if (s.correct !== undefined) stored.correct = s.correct;
      this.#samples.push(stored);
    }
  }

  /** A recording holds what it holds: nothing is on its way, so it is complete up to `now`. */
  async settledUntil(_deploymentKey: string, now: Date): Promise<Date> {
    return now;
  }

  async window(deploymentKey: string, variant: RecordedVariant, artifactId: string | null, from: Date, to: Date): Promise<VariantMetrics> {
    const [f, t] = range(from, to);
    const latenciesMs: number[] = [];
    const out: VariantMetrics = { requests: 0, errors: 0, latenciesMs };
    let correct = 0,
      labelled = 0;
    for (const s of this.#samples) {
      if (s.deploymentKey !== deploymentKey || s.variant !== variant || s.atMs < f || s.atMs >= t) continue;
      if (artifactId !== null && s.artifactId !== undefined && s.artifactId !== artifactId) continue;
      out.requests++;
      if (s.error) out.errors++;
      if (s.latencyMs !== undefined) latenciesMs.push(s.latencyMs);
      if (s.correct !== undefined) {
        labelled++;
        if (s.correct) correct++;
      }
    }
    if (labelled > 0) out.quality = { correct, labelled };
    return out;
  }

  /**
   * Shadow samples of the shadow artifact in `[from, to)` without error, joined on request id
   * with the stable artifact's samples without error (as serving's SQL does): `compared`
   * joined pairs, `agreed` those with equal `prediction` text. Samples without a request id
   * are never compared.
   */
  async agreement(
    deploymentKey: string,
    stableArtifactId: string | null,
    shadowArtifactId: string,
    from: Date,
    to: Date,
  ): Promise<Agreement> {
    const [f, t] = range(from, to);
    if (stableArtifactId === null) return { compared: 0, agreed: 0 };
    const stable = new Map<string, Stored>();
    for (const s of this.#samples)
      if (s.deploymentKey === deploymentKey && s.variant === 'stable' && s.artifactId === stableArtifactId && !s.error && s.requestId)
        stable.set(s.requestId, s);
    let compared = 0,
      agreed = 0;
    for (const s of this.#samples) {
      if (s.deploymentKey !== deploymentKey || s.variant !== 'shadow' || s.artifactId !== shadowArtifactId || s.error) continue;
      if (s.atMs < f || s.atMs >= t || !s.requestId) continue;
      const answer = stable.get(s.requestId);
      if (!answer) continue;
      compared++;
      if (answer.prediction === s.prediction) agreed++;
    }
    return { compared, agreed };
  }
}

function range(from: Date, to: Date): [number, number] {
  const [f, t] = [from.getTime(), to.getTime()];
  if (Number.isNaN(f) || Number.isNaN(t) || t < f) {
    throw new AegisError('VALIDATION_FAILED', 'window needs valid dates with from ≤ to', { field: 'from' });
  }
  return [f, t];
}

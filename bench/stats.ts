/** Percentiles, summaries and a plain-text table for the benches (no timing thresholds here). */

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Nearest-rank percentile: the smallest sample with at least p% of the samples at or below
 * it, so every reported value was actually observed (p99 of 200 samples is the 198th).
 *
 * @example percentile([5, 1, 3, 2, 4], 50) // 3
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError('percentile of no samples');
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  return nearestRank(
    [...samples].sort((a, b) => a - b),
    p,
  );
}

const nearestRank = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('summary of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => nearestRank(sorted, p);
  return {
    n: sorted.length,
    min: sorted[0]!,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  };
}

/** Milliseconds with 2–3 significant digits: 0.412 ms, 3.87 ms, 41.2 ms, 1234 ms. */
export function ms(v: number): string {
  if (v < 1) return `${v.toFixed(3)} ms`;
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 100) return `${v.toFixed(1)} ms`;
  return `${Math.round(v)} ms`;
}

export const seconds = (msValue: number): string => `${(msValue / 1000).toFixed(2)} s`;
export const ratio = (v: number): string => `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×`;
export const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
/** MB/s with MB = 10^6 bytes. */
export const mbPerS = (bytes: number, msValue: number): number => bytes / 1e6 / (msValue / 1000);

/** Left-aligned first column, right-aligned others, two spaces between columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A positive integer from the environment, or the default; anything else is refused. */
export function envInt(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return v;
}

/**
 * Durations as people write them on a command line or in an environment variable: a whole
 * number and one unit, `90m`, `12h`, `30d`. One parser for the token lifetimes and their limit.
 */

const UNIT_SECONDS = { m: 60, h: 3600, d: 86_400 } as const;

/** What {@link parseDuration} accepts, for schemas that check the form before the value. */
export const DURATION_PATTERN = /^([1-9][0-9]{0,5})(m|h|d)$/;

/** Seconds in a duration like `30d`, `12h` or `90m`; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : undefined;
}

/** A number of seconds in the largest unit that divides it whole: 7776000 → `90d`, 5400 → `90m`. */
export function formatDuration(seconds: number): string {
  if (seconds % UNIT_SECONDS.d === 0) return `${seconds / UNIT_SECONDS.d}d`;
  if (seconds % UNIT_SECONDS.h === 0) return `${seconds / UNIT_SECONDS.h}h`;
  if (seconds % UNIT_SECONDS.m === 0) return `${seconds / UNIT_SECONDS.m}m`;
  return `${seconds}s`;
}

/** The rules of a token's life, without I/O: its lifetime, its state, when its last use is written. */
import { formatDuration, parseDuration } from '../../kernel/duration.js';
import { AegisError } from '../../kernel/errors.js';
import type { Scope } from '../../kernel/identity.js';

/** A token's lifetime when its creator names none: 90 days (or the configured maximum, when lower). */
export const DEFAULT_TOKEN_TTL_SECONDS = 90 * 86_400;

/** A token's last-used time is written at most this often (per token): reads stay reads. */
export const LAST_USED_EVERY_MS = 60_000;

export interface TokenLimits {
  /** the longest lifetime a token may be given (`AEGIS_TOKEN_MAX_TTL`) */
  maxTtlSeconds: number;
  /** how long a process trusts what it read about a token (`AEGIS_TOKEN_CACHE_SECONDS`; 0 = every request reads) */
  cacheSeconds: number;
}

/** A token as listed: never its secret nor its hash. */
export interface TokenRecord {
  tokenId: string;
  principal: string;
  role: string;
  scope: Scope;
  state: TokenState;
  createdAt: string;
  /** null for tokens created before their creator was recorded (migration 0008) */
  createdBy: string | null;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

export type TokenState = 'active' | 'expired' | 'revoked';

export function tokenState(t: { expiresAt: Date; revokedAt: Date | null }, now: Date): TokenState {
  if (t.revokedAt) return 'revoked';
  return t.expiresAt.getTime() <= now.getTime() ? 'expired' : 'active';
}

/**
 * The lifetime in seconds a creator asked for (`expiresIn`, e.g. `30d`), or the default;
 * over the maximum is refused, naming the field and the limit.
 */
export function tokenLifetime(expiresIn: string | undefined, limits: Pick<TokenLimits, 'maxTtlSeconds'>): number {
  if (expiresIn === undefined) return Math.min(DEFAULT_TOKEN_TTL_SECONDS, limits.maxTtlSeconds);
  const seconds = parseDuration(expiresIn);
  if (seconds === undefined) {
    throw new AegisError('VALIDATION_FAILED', `expiresIn: ${expiresIn} is not a duration like 90m, 12h or 30d`, { field: 'expiresIn' });
  }
  if (seconds > limits.maxTtlSeconds) {
    throw new AegisError(
      'VALIDATION_FAILED',
      `expiresIn: ${expiresIn} is longer than the longest token lifetime, ${formatDuration(limits.maxTtlSeconds)} (AEGIS_TOKEN_MAX_TTL)`,
      { field: 'expiresIn', details: { maxTtlSeconds: limits.maxTtlSeconds } },
    );
  }
  return seconds;
}

/** Whether a use now should be written: never written, or last written a minute or more ago. */
export const lastUseIsStale = (lastUsedAt: Date | null, now: Date): boolean =>
  lastUsedAt === null || now.getTime() - lastUsedAt.getTime() >= LAST_USED_EVERY_MS;

import type { StoredToken } from './store.js';

/** The most tokens one process remembers: beyond it, the longest-remembered is forgotten first. */
const MAX_ENTRIES = 10_000;

/**
 * What this process read about each token it resolved, kept for `ttlMs` so a request need
 * not read the database: a token revoked by another process is refused here at most `ttlMs`
 * after the revocation committed; one revoked by this process at once ({@link forget}). Only
 * tokens that exist are kept (a guessed secret costs a read each time, and no memory).
 */
export class TokenCache {
  readonly #entries = new Map<string, { token: StoredToken; readAt: number }>();

  constructor(private readonly ttlMs: number) {}

  /** The token read less than `ttlMs` before `now`, or undefined. */
  get(secretHash: string, now: Date): StoredToken | undefined {
    const e = this.#entries.get(secretHash);
    if (!e) return undefined;
    if (now.getTime() - e.readAt < this.ttlMs) return e.token;
    this.#entries.delete(secretHash);
    return undefined;
  }

  /** Remembers a token read at `readAt` (taken before the read, so the bound holds from the read's start). */
  set(secretHash: string, token: StoredToken, readAt: Date): void {
    if (this.ttlMs <= 0) return;
    this.#entries.delete(secretHash);
    this.#entries.set(secretHash, { token, readAt: readAt.getTime() });
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Forgets a token (revoked or rotated here): the next request reads the database. */
  forget(tokenId: string): void {
    for (const [hash, e] of this.#entries) if (e.token.tokenId === tokenId) this.#entries.delete(hash);
  }
}

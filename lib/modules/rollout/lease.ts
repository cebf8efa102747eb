/**
 * Who may advance a rollout, pure. A rollout has at most one lease: a holder (the runner, an
 * execution id), a fencing token and an expiry. A runner may step while it holds the lease;
 * it takes over a lease that expired (the token rises, so the previous holder's late writes
 * are refused); it is refused while another runner's lease holds.
 */
import { AegisError } from '../../kernel/errors.js';

export interface Lease {
  holder: string;
  token: number;
  expiresAt: Date;
  /** when the holder's next step is due (the end of its Wait), if it is waiting */
  dueAt: Date | null;
}

export type LeaseDecision =
  | { kind: 'acquire'; token: number; takenFrom: string | null }
  | { kind: 'renew'; token: number }
  | { kind: 'refuse'; holder: string; token: number; expiresAt: Date };

/**
 * What a runner asking for the lease at `now` gets.
 *
 * @example
 * leaseDecision(undefined, 'exec-1', now) // { kind: 'acquire', token: 1, takenFrom: null }
 * leaseDecision({ holder: 'exec-1', token: 1, expiresAt: later, dueAt: null }, 'exec-2', now) // refuse
 */
export function leaseDecision(current: Lease | undefined, runner: string, now: Date): LeaseDecision {
  if (!current) return { kind: 'acquire', token: 1, takenFrom: null };
  if (current.holder === runner) return { kind: 'renew', token: current.token };
  // the runner the rollout was taken away from never takes it back, expired or not
  if (current.holder === revokedHolder(runner))
    return { kind: 'refuse', holder: current.holder, token: current.token, expiresAt: current.expiresAt };
  if (current.expiresAt.getTime() <= now.getTime()) return { kind: 'acquire', token: current.token + 1, takenFrom: current.holder };
  return { kind: 'refuse', holder: current.holder, token: current.token, expiresAt: current.expiresAt };
}

/**
 * The holder a lease records once it was taken away from `runner` (a quarantine or an abort
 * handing the rollout to its rollback): expired for everyone else, refused to `runner` itself,
 * whose next step would otherwise renew it before the rollback takes it over.
 */
export function revokedHolder(runner: string): string {
  return `${REVOKED}${runner}`;
}
export const REVOKED = 'revoked:';

/**
 * Until when a lease holds after a step: through the wait that follows (the runner is idle
 * but still the holder) and `leaseSeconds` more for the next step to begin and finish.
 * A holder that dies is replaced at most this long after its next step was due.
 */
export function leaseExpiry(now: Date, waitSeconds: number, leaseSeconds: number): Date {
  return new Date(now.getTime() + (Math.max(0, waitSeconds) + leaseSeconds) * 1000);
}

/** Seconds left until `dueAt` (0 when due or unknown): what a runner taking over still waits. */
export function secondsUntilDue(dueAt: Date | null, now: Date): number | undefined {
  if (!dueAt) return undefined;
  return Math.max(0, Math.ceil((dueAt.getTime() - now.getTime()) / 1000));
}

/**
 * A step refused because its runner does not hold the rollout's lease (another runner took
 * it over, or holds it now). Named for the state machines: their Catch for `Aegis.LeaseLost`
 * ends the execution quietly instead of rolling the canary back.
 */
export class LeaseLostError extends AegisError {
  constructor(message: string, details: Record<string, unknown>) {
    super('LEASE_LOST', message, { details });
    this.name = 'Aegis.LeaseLost';
  }
}

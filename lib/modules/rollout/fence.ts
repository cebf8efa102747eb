/**
 * Taking a rollout's lease for a step and fencing the step's writes with it (the rules are
 * lease.ts's, the rows store.ts's).
 */
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import { LeaseLostError, leaseDecision, leaseExpiry, type Lease } from './lease.js';
import { ensureLease, lockLease, updateLease } from './store-leases.js';

/** Where a step stands with the lease: the token its writes are conditional on. */
export interface Held {
  runner: string;
  token: number;
}

/**
 * Takes or renews the rollout's lease for `runner` (its step has `leaseSeconds` to run), or
 * returns the refusal when another runner's lease holds. One transaction, the row locked:
 * two runners asking at once get one answer each, never the same token.
 */
export async function acquireLease(
  database: Database,
  q: { promotionId: string; runner: string; now: Date; leaseSeconds: number },
): Promise<Held | LeaseLostError> {
  const { promotionId, runner, now } = q;
  return database.db.transaction().execute(async (tx) => {
    await ensureLease(tx, promotionId, runner, now);
    const row = (await lockLease(tx, promotionId))!;
    // token 0 is the row just inserted: nobody held it yet
    const current: Lease | undefined =
      Number(row.token) === 0
        ? undefined
        : {
            holder: row.holder,
            token: Number(row.token),
            expiresAt: new Date(row.expires_at),
            dueAt: row.due_at === null ? null : new Date(row.due_at),
          };
    const d = leaseDecision(current, runner, now);
    if (d.kind === 'refuse') {
      return new LeaseLostError(
        `runner ${runner} does not hold the lease of promotion ${promotionId}: ${d.holder} holds it (token ${d.token}) until ${d.expiresAt.toISOString()}`,
        { holder: d.holder, token: d.token, expiresAt: d.expiresAt.toISOString() },
      );
    }
    const expires = leaseExpiry(now, 0, q.leaseSeconds);
    await updateLease(tx, promotionId, {
      holder: runner,
      token: d.token,
      expires_at: expires > new Date(row.expires_at) || d.kind === 'acquire' ? expires : new Date(row.expires_at),
      ...(d.kind === 'acquire' ? { acquired_at: now } : {}),
    });
    return { runner, token: d.token };
  });
}

/**
 * The fence: inside a step's transaction, refuses (rolling back everything the step wrote)
 * unless the lease still carries this runner's token, and extends the lease over the wait
 * that follows the step (`waitSeconds`, null: none).
 */
export async function fence(
  tx: Executor,
  q: { promotionId: string; held: Held; waitSeconds: number | null; clock: Clock; leaseSeconds: number },
): Promise<void> {
  const { promotionId, held, waitSeconds } = q;
  const row = await lockLease(tx, promotionId);
  if (!row || Number(row.token) !== held.token || row.holder !== held.runner) {
    throw new LeaseLostError(
      `runner ${held.runner} lost the lease of promotion ${promotionId} (token ${held.token}) during its step: ${row ? `${row.holder} holds it now (token ${row.token})` : 'no lease'}; nothing of the step was written`,
      { holder: row?.holder ?? null, token: row ? Number(row.token) : null },
    );
  }
  const now = q.clock.now();
  await updateLease(tx, promotionId, {
    expires_at: leaseExpiry(now, waitSeconds ?? 0, q.leaseSeconds),
    due_at: waitSeconds === null ? null : new Date(now.getTime() + waitSeconds * 1000),
  });
}

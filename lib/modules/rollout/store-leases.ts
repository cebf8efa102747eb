/**
 * The rollout_leases rows: who may advance a rollout (the rules are lease.ts's, the fencing
 * fence.ts's).
 */
import { sql, type Selectable, type Updateable } from 'kysely';
import type { Executor } from '../../platform/ports/database.js';
import type { DB } from '../../platform/sql/schema.js';
import { REVOKED } from './lease.js';

export type StoredLease = Selectable<DB['rollout_leases']>;

/** Inserts the rollout's lease row if it has none yet: token 0, held by nobody. */
export async function ensureLease(x: Executor, promotionId: string, runner: string, at: Date): Promise<void> {
  await x
    .insertInto('rollout_leases')
    .values({ promotion_id: promotionId, holder: runner, token: 0, expires_at: new Date(0), due_at: null, acquired_at: at })
    .onConflict((oc) => oc.column('promotion_id').doNothing())
    .execute();
}

/** The lease row, locked for the caller's transaction. */
export async function lockLease(x: Executor, promotionId: string): Promise<StoredLease | undefined> {
  return x.selectFrom('rollout_leases').selectAll().where('promotion_id', '=', promotionId).forUpdate().executeTakeFirst();
}

export async function updateLease(x: Executor, promotionId: string, set: Updateable<DB['rollout_leases']>): Promise<void> {
  await x.updateTable('rollout_leases').set(set).where('promotion_id', '=', promotionId).execute();
}

/** Marks `runner`'s lease released (expired at `at`); a lease another runner holds is left alone. */
export async function releaseLease(x: Executor, promotionId: string, runner: string, at: Date): Promise<void> {
  await x
    .updateTable('rollout_leases')
    .set({ holder: `released:${runner}`, expires_at: at })
    .where('promotion_id', '=', promotionId)
    .where('holder', '=', runner)
    .execute();
}

/** When the holder's next step is due (null: not waiting, or no lease). */
export async function leaseDueAt(x: Executor, promotionId: string): Promise<Date | null> {
  const row = await x.selectFrom('rollout_leases').select('due_at').where('promotion_id', '=', promotionId).executeTakeFirst();
  return row?.due_at ? new Date(row.due_at) : null;
}

/** Until when each of these rollouts' leases holds; a rollout without a lease row is absent. */
export async function leaseExpiries(x: Executor, promotionIds: readonly string[]): Promise<Map<string, Date>> {
  if (promotionIds.length === 0) return new Map();
  const rows = await x
    .selectFrom('rollout_leases')
    .select(['promotion_id', 'expires_at'])
    .where('promotion_id', 'in', [...promotionIds])
    .execute();
  return new Map(rows.map((r) => [r.promotion_id, new Date(r.expires_at)]));
}

/**
 * Ends whoever holds the rollout's lease now (a quarantine aborting a canary): the holder is
 * marked revoked, so its step in flight can no longer write and its next step is refused; any
 * other runner takes the rollout over at once with the next token.
 */
export async function expireLease(x: Executor, promotionId: string, at: Date): Promise<void> {
  await x
    .updateTable('rollout_leases')
    .set(() => ({
      holder: sql<string>`case when holder like ${`${REVOKED}%`}::text then holder else ${REVOKED}::text || holder end`,
      expires_at: at,
      due_at: null,
    }))
    .where('promotion_id', '=', promotionId)
    .execute();
}

/** The key ring as the chain describes it: replayed from the key events in chain order (pure). */
import type * as z from 'zod';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import { KeyCreatedPayload, KeyEnrolledPayload, KeyRevokedPayload, KeyRotatedPayload, type KeyBody } from './events.js';

export interface ReplayedRing {
  keys: Map<string, KeyRecord>;
  /** seq of the event that introduced each kid */
  introducedAt: Map<string, number>;
  problems: { seq: number; detail: string }[];
}

/**
 * Replays `key.created` / `key.enrolled` / `key.rotated` / `key.revoked` in chain order into the key ring
 * the database held: windows close at `previousNotAfter`, a revocation keeps an earlier
 * `notAfter` (as KeyService.revoke does).
 */
export function replayKeyRing(events: readonly AuditEvent[]): ReplayedRing {
  const keys = new Map<string, KeyRecord>();
  const introducedAt = new Map<string, number>();
  const problems: ReplayedRing['problems'] = [];
  const add = (
    seq: number,
    k: z.infer<typeof KeyBody>,
    extra: Pick<KeyRecord, 'notAfter'> & { owner?: string | null } = { notAfter: null },
  ) => {
    if (keys.has(k.kid)) return problems.push({ seq, detail: `key ${k.kid} is created twice` });
    keys.set(k.kid, { ...k, ...extra, revokedAt: null });
    introducedAt.set(k.kid, seq);
  };
  for (const e of events) {
    if (e.type === 'key.created') {
      const p = KeyCreatedPayload.safeParse(e.payload);
      if (p.success) add(e.seq, p.data.key);
      else problems.push({ seq: e.seq, detail: `key.created payload: ${p.error.issues[0]?.message}` });
    } else if (e.type === 'key.enrolled') {
      const p = KeyEnrolledPayload.safeParse(e.payload);
      if (p.success) add(e.seq, p.data.key, { notAfter: p.data.key.notAfter, owner: p.data.key.owner });
      else problems.push({ seq: e.seq, detail: `key.enrolled payload: ${p.error.issues[0]?.message}` });
    } else if (e.type === 'key.rotated') {
      const p = KeyRotatedPayload.safeParse(e.payload);
      if (!p.success) {
        problems.push({ seq: e.seq, detail: `key.rotated payload: ${p.error.issues[0]?.message}` });
        continue;
      }
      const prev = keys.get(p.data.previous);
      if (prev) keys.set(prev.kid, { ...prev, notAfter: p.data.previousNotAfter });
      else problems.push({ seq: e.seq, detail: `key.rotated retires ${p.data.previous}, which no earlier event created` });
      add(e.seq, p.data.key);
    } else if (e.type === 'key.revoked') {
      const p = KeyRevokedPayload.safeParse(e.payload);
      const k = p.success ? keys.get(p.data.kid) : undefined;
      if (!p.success || !k) {
        problems.push({
          seq: e.seq,
          detail: p.success
            ? `key.revoked names ${p.data.kid}, which no earlier event created`
            : `key.revoked payload: ${p.error.issues[0]?.message}`,
        });
        continue;
      }
      keys.set(k.kid, { ...k, revokedAt: p.data.revokedAt, notAfter: k.notAfter ?? p.data.revokedAt });
    }
  }
  return { keys, introducedAt, problems };
}

/**
 * The same ring with revocations lifted. Rebuilding must reproduce what the registry held,
 * and the registry held artifacts and events signed by keys revoked later: they are checked
 * for a valid signature made inside the key's window, restored, and reported, and the
 * rebuilt registry keeps the revocation, so they fail verification there exactly as before.
 */
export function ignoringRevocation(ring: ReadonlyMap<string, KeyRecord>): Map<string, KeyRecord> {
  return new Map([...ring].map(([kid, k]) => [kid, { ...k, revokedAt: null }]));
}

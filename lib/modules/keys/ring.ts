/** The key ring as the chain describes it: replayed from the key events in chain order (pure). */
import type * as z from 'zod';
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import { handlerFor } from '../restore.js';
import { KeyCreatedPayload, KeyEnrolledPayload, KeyRevokedPayload, KeyRotatedPayload, type KeyBody } from './events.js';

export interface ReplayedRing {
  keys: Map<string, KeyRecord>;
  /** seq of the event that introduced each kid */
  introducedAt: Map<string, number>;
  problems: { seq: number; detail: string }[];
}

function add(
  ring: ReplayedRing,
  seq: number,
  k: z.infer<typeof KeyBody>,
  extra: Pick<KeyRecord, 'notAfter' | 'owner'> = { notAfter: null },
) {
  if (ring.keys.has(k.kid)) return ring.problems.push({ seq, detail: `key ${k.kid} is created twice` });
  ring.keys.set(k.kid, { ...k, ...extra, revokedAt: null });
  ring.introducedAt.set(k.kid, seq);
}

function parsed<S extends z.ZodType>(ring: ReplayedRing, e: AuditEvent, schema: S): z.infer<S> | undefined {
  const p = schema.safeParse(e.payload);
  if (p.success) return p.data;
  ring.problems.push({ seq: e.seq, detail: `${e.type} payload: ${p.error.issues[0]?.message}` });
  return undefined;
}

/** What each key event does to the ring. */
const APPLY: Readonly<Record<string, (ring: ReplayedRing, e: AuditEvent) => void>> = {
  'key.created': (ring, e) => {
    const p = parsed(ring, e, KeyCreatedPayload);
    if (p) add(ring, e.seq, p.key);
  },
  'key.enrolled': (ring, e) => {
    const p = parsed(ring, e, KeyEnrolledPayload);
    if (p) add(ring, e.seq, p.key, { notAfter: p.key.notAfter, owner: p.key.owner });
  },
  'key.rotated': (ring, e) => {
    const p = parsed(ring, e, KeyRotatedPayload);
    if (!p) return;
    const prev = ring.keys.get(p.previous);
    if (prev) ring.keys.set(prev.kid, { ...prev, notAfter: p.previousNotAfter });
    else ring.problems.push({ seq: e.seq, detail: `key.rotated retires ${p.previous}, which no earlier event created` });
    add(ring, e.seq, p.key);
  },
  'key.revoked': (ring, e) => {
    const p = parsed(ring, e, KeyRevokedPayload);
    if (!p) return;
    const k = ring.keys.get(p.kid);
    if (!k) ring.problems.push({ seq: e.seq, detail: `key.revoked names ${p.kid}, which no earlier event created` });
    else ring.keys.set(k.kid, { ...k, revokedAt: p.revokedAt, notAfter: k.notAfter ?? p.revokedAt });
  },
};

/** The event types the ring is replayed from. */
export const RING_EVENT_TYPES: readonly string[] = Object.keys(APPLY);

/**
 * Replays `key.created` / `key.enrolled` / `key.rotated` / `key.revoked` in chain order into the key ring
 * the database held: windows close at `previousNotAfter`, a revocation keeps an earlier
 * `notAfter` (as KeyService.revoke does).
 */
export function replayKeyRing(events: readonly AuditEvent[]): ReplayedRing {
  const ring: ReplayedRing = { keys: new Map(), introducedAt: new Map(), problems: [] };
  for (const e of events) handlerFor(APPLY, e.type)?.(ring, e);
  return ring;
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

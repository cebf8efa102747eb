import { canonicalJson, jsonEqual, sha256Hex } from './canonical.js';
import { checkSignerValidity, statementBytes, verifyRaw, type KeyRecord } from './signatures.js';

/** Every state change Aegis makes leaves one of these; later capabilities add their types. */
export const AUDIT_EVENT_TYPES = [
  'artifact.registered',
  'manifest.signed',
  'model.team.set',
  'artifact.download_issued',
  'dataset.registered',
  'key.created',
  'key.rotated',
  'key.revoked',
  'key.enrolled',
  'token.created',
  'token.revoked',
  'token.rotated',
  'promotion.requested',
  'promotion.approval_accepted',
  'promotion.approval_refused',
  'promotion.approved',
  'promotion.step',
  'promotion.applied',
  'promotion.rolled_back',
  'promotion.failed',
  'promotion.cancelled',
  'promotion.expired',
  'promotion.abort_requested',
  'route.drained',
  'quarantine.requested',
  'quarantine.approval_accepted',
  'quarantine.approval_refused',
  'quarantine.applied',
  'quarantine.enforced',
  'serving.verified',
  'serving.refused',
  'drift.report',
  'drift.suggestion',
  'drift.suggestion_attached',
  'drift.suggestion_accepted',
  'drift.suggestion_dismissed',
  'drift.suggestion_resolved',
  'subscription.created',
  'subscription.deleted',
  'subscription.secret_set',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number] | (string & {});

export const GENESIS_HASH = '0'.repeat(64);

/** An audit event as stored, archived and verified. `payload` is any JSON object. */
export interface AuditEvent {
  seq: number;
  eventId: string;
  type: AuditEventType;
  actor: string;
  subject: string;
  payload: Record<string, unknown>;
  ts: string;
  prevHash: string;
  hash: string;
  signature: string;
  signerId: string;
}

export type UnsignedEvent = Omit<AuditEvent, 'hash' | 'signature'>;

/** `hash = sha256(JCS(event without hash and signature))`. */
export function eventHash(e: UnsignedEvent | AuditEvent): string {
  const { hash: _h, signature: _s, ...rest } = e as AuditEvent;
  return sha256Hex(canonicalJson(rest));
}

/** What the audit key signs for an event: its hash, domain-separated. */
export const eventStatement = (seq: number, hash: string) => statementBytes({ type: 'aegis.audit-event/v1', seq, hash });

/** A signed statement that the chain had this head; archived with every segment. */
export interface Checkpoint {
  type: 'aegis.audit-checkpoint/v1';
  /** first and last seq of the segment this checkpoint closes */
  fromSeq: number;
  seq: number;
  hash: string;
  segmentKey: string;
  segmentSha256: string;
  ts: string;
  signerId: string;
}
export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  alg: KeyRecord['alg'];
  signature: string;
}

/**
 * A signed statement that the database's chain had this head at `ts` (the `audit-checkpoint`
 * job, every AEGIS_AUDIT_CHECKPOINT_SECONDS and at shutdown). Unlike {@link Checkpoint} it
 * closes no segment: it binds the newest events before they are archived, so deleting them
 * (with the `audit_head` row) is caught by verification. Version 1; a change of shape gets a
 * new `type`.
 */
export interface HeadCheckpoint {
  type: 'aegis.audit-head/v1';
  seq: number;
  /** hash of the event at `seq` */
  hash: string;
  ts: string;
  signerId: string;
}
export interface SignedHeadCheckpoint {
  checkpoint: HeadCheckpoint;
  alg: KeyRecord['alg'];
  signature: string;
}

/** What the audit key signs for a head checkpoint: its canonical JSON (domain-separated by `type`). */
export const headCheckpointStatement = (c: HeadCheckpoint) => statementBytes(c);

export type ChainProblem =
  | 'event-missing'
  | 'events-reordered'
  | 'payload-edited'
  | 'chain-broken'
  | 'unknown-signer'
  | 'signer-invalid'
  | 'bad-signature'
  | 'archive-mismatch'
  | 'truncated'
  /** the database ends before the newest signed head checkpoint: its newest events were deleted */
  | 'behind-checkpoint'
  /** the event at the newest head checkpoint's seq is not the one it signed: the chain was replaced from there */
  | 'checkpoint-mismatch'
  /** a head checkpoint object does not verify (signature, signer, shape or key) */
  | 'checkpoint-invalid';

export interface ChainBreak {
  seq: number;
  problem: ChainProblem;
  detail: string;
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  fromSeq: number | null;
  headSeq: number | null;
  headHash: string | null;
  firstBreak: ChainBreak | null;
}

/** A broken link that points at another event of the run: the events were reordered. */
export const reorderedLink = (seq: number): ChainBreak => ({
  seq,
  problem: 'events-reordered',
  detail: `event ${seq} links to an event stored after it: events were reordered`,
});

/**
 * Verifies a run of events in stored order. Checks per event, in this order so the first
 * problem is named precisely: seq continuity (missing), link to the previous event
 * (reordered when the link points at another event of the run, broken otherwise), the
 * signer (known, valid at ts), the signature over the stored hash, and last the hash
 * recomputed from the content (payload edited).
 *
 * @param anchor the seq and hash just before the first event (genesis: seq 0, zero hash)
 * @param precomputed the events' signature checks and recomputed hashes, by index, when made
 *   beforehand (`verifyChainAsync` in chain-check.ts); the report is the same
 */
export function verifyChain(
  events: readonly AuditEvent[],
  keyOf: (kid: string) => KeyRecord | undefined,
  anchor: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
  precomputed?: { signatureValid: readonly boolean[]; hashes: readonly string[] },
): ChainReport {
  let prev = anchor;
  const report = (br: ChainBreak | null, checked: number): ChainReport => ({
    ok: br === null,
    checked,
    fromSeq: events[0]?.seq ?? null,
    headSeq: br ? null : events.length ? prev.seq : anchor.seq,
    headHash: br ? null : events.length ? prev.hash : anchor.hash,
    firstBreak: br,
  });
  for (const [i, e] of events.entries()) {
    const want = prev.seq + 1;
    if (e.seq > want)
      return report(
        {
          seq: want,
          problem: 'event-missing',
          detail: `seq ${want}${e.seq - want > 1 ? `..${e.seq - 1}` : ''} missing: the next event present is ${e.seq}`,
        },
        i,
      );
    if (e.seq < want) return report({ seq: e.seq, problem: 'events-reordered', detail: `seq ${e.seq} appears after ${prev.seq}` }, i);
    if (e.prevHash !== prev.hash) {
      // only a broken link looks at the other events: an intact chain never pays for the search
      const elsewhere = e.prevHash !== e.hash && events.some((o) => o.hash === e.prevHash);
      return report(
        elsewhere
          ? reorderedLink(e.seq)
          : {
              seq: e.seq,
              problem: 'chain-broken',
              detail: `prevHash of ${e.seq} is not the hash of ${prev.seq}: an earlier event was altered or removed`,
            },
        i,
      );
    }
    const key = keyOf(e.signerId);
    if (!key) return report({ seq: e.seq, problem: 'unknown-signer', detail: `signer ${e.signerId} is not in the key ring` }, i);
    const validity = checkSignerValidity(key, e.ts, 'audit');
    if (!validity.ok) return report({ seq: e.seq, problem: 'signer-invalid', detail: `${e.signerId}: ${validity.reason}` }, i);
    if (!(precomputed ? precomputed.signatureValid[i] : verifyRaw(key.alg, key.publicKey, eventStatement(e.seq, e.hash), e.signature))) {
      return report({ seq: e.seq, problem: 'bad-signature', detail: `signature of ${e.seq} does not verify under ${e.signerId}` }, i);
    }
    if ((precomputed ? precomputed.hashes[i] : eventHash(e)) !== e.hash)
      return report(
        { seq: e.seq, problem: 'payload-edited', detail: `content of ${e.seq} does not match its signed hash: the event was edited` },
        i,
      );
    prev = { seq: e.seq, hash: e.hash };
  }
  return report(null, events.length);
}

/**
 * Whether two copies of one event are the same event, without serialising either: the stored
 * hash first (differing hashes are differing events), then what the hash does not cover (the
 * signature and its signer), then the content. The content is still compared because
 * {@link verifyChain} recomputed the hashes of one copy only: the other copy's stored hash says
 * nothing about its own content (a database row edited after it was archived keeps its hash).
 */
const sameEvent = (a: AuditEvent, b: AuditEvent): boolean =>
  a.hash === b.hash && a.signature === b.signature && a.signerId === b.signerId && a.prevHash === b.prevHash && jsonEqual(a, b);

/**
 * One archived event against the database's copy of its seq (undefined: the database has
 * none), `dbHead` being the database's last seq in the compared range (0: none).
 */
export function compareArchivedEvent(a: AuditEvent, d: AuditEvent | undefined, dbHead: number): ChainBreak | null {
  if (!d) {
    return a.seq > dbHead
      ? {
          seq: a.seq,
          problem: 'truncated',
          detail: `the archive holds seq ${a.seq} but the database ends at ${dbHead}: the tail was truncated`,
        }
      : { seq: a.seq, problem: 'event-missing', detail: `seq ${a.seq} is archived but missing from the database` };
  }
  return sameEvent(d, a)
    ? null
    : { seq: a.seq, problem: 'archive-mismatch', detail: `event ${a.seq} differs between the database and the archive` };
}

/** Compares the database's events with the archive's over the range both hold. */
export function compareWithArchive(db: readonly AuditEvent[], archived: readonly AuditEvent[]): ChainBreak | null {
  const bySeq = new Map(db.map((e) => [e.seq, e]));
  const dbHead = db.length ? db[db.length - 1]!.seq : 0;
  for (const a of archived) {
    const br = compareArchivedEvent(a, bySeq.get(a.seq), dbHead);
    if (br) return br;
  }
  return null;
}

/** Segment file text: one canonical event per line. */
export const segmentText = (events: readonly AuditEvent[]): string => events.map((e) => `${canonicalJson(e)}\n`).join('');

export function parseSegment(text: string): AuditEvent[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as AuditEvent);
}

export const checkpointStatement = (c: Checkpoint) => statementBytes(c);

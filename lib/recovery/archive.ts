import { parseSegment, type AuditEvent, type SignedCheckpoint } from '../kernel/audit-chain.js';
import { appendAll } from '../kernel/arrays.js';
import { verifyChainPaged } from '../kernel/chain-check.js';
import { checkTrust, type TrustReport } from './trust.js';
import { KeyCreatedPayload } from '../modules/keys/events.js';
import { ignoringRevocation, replayKeyRing } from '../modules/keys/ring.js';
import type { KeyRecord } from '../kernel/signatures.js';
import type { ObjectStore } from '../platform/ports/object-store.js';
import { segmentKey } from '../platform/audit/segments.js';
import { compareWithHead, readNewestHead } from '../platform/audit/head.js';
import { RecoveryError, type Problem, type RecoveryDeps } from './types.js';

export interface VerifiedArchive {
  /** every event to restore, in chain order, verified */
  events: AuditEvent[];
  /** the key ring as the database held it after the last event (revocations included) */
  ring: Map<string, KeyRecord>;
  checkpoints: number;
  archivedThrough: number;
  trust: TrustReport;
  warnings: string[];
  /** the newest signed head checkpoint (null: none was written) */
  headCheckpoint: { seq: number; ts: string } | null;
  /** the archive against that checkpoint: ends before it, differs at it, or invalid checkpoint objects */
  headProblems: Problem[];
}

async function readText(store: ObjectStore, key: string): Promise<string> {
  let out = '';
  for await (const chunk of await store.get(key)) out += (chunk as Buffer).toString('utf8');
  return out;
}

const unverified = (why: string) => new RecoveryError('ARCHIVE_UNVERIFIED', `the audit archive cannot be trusted: ${why}`);

/**
 * The checkpointed segments, read without checking anything, plus any segment an archive
 * run wrote but never closed. Only used to learn the key ring that the verified read
 * (AuditTrail.readArchive) needs to check the very checkpoints those keys signed.
 */
async function readUnverified(store: ObjectStore): Promise<{ events: AuditEvent[]; segmentKeys: Set<string>; closed: Set<string> }> {
  const checkpointKeys: string[] = [];
  for await (const o of store.list('audit/checkpoints/')) checkpointKeys.push(o.key);
  const segmentKeys = new Set<string>();
  for await (const o of store.list('audit/segments/')) segmentKeys.add(o.key);
  const events: AuditEvent[] = [];
  const closed = new Set<string>();
  for (const k of checkpointKeys) {
    try {
      const cp = (JSON.parse(await readText(store, k)) as SignedCheckpoint).checkpoint;
      appendAll(events, parseSegment(await readText(store, cp.segmentKey)));
      closed.add(cp.segmentKey);
    } catch (e) {
      throw unverified(`${k} or its segment is unreadable (${(e as Error).message})`);
    }
  }
  return { events, segmentKeys, closed };
}

/**
 * An archive run that stopped between a segment and its checkpoint leaves the segment
 * locked: the next run would close it with its old content, so its events must be in the
 * rebuilt chain too (appended to `events`). The chain check is their only verification.
 */
async function appendOpenTail(
  store: ObjectStore,
  raw: { segmentKeys: Set<string>; closed: Set<string> },
  archivedThrough: number,
  events: AuditEvent[],
  warnings: string[],
): Promise<void> {
  const next = segmentKey(archivedThrough + 1);
  if (raw.segmentKeys.has(next) && !raw.closed.has(next)) {
    const tail = parseSegment(await readText(store, next));
    appendAll(events, tail);
    warnings.push(
      `segment ${next} had no checkpoint (an archive run stopped before closing it): its ${tail.length} event(s) were verified by the chain alone and restored; the next archive run closes it`,
    );
  }
  for (const k of raw.segmentKeys) {
    if (!raw.closed.has(k) && k !== next) warnings.push(`segment ${k} has no checkpoint and does not continue the archive: ignored`);
  }
}

/** The key ring the chain describes, opened by the audit key signing its own key.created, and pinned to `trustedKeys` when given. */
function trustedRing(
  events: readonly AuditEvent[],
  trustedKeys: KeyRecord[] | undefined,
): { ring: Map<string, KeyRecord>; trust: TrustReport } {
  const replayed = replayKeyRing(events);
  if (replayed.problems.length)
    throw unverified(`key events do not replay: ${replayed.problems.map((p) => `seq ${p.seq}: ${p.detail}`).join('; ')}`);
  const first = events[0]!;
  const root = KeyCreatedPayload.safeParse(first.payload);
  if (
    first.seq !== 1 ||
    first.type !== 'key.created' ||
    !root.success ||
    root.data.key.purpose !== 'audit' ||
    root.data.key.kid !== first.signerId
  ) {
    throw unverified('the chain does not open with the audit key signing its own key.created');
  }
  const trust = checkTrust(replayed.keys, root.data.key.kid, trustedKeys);
  if (trust.mismatched.length) {
    throw new RecoveryError(
      'UNTRUSTED_KEY',
      `the archive's key(s) ${trust.mismatched.join(', ')} differ from the trusted key ring: this archive was not written by the registry you trust`,
    );
  }
  if (trustedKeys && !trust.pinned) {
    throw new RecoveryError('UNTRUSTED_KEY', `the archive's root audit key ${trust.rootKid} is not in the trusted key ring`);
  }
  return { ring: replayed.keys, trust };
}

/**
 * The archive trails the database by up to one archive run; the newest signed head
 * checkpoint says how far the chain really went. A rebuild that ends before it has lost those events.
 */
async function checkHead(
  store: ObjectStore,
  keyOf: (kid: string) => KeyRecord | undefined,
  events: readonly AuditEvent[],
): Promise<Pick<VerifiedArchive, 'headCheckpoint' | 'headProblems'>> {
  const heads = await readNewestHead(store, keyOf);
  const headProblems: Problem[] = heads.invalid.map((i) => ({ kind: 'event', id: i.key, problem: 'checkpoint-invalid', detail: i.detail }));
  if (heads.newest) {
    const last = events[events.length - 1]!;
    const br = compareWithHead(heads.newest, last.seq, events.find((e) => e.seq === heads.newest!.checkpoint.seq)?.hash, 'archive');
    if (br)
      headProblems.push({
        kind: 'event',
        id: `seq ${br.seq}`,
        problem: br.problem === 'checkpoint-mismatch' ? 'checkpoint-mismatch' : 'behind-checkpoint',
        detail: `${br.detail}${br.problem === 'behind-checkpoint' ? '; the rebuilt registry lacks them (archive more often, or recover them from a database backup)' : ''}`,
      });
  }
  return { headCheckpoint: heads.newest && { seq: heads.newest.checkpoint.seq, ts: heads.newest.checkpoint.ts }, headProblems };
}

/**
 * Reads the whole audit archive and trusts it only when every check passes: each
 * checkpoint's signature and segment hash (readArchive), the chain from genesis
 * (verifyChainPaged: continuity, links, signers valid at each event's time, signatures, hashes),
 * a first event that is the audit key's self-signed `key.created`, and, with
 * `trustedKeys`, the keys matching the pinned ring. Any failure throws: a chain cannot be
 * restored in part without forking the archive it must continue.
 */
export async function loadVerifiedArchive(
  deps: Pick<RecoveryDeps, 'archiveStore' | 'auditTrail'>,
  trustedKeys?: KeyRecord[],
): Promise<VerifiedArchive> {
  const warnings: string[] = [];
  const raw = await readUnverified(deps.archiveStore);
  if (raw.events.length === 0) {
    throw new RecoveryError(
      'ARCHIVE_EMPTY',
      'the audit archive holds no checkpointed events, so there is no key ring to rebuild from (archive regularly: aegis audit archive)',
    );
  }
  const provisional = ignoringRevocation(replayKeyRing(raw.events).keys);
  const archive = await deps.auditTrail.readArchive((kid) => provisional.get(kid));
  if (archive.problem) throw unverified(`${archive.problem.problem} at seq ${archive.problem.seq}: ${archive.problem.detail}`);
  const events = [...archive.events];
  const archivedThrough = events[events.length - 1]?.seq ?? 0;
  await appendOpenTail(deps.archiveStore, raw, archivedThrough, events, warnings);

  const { ring, trust } = trustedRing(events, trustedKeys);
  const blind = ignoringRevocation(ring);
  const chain = await verifyChainPaged(events, (kid) => blind.get(kid));
  if (!chain.ok) throw unverified(`${chain.firstBreak!.problem} at seq ${chain.firstBreak!.seq}: ${chain.firstBreak!.detail}`);
  for (const k of ring.values()) {
    if (k.purpose === 'audit' && k.revokedAt) {
      warnings.push(
        `audit key ${k.kid} was revoked at ${k.revokedAt}: the events it signed are restored as archived and fail verification in the rebuilt registry as they did before`,
      );
    }
  }
  const head = await checkHead(deps.archiveStore, (kid) => blind.get(kid), events);
  return { events, ring, checkpoints: archive.checkpoints.length, archivedThrough, trust, warnings, ...head };
}

/**
 * The audit archive's segments (`audit/segments/<fromSeq>.jsonl`, at most 1000 events) and the
 * checkpoint that closes each one (`audit/checkpoints/<fromSeq>.json`: head seq and hash,
 * segment sha256, signed with the audit key): where they live, writing one, reading them all
 * back verified.
 */
import { AegisError } from '../../kernel/errors.js';
import { appendAll } from '../../kernel/arrays.js';
import { canonicalJson, sha256Hex } from '../../kernel/canonical.js';
import {
  checkpointStatement,
  parseSegment,
  segmentText,
  type AuditEvent,
  type ChainBreak,
  type Checkpoint,
  type SignedCheckpoint,
} from '../../kernel/audit-chain.js';
import { checkSignerValidity, verifyRaw, type KeyRecord } from '../../kernel/signatures.js';
import type { ObjectStore } from '../ports/object-store.js';
import type { Signer } from '../ports/signer.js';

export const SEGMENT_MAX = 1000;
const pad = (n: number) => String(n).padStart(12, '0');
export const segmentKey = (fromSeq: number) => `audit/segments/${pad(fromSeq)}.jsonl`;
export const checkpointKey = (fromSeq: number) => `audit/checkpoints/${pad(fromSeq)}.json`;

export async function readText(store: ObjectStore, key: string): Promise<string> {
  let out = '';
  for await (const chunk of await store.get(key)) out += (chunk as Buffer).toString('utf8');
  return out;
}

export interface ArchiveContents {
  events: AuditEvent[];
  checkpoints: SignedCheckpoint[];
  /** the first problem found in the archive itself (bad checkpoint, segment hash), if any */
  problem: ChainBreak | null;
}

/** The first seq not yet archived (1 for an empty archive). */
export async function nextUnarchived(store: ObjectStore): Promise<number> {
  let last: string | undefined;
  for await (const o of store.list('audit/checkpoints/')) last = o.key;
  if (!last) return 1;
  const cp = JSON.parse(await readText(store, last)) as SignedCheckpoint;
  return cp.checkpoint.seq + 1;
}

const isLocked = (e: unknown) => e instanceof AegisError && e.code === 'RETENTION_LOCKED';

/**
 * Writes the segment of `batch` (whose first event is `from`) and its signed checkpoint under
 * retention. Either may exist already (another archiver, or a run stopped before its
 * checkpoint): the segment as stored is what the checkpoint signs. Returns the segment's
 * events, and whether this call wrote its checkpoint.
 */
export async function writeSegment(
  store: ObjectStore,
  signer: Signer,
  s: { from: number; batch: AuditEvent[]; retainUntil: Date; now: Date },
): Promise<{ events: AuditEvent[]; closed: boolean }> {
  const { from, retainUntil } = s;
  let text = segmentText(s.batch);
  try {
    await store.put(segmentKey(from), text, { retainUntil, contentType: 'application/x-ndjson' });
  } catch (e) {
    if (!isLocked(e)) throw e;
    text = await readText(store, segmentKey(from));
  }
  const events = parseSegment(text);
  const last = events[events.length - 1]!;
  const checkpoint: Checkpoint = {
    type: 'aegis.audit-checkpoint/v1',
    fromSeq: from,
    seq: last.seq,
    hash: last.hash,
    segmentKey: segmentKey(from),
    segmentSha256: sha256Hex(text),
    ts: s.now.toISOString(),
    signerId: signer.kid,
  };
  const signed: SignedCheckpoint = {
    checkpoint,
    alg: signer.alg,
    signature: (await signer.sign(checkpointStatement(checkpoint))).toString('base64'),
  };
  try {
    await store.put(checkpointKey(from), `${canonicalJson(signed)}\n`, { retainUntil, contentType: 'application/json' });
    return { events, closed: true };
  } catch (e) {
    if (!isLocked(e)) throw e;
    return { events, closed: false };
  }
}

/** One segment read back and checked, or the first problem found (after which nothing is read). */
export type ArchiveSegment = { checkpoint: SignedCheckpoint; events: AuditEvent[] } | { problem: ChainBreak };

/**
 * The archive's segments in order, each read when asked for, its checkpoint's signature and
 * the segment's hash and range checked; stops at the first problem, which it yields last.
 */
export async function* archiveSegments(
  store: ObjectStore,
  keyOf: (kid: string) => KeyRecord | undefined,
): AsyncGenerator<ArchiveSegment, void, undefined> {
  const keys: string[] = [];
  for await (const o of store.list('audit/checkpoints/')) keys.push(o.key);
  for (const k of keys) {
    const segment = await readSegment(store, k, keyOf);
    yield segment;
    if ('problem' in segment) return;
  }
}

/** The segment the checkpoint under `k` closes, checked against it. */
async function readSegment(store: ObjectStore, k: string, keyOf: (kid: string) => KeyRecord | undefined): Promise<ArchiveSegment> {
  const signed = JSON.parse(await readText(store, k)) as SignedCheckpoint;
  const cp = signed.checkpoint;
  const fail = (detail: string): ArchiveSegment => ({ problem: { seq: cp.fromSeq, problem: 'archive-mismatch', detail } });
  const key = keyOf(cp.signerId);
  if (!key) return fail(`checkpoint ${k} is signed by ${cp.signerId}, which is not in the key ring`);
  const validity = checkSignerValidity(key, cp.ts, 'audit');
  if (!validity.ok) return fail(`checkpoint ${k}: ${validity.reason}`);
  if (!verifyRaw(signed.alg, key.publicKey, checkpointStatement(cp), signed.signature))
    return fail(`checkpoint ${k} signature does not verify`);
  const text = await readText(store, cp.segmentKey);
  if (sha256Hex(text) !== cp.segmentSha256) return fail(`segment ${cp.segmentKey} does not match its checkpoint`);
  const seg = parseSegment(text);
  if (seg[0]?.seq !== cp.fromSeq || seg[seg.length - 1]?.seq !== cp.seq || seg[seg.length - 1]?.hash !== cp.hash)
    return fail(`segment ${cp.segmentKey} does not cover ${cp.fromSeq}..${cp.seq} as its checkpoint says`);
  return { checkpoint: signed, events: seg };
}

/** Reads the whole archive in order, checking each checkpoint's signature and segment hash. */
export async function readSegments(store: ObjectStore, keyOf: (kid: string) => KeyRecord | undefined): Promise<ArchiveContents> {
  const events: AuditEvent[] = [];
  const checkpoints: SignedCheckpoint[] = [];
  for await (const s of archiveSegments(store, keyOf)) {
    if ('problem' in s) return { events, checkpoints, problem: s.problem };
    appendAll(events, s.events);
    checkpoints.push(s.checkpoint);
  }
  return { events, checkpoints, problem: null };
}

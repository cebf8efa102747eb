/**
 * Signed head checkpoints of the audit chain in the archive store (`aegis.audit-head/v1`,
 * see {@link HeadCheckpoint}): where they live, how the newest is found, what it proves.
 */
import { headCheckpointStatement, type ChainBreak, type HeadCheckpoint, type SignedHeadCheckpoint } from '../../kernel/audit-chain.js';
import { checkSignerValidity, verifyRaw, type KeyRecord } from '../../kernel/signatures.js';
import type { ObjectStore } from '../ports/object-store.js';
import { readText } from './segments.js';

export const HEADS_PREFIX = 'audit/heads/';
const SEQ_DIGITS = 12;
const SEQ_MAX = 10 ** SEQ_DIGITS - 1;

/**
 * `audit/heads/<999999999999 − seq, 12 digits>.json`: the store lists keys in ascending order,
 * so the newest checkpoint is the first key listed and finding it never lists the rest.
 */
export const headKey = (seq: number) => `${HEADS_PREFIX}${String(SEQ_MAX - seq).padStart(SEQ_DIGITS, '0')}.json`;

/** A head checkpoint as read from the store, with the object key it was read from. */
export interface StoredHead {
  key: string;
  checkpoint: HeadCheckpoint;
}

export interface NewestHead {
  /** the newest head checkpoint that verifies, or null when there is none */
  newest: StoredHead | null;
  /** checkpoint objects newer than it that do not verify, each with why */
  invalid: { key: string; detail: string }[];
}

/** The checkpoint a stored object holds when it verifies, otherwise why it cannot be trusted. */
function headProblem(
  key: string,
  text: string,
  keyOf: (kid: string) => KeyRecord | undefined,
): { detail: string } | { checkpoint: HeadCheckpoint } {
  let signed: SignedHeadCheckpoint;
  try {
    signed = JSON.parse(text) as SignedHeadCheckpoint;
  } catch {
    return { detail: `${key} is not JSON` };
  }
  const cp = signed?.checkpoint;
  if (
    !cp ||
    cp.type !== 'aegis.audit-head/v1' ||
    !Number.isSafeInteger(cp.seq) ||
    cp.seq < 1 ||
    cp.seq > SEQ_MAX ||
    typeof cp.hash !== 'string' ||
    typeof cp.ts !== 'string' ||
    typeof cp.signerId !== 'string' ||
    typeof signed.signature !== 'string'
  ) {
    return { detail: `${key} is not an aegis.audit-head/v1 checkpoint` };
  }
  // A valid older checkpoint copied under a newer key would otherwise hide the real newest one.
  if (headKey(cp.seq) !== key) return { detail: `${key} holds the checkpoint of seq ${cp.seq}, which belongs under ${headKey(cp.seq)}` };
  const signer = keyOf(cp.signerId);
  if (!signer) return { detail: `${key} is signed by ${cp.signerId}, which is not in the key ring` };
  const validity = checkSignerValidity(signer, cp.ts, 'audit');
  if (!validity.ok) return { detail: `${key}: ${validity.reason}` };
  if (signed.alg !== signer.alg || !verifyRaw(signer.alg, signer.publicKey, headCheckpointStatement(cp), signed.signature))
    return { detail: `${key}: signature does not verify under ${cp.signerId}` };
  return { checkpoint: { type: cp.type, seq: cp.seq, hash: cp.hash, ts: cp.ts, signerId: cp.signerId } };
}

/**
 * The newest head checkpoint that verifies under `keyOf`, reading newest first and stopping
 * there; every newer object that does not verify is returned as invalid (Object Lock keeps
 * anyone from deleting checkpoints, so an invalid one is a forgery or a broken writer).
 */
export async function readNewestHead(store: ObjectStore, keyOf: (kid: string) => KeyRecord | undefined): Promise<NewestHead> {
  const invalid: NewestHead['invalid'] = [];
  for await (const o of store.list(HEADS_PREFIX)) {
    let text: string;
    try {
      text = await readText(store, o.key);
    } catch (e) {
      invalid.push({ key: o.key, detail: `${o.key} is unreadable (${(e as Error).message})` });
      continue;
    }
    const r = headProblem(o.key, text, keyOf);
    if ('checkpoint' in r) return { newest: { key: o.key, checkpoint: r.checkpoint }, invalid };
    invalid.push({ key: o.key, detail: r.detail });
  }
  return { newest: null, invalid };
}

/**
 * What a chain is missing against a head checkpoint: `headSeq` is the chain's last seq (0 when
 * empty), `hashAt` the hash of its event at the checkpoint's seq (undefined when it has none).
 */
export function compareWithHead(
  head: StoredHead,
  headSeq: number,
  hashAt: string | undefined,
  where: 'database' | 'archive',
): ChainBreak | null {
  const cp = head.checkpoint;
  const signed = `the head checkpoint signed at ${cp.ts} (${head.key})`;
  if (headSeq < cp.seq) {
    const gone = where === 'database' ? 'were removed after it was written' : 'are not in it';
    return {
      seq: cp.seq,
      problem: 'behind-checkpoint',
      detail: `${signed} names seq ${cp.seq}, but the ${where} ends at ${headSeq}: event(s) ${headSeq + 1}..${cp.seq} ${gone}`,
    };
  }
  if (hashAt === undefined)
    return { seq: cp.seq, problem: 'event-missing', detail: `${signed} names seq ${cp.seq}, which the ${where} does not hold` };
  if (hashAt !== cp.hash) {
    return {
      seq: cp.seq,
      problem: 'checkpoint-mismatch',
      detail: `event ${cp.seq} in the ${where} has hash ${hashAt.slice(0, 12)}…, but ${signed} names ${cp.hash.slice(0, 12)}…: the chain was replaced from ${cp.seq} or earlier`,
    };
  }
  return null;
}

/** The first invalid checkpoint object as a chain problem (at the seq its key names). */
export function invalidHeadBreak(invalid: NewestHead['invalid']): ChainBreak | null {
  const first = invalid[0];
  if (!first) return null;
  const digits = /(\d{12})\.json$/.exec(first.key)?.[1];
  return {
    seq: digits ? SEQ_MAX - Number(digits) : 0,
    problem: 'checkpoint-invalid',
    detail: `${first.detail}${invalid.length > 1 ? ` (and ${invalid.length - 1} more invalid head checkpoint(s))` : ''}`,
  };
}

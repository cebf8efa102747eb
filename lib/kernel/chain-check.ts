import {
  eventHash,
  eventStatement,
  GENESIS_HASH,
  reorderedLink,
  verifyChain,
  type AuditEvent,
  type ChainBreak,
  type ChainReport,
} from './audit-chain.js';
import { verifyRawMany, type KeyRecord, type RawSignature } from './signatures.js';

/**
 * {@link verifyChain}, the same report, with the signatures checked on every core: each event
 * whose signer is in the ring has its signature checked on the thread pool ({@link verifyRawMany})
 * while this thread recomputes the hashes. Every event of the run is checked, even past a break,
 * and every signature is in flight at once: for runs of bounded length (a page, a segment).
 */
export async function verifyChainAsync(
  events: readonly AuditEvent[],
  keyOf: (kid: string) => KeyRecord | undefined,
  anchor?: { seq: number; hash: string },
): Promise<ChainReport> {
  const signed: RawSignature[] = [];
  const at: number[] = [];
  for (const [i, e] of events.entries()) {
    const key = keyOf(e.signerId);
    if (!key) continue; // reported as unknown-signer before any signature is looked at
    signed.push({ alg: key.alg, publicKey: key.publicKey, message: eventStatement(e.seq, e.hash), signature: e.signature });
    at.push(i);
  }
  const checking = verifyRawMany(signed);
  const hashes = events.map((e) => eventHash(e));
  const signatureValid = new Array<boolean>(events.length).fill(false);
  for (const [j, ok] of (await checking).entries()) signatureValid[at[j]!] = ok;
  return verifyChain(events, keyOf, anchor, { signatureValid, hashes });
}

/**
 * {@link verifyChainAsync} over a run read in batches (each anchored on the last event of the one
 * before), reporting what verifyChain reports for the whole run. One check looks beyond a
 * batch: a broken link is `events-reordered` when any event of the run has the hash it links
 * to. Within its batch {@link add} sees that; beyond it the reader searches the run for
 * {@link unresolvedLink} and passes the answer to {@link report}.
 */
export class ChainCheck {
  #prev: { seq: number; hash: string };
  #checked = 0;
  #fromSeq: number | null = null;
  #break: ChainBreak | null = null;
  #brokenLink: string | null = null;

  constructor(
    private readonly keyOf: (kid: string) => KeyRecord | undefined,
    anchor: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
  ) {
    this.#prev = anchor;
  }

  get broken(): boolean {
    return this.#break !== null;
  }

  /** Verifies the next batch of the run (nothing once the run is broken); its signatures on every core. */
  async add(batch: readonly AuditEvent[]): Promise<void> {
    if (this.#break || batch.length === 0) return;
    this.#fromSeq ??= batch[0]!.seq;
    const r = await verifyChainAsync(batch, this.keyOf, this.#prev);
    this.#checked += r.checked;
    if (r.firstBreak) {
      this.#break = r.firstBreak;
      const e = batch[r.checked]!;
      if (r.firstBreak.problem === 'chain-broken' && e.prevHash !== e.hash) this.#brokenLink = e.prevHash;
    } else this.#prev = { seq: r.headSeq!, hash: r.headHash! };
  }

  /** The hash a broken link points at when no event of its batch holds it (null: nothing to search). */
  get unresolvedLink(): string | null {
    return this.#brokenLink;
  }

  /** The report; `linkedElsewhere`: another batch of the run holds {@link unresolvedLink}. */
  report(linkedElsewhere = false): ChainReport {
    const br = this.#break && this.#brokenLink !== null && linkedElsewhere ? reorderedLink(this.#break.seq) : this.#break;
    return {
      ok: br === null,
      checked: this.#checked,
      fromSeq: this.#fromSeq,
      headSeq: br ? null : this.#prev.seq,
      headHash: br ? null : this.#prev.hash,
      firstBreak: br,
    };
  }
}

/** Events per page of a run verified in pages: small enough to bound memory, large enough that a page's cost is spread. */
export const CHAIN_PAGE_SIZE = 2000;

/**
 * {@link verifyChain} over a whole run held in memory, with the same report, checked in pages of
 * `pageSize` events through {@link ChainCheck} (so each page's signatures are on every core
 * while memory for the checks in flight stays bounded).
 */
export async function verifyChainPaged(
  events: readonly AuditEvent[],
  keyOf: (kid: string) => KeyRecord | undefined,
  pageSize = CHAIN_PAGE_SIZE,
): Promise<ChainReport> {
  const check = new ChainCheck(keyOf);
  for (let i = 0; i < events.length && !check.broken; i += pageSize) await check.add(events.slice(i, i + pageSize));
  const link = check.unresolvedLink;
  return check.report(link !== null && events.some((e) => e.hash === link));
}

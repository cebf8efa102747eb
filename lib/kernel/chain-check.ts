import { GENESIS_HASH, reorderedLink, verifyChainAsync, type AuditEvent, type ChainBreak, type ChainReport } from './audit-chain.js';
import type { KeyRecord } from './signatures.js';

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

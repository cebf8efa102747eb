import { AegisError } from '../../kernel/errors.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { EnrolledPurpose, KeyPurpose, KeyRecord } from '../../kernel/signatures.js';
import { toDate } from '../../platform/sql/schema.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Transaction } from 'kysely';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { DB } from '../../platform/sql/schema.js';
import type { KeyProvider, Signer } from '../../platform/ports/signer.js';
import type { AuditLog, AuditSigning } from '../../platform/audit/log.js';
import { enrolledKeyAlg, nextKid } from './domain.js';
import { RING_EVENT_TYPES } from './ring.js';
import { snapshot, type RingSnapshot, type RingView } from './ring-snapshot.js';
import { findActiveKey, findKey, findRingKeys, insertKey, listKeys, retireKey, revokeKey, signingKeyRow, type ActiveKey } from './store.js';

export type { RingView } from './ring-snapshot.js';

/**
 * A key that cannot sign now (its file unreadable, the KMS key disabled, KMS down) is a
 * server-side outage, never the caller's error: SIGNING_UNAVAILABLE (503), cause kept for the log.
 */
function outageAware(signer: Signer, purpose: KeyPurpose): Signer {
  return {
    kid: signer.kid,
    alg: signer.alg,
    async sign(message: Uint8Array) {
      try {
        return await signer.sign(message);
      } catch (e) {
        // an oversized message is a bug in the caller, not an outage
        if (e instanceof AegisError && e.code === 'PAYLOAD_TOO_LARGE') throw e;
        throw new AegisError('SIGNING_UNAVAILABLE', `the ${purpose} signing key ${signer.kid} cannot sign right now; retry shortly`, {
          cause: e,
        });
      }
    },
  };
}

const noActiveKey = (purpose: KeyPurpose) =>
  new AegisError('NO_ACTIVE_SIGNING_KEY', `no active ${purpose} signing key: an operator must rotate one in (POST /v1/keys/rotate)`);

/** The audit log's signing through `keys` (a thunk: the key service is built after the log it audits through). */
export function auditSigning(keys: () => KeyService): AuditSigning {
  return { signerFor: (tx, keyRingSeq) => keys().signerForAppend(tx, keyRingSeq), ringTypes: new Set(RING_EVENT_TYPES) };
}

/**
 * The key ring: public keys with validity windows, kept in the database, and the one
 * active signer per purpose. Private keys stay in the {@link KeyProvider}.
 *
 * The active keys are cached with the ring's version: an audit append (which holds the chain
 * head's lock and reads the version with it) uses them while the version is unchanged and reads
 * the ring again when another process changed it, so a change is seen by every process's next
 * append and an unchanged ring costs no statement. This process's own changes drop the cache
 * when they commit; the transaction making one reads the ring it is writing.
 */
export class KeyService {
  readonly #signers = new Map<string, Signer>();
  #ring: RingSnapshot | undefined;
  /** transactions changing the ring: they read what they wrote, and fill no cache with it */
  readonly #changing = new WeakSet<Executor>();
  /** the ring as validated under the head lock of each transaction that appended */
  readonly #validatedIn = new WeakMap<Executor, RingSnapshot>();

  constructor(
    private readonly database: Database,
    private readonly provider: KeyProvider,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
  ) {}

  async list(db: Executor = this.database.db): Promise<KeyRecord[]> {
    return listKeys(db);
  }

  async get(kid: string, db: Executor = this.database.db): Promise<KeyRecord | undefined> {
    return findKey(db, kid);
  }

  /** The signer that signs new `purpose` signatures now (as seen by `db`, e.g. a transaction). */
  async activeSigner(purpose: KeyPurpose, db: Executor = this.database.db): Promise<Signer> {
    const active = await findActiveKey(db, purpose);
    if (!active) throw noActiveKey(purpose);
    return this.#signerOf(active, purpose);
  }

  /**
   * The audit signer for an append in `tx`, which holds the chain head's lock and read the
   * ring's version `keyRingSeq` with it: from the cache when that is the version cached, else
   * read in `tx` (consistent with the version under the lock) and cached.
   */
  async signerForAppend(tx: Executor, keyRingSeq: number): Promise<Signer> {
    if (this.#changing.has(tx)) return this.activeSigner('audit', tx);
    if (this.#ring?.seq !== keyRingSeq) this.#ring = snapshot(keyRingSeq, await findRingKeys(tx));
    this.#validatedIn.set(tx, this.#ring);
    return this.#signerFrom(this.#ring, 'audit');
  }

  /**
   * The `purpose` signer as this process last read the ring, for signing before a transaction
   * (no statement while cached). Provisional: the transaction must {@link confirmSigner} it
   * after its audit append, when the ring may have changed in another process meanwhile.
   */
  async provisionalSigner(purpose: KeyPurpose): Promise<Signer> {
    // a ring without the key is read again: one may have been rotated in elsewhere since
    const ring = this.#ring?.active.has(purpose) ? this.#ring : await this.#readRing();
    return this.#signerFrom(ring, purpose);
  }

  /**
   * The whole public ring as this process last read it (no statement while cached), with its
   * version; `kids` it must hold (a signature's signer) make it read again when it lacks one. Provisional like
   * {@link provisionalSigner}: what is decided with it commits only if {@link isRingCurrent}.
   *
   * @example
   * const ring = await keys.provisionalRing([artifact.signature.signerId]);
   * // … verify and decide with ring.keys, then in the transaction, after the audit append:
   * if (!keys.isRingCurrent(tx, ring)) throw new RingChanged(); // decide again
   */
  async provisionalRing(kids: readonly string[] = []): Promise<RingView> {
    const cached = this.#ring;
    return cached && kids.every((kid) => cached.keys.has(kid)) ? cached : this.#readRing();
  }

  /** The `purpose` signer of a ring {@link provisionalRing} gave (provisional as the ring is). */
  signerIn(ring: RingView, purpose: KeyPurpose): Signer {
    if (!('active' in ring)) throw new Error('signerIn: a ring from provisionalRing');
    return this.#signerFrom(ring as RingSnapshot, purpose);
  }

  /**
   * Whether `ring` is the ring `tx` holds under the chain head's lock, after `tx` appended its
   * audit events (held to the commit): false means a rotation, enrolment or revocation committed
   * since the ring was taken, so whatever was verified or signed with it must be done again.
   */
  isRingCurrent(tx: Executor, ring: RingView): boolean {
    const validated = this.#validatedIn.get(tx);
    if (!validated) throw new Error('isRingCurrent: the transaction has not appended its audit events');
    return validated.seq === ring.seq;
  }

  async #readRing(): Promise<RingSnapshot> {
    // the version first: a ring read after it is never older than the version it is cached under
    const seq = await this.audit.keyRingSeq(this.database.db);
    this.#ring = snapshot(seq, await findRingKeys(this.database.db));
    return this.#ring;
  }

  /**
   * Whether `kid` is still the active `purpose` key in `tx`, after `tx` appended its audit events
   * (the ring then is the one under the head's lock, held to the commit): false means a rotation
   * or revocation committed since a {@link provisionalSigner} was taken: sign again.
   */
  async isStillActive(tx: Executor, purpose: KeyPurpose, kid: string): Promise<boolean> {
    const ring = this.#validatedIn.get(tx);
    const active = ring ? ring.active.get(purpose) : await findActiveKey(tx, purpose);
    return active?.record.kid === kid;
  }

  #signerFrom(ring: RingSnapshot, purpose: KeyPurpose): Signer {
    const active = ring.active.get(purpose);
    if (!active) throw noActiveKey(purpose);
    return this.#signerOf(active, purpose);
  }

  #signerOf({ record, keyRef }: ActiveKey, purpose: KeyPurpose): Signer {
    const cached = this.#signers.get(record.kid);
    if (cached) return cached;
    const signer = outageAware(this.provider.signer(record.kid, record.alg, keyRef), purpose);
    this.#signers.set(record.kid, signer);
    return signer;
  }

  /** Runs a change of the ring in one transaction; the cache is dropped once it committed (or failed). */
  async #changeRing<T>(change: (tx: Transaction<DB>) => Promise<T>): Promise<T> {
    try {
      return await this.database.db.transaction().execute(async (tx) => {
        this.#changing.add(tx);
        return change(tx);
      });
    } finally {
      this.#ring = undefined;
    }
  }

  /**
   * Readiness: the active `purpose` key resolves to a signer and, where the provider can
   * describe its keys (KMS: DescribeKey), the key is enabled. Throws otherwise; signs nothing.
   */
  async assertActiveUsable(purpose: KeyPurpose): Promise<void> {
    const active = await findActiveKey(this.database.db, purpose);
    await this.activeSigner(purpose);
    if (!active || !this.provider.describeKey) return;
    const { keyState } = await this.provider.describeKey(active.keyRef);
    if (keyState !== 'Enabled') throw new Error(`the active ${purpose} key ${active.record.kid} is ${keyState ?? 'in no known state'}`);
  }

  /** Creates (file) or adopts (KMS) the first key for `purpose` when the ring has no active one. */
  async ensureActive(purpose: KeyPurpose, kid: string, opts: { kmsKeyId?: string } = {}): Promise<KeyRecord> {
    const active = await findActiveKey(this.database.db, purpose);
    if (active) return active.record;
    return this.#add(purpose, (await this.get(kid)) ? nextKid(kid) : kid, opts, undefined, 'system');
  }

  /**
   * Rotates `purpose`: a new key becomes active and the old one stops signing now. Its
   * earlier signatures keep verifying (its window closes, it is not revoked).
   */
  async rotate(
    purpose: KeyPurpose,
    opts: { kmsKeyId?: string } = {},
    actor = 'system',
  ): Promise<{ previous: KeyRecord | undefined; current: KeyRecord }> {
    if (this.provider.backend === 'kms' && !opts.kmsKeyId) {
      throw new AegisError('VALIDATION_FAILED', 'rotating a KMS-backed key needs the new key id', { field: 'kmsKeyId' });
    }
    const old = (await findActiveKey(this.database.db, purpose))?.record;
    let kid = old ? nextKid(old.kid) : `${purpose}-signer-v1`;
    while (await this.get(kid)) kid = nextKid(kid);
    const current = await this.#add(purpose, kid, opts, old?.kid, actor);
    return { previous: old ? await this.get(old.kid) : undefined, current };
  }

  /**
   * Enrols a public key generated elsewhere (an approver's or a sign-off signer's machine): the private half never
   * reaches the server. Valid from now until `notAfter` (or until revoked).
   */
  async enroll(
    input: { kid: string; purpose: EnrolledPurpose; publicKey: string; owner: string; notAfter?: string | undefined },
    actor: string,
  ): Promise<KeyRecord> {
    const alg = enrolledKeyAlg(input.publicKey);
    if (await this.get(input.kid)) throw new AegisError('CONFLICT', `key ${input.kid} already exists`, { field: 'kid' });
    const now = this.clock.now();
    if (input.notAfter && !(Date.parse(input.notAfter) > now.getTime()))
      throw new AegisError('VALIDATION_FAILED', 'notAfter must be in the future', { field: 'notAfter' });
    try {
      await this.#changeRing(async (tx) => {
        const key = {
          kid: input.kid,
          purpose: input.purpose,
          alg,
          publicKey: input.publicKey,
          backend: 'external' as const,
          notBefore: now.toISOString(),
          notAfter: input.notAfter ?? null,
          owner: input.owner,
        };
        await insertKey(tx, signingKeyRow({ ...key, revokedAt: null }, ''));
        await this.audit.append(tx, { type: 'key.enrolled', actor, subject: `key:${input.kid}`, payload: { key } });
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new AegisError('CONFLICT', `key ${input.kid} already exists`, { field: 'kid' });
      throw e;
    }
    return (await this.get(input.kid))!;
  }

  /** Revokes a key: every signature it ever made stops verifying. */
  async revoke(kid: string, actor = 'system'): Promise<KeyRecord> {
    const existing = await this.get(kid);
    if (!existing) throw new AegisError('NOT_FOUND', `no key ${kid}`, { field: 'kid' });
    if (existing.revokedAt) throw new AegisError('CONFLICT', `key ${kid} is already revoked`, { field: 'kid' });
    const now = this.clock.now();
    await this.#changeRing(async (tx) => {
      await revokeKey(tx, kid, { revokedAt: now, notAfter: existing.notAfter ? toDate(existing.notAfter) : now });
      await this.audit.append(tx, {
        type: 'key.revoked',
        actor,
        subject: `key:${kid}`,
        payload: { kid, purpose: existing.purpose, revokedAt: now.toISOString() },
      });
    });
    this.#signers.delete(kid);
    return (await this.get(kid))!;
  }

  async #add(purpose: KeyPurpose, kid: string, opts: { kmsKeyId?: string }, retire: string | undefined, actor: string): Promise<KeyRecord> {
    const { record, keyRef } = await this.provider.create(purpose, kid, opts);
    const now = this.clock.now();
    await this.#changeRing(async (tx) => {
      if (retire) await retireKey(tx, retire, now);
      // The public key goes into the chain, so the key ring can be rebuilt from the archive.
      const key = { kid, purpose, alg: record.alg, publicKey: record.publicKey, backend: record.backend, notBefore: now.toISOString() };
      await insertKey(tx, signingKeyRow({ ...key, notAfter: null, revokedAt: null }, keyRef));
      await this.audit.append(
        tx,
        retire
          ? { type: 'key.rotated', actor, subject: `key:${kid}`, payload: { key, previous: retire, previousNotAfter: now.toISOString() } }
          : { type: 'key.created', actor, subject: `key:${kid}`, payload: { key } },
      );
    });
    if (retire) this.#signers.delete(retire);
    return (await this.get(kid))!;
  }
}

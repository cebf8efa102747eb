import { AegisError } from '../../kernel/errors.js';
import { isUniqueViolation } from '../../platform/sql/errors.js';
import type { EnrolledPurpose, KeyPurpose, KeyRecord } from '../../kernel/signatures.js';
import { toDate } from '../../platform/sql/schema.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database, Executor } from '../../platform/ports/database.js';
import type { KeyProvider, Signer } from '../../platform/ports/signer.js';
import type { AuditLog } from '../../platform/audit/log.js';
import { enrolledKeyAlg, nextKid } from './domain.js';
import { findActiveKey, findKey, insertKey, listKeys, retireKey, revokeKey, signingKeyRow } from './store.js';

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

/**
 * The key ring: public keys with validity windows, kept in the database, and the one
 * active signer per purpose. Private keys stay in the {@link KeyProvider}.
 */
export class KeyService {
  readonly #signers = new Map<string, Signer>();

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
    if (!active)
      throw new AegisError(
        'NO_ACTIVE_SIGNING_KEY',
        `no active ${purpose} signing key: an operator must rotate one in (POST /v1/keys/rotate)`,
      );
    const { record, keyRef } = active;
    const cached = this.#signers.get(record.kid);
    if (cached) return cached;
    const signer = outageAware(this.provider.signer(record.kid, record.alg, keyRef), purpose);
    this.#signers.set(record.kid, signer);
    return signer;
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
      await this.database.db.transaction().execute(async (tx) => {
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
    await this.database.db.transaction().execute(async (tx) => {
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
    await this.database.db.transaction().execute(async (tx) => {
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

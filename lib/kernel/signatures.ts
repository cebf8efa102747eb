import { createPublicKey, verify as cryptoVerify, webcrypto, type KeyObject } from 'node:crypto';
import { canonicalBytes } from './canonical.js';
import { manifestSha256, type TrainingManifest } from './manifest.js';

/** `ed25519` (KMS ED25519_SHA_512 / file keys) or `ecdsa-p256-sha256` (KMS ECDSA_SHA_256, DER). */
export const SIGNATURE_ALGS = ['ed25519', 'ecdsa-p256-sha256'] as const;
export type SignatureAlg = (typeof SIGNATURE_ALGS)[number];

/** Who signs an acceptance off (`signoffs/<role>.sig`); each role has its own key purpose. */
export const SIGNOFF_ROLES = ['ml_lead', 'security_engineer'] as const;
export type SignoffRole = (typeof SIGNOFF_ROLES)[number];
export const signoffPurpose = (role: SignoffRole) => `signoff:${role}` as const;

export const KEY_PURPOSES = ['manifest', 'audit', 'approver', signoffPurpose('ml_lead'), signoffPurpose('security_engineer')] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];
/** Keys generated on their holders' machines and enrolled (public half only): approvers and sign-off roles. */
export const ENROLLED_PURPOSES = ['approver', signoffPurpose('ml_lead'), signoffPurpose('security_engineer')] as const;
export type EnrolledPurpose = (typeof ENROLLED_PURPOSES)[number];

/** A public key in the key ring with the window in which its signatures are valid. */
export interface KeyRecord {
  kid: string;
  purpose: KeyPurpose;
  alg: SignatureAlg;
  /** base64 of the DER SubjectPublicKeyInfo */
  publicKey: string;
  backend: 'file' | 'kms' | 'external';
  notBefore: string;
  /** set when the key is rotated out; signatures made after it are refused */
  notAfter: string | null;
  /** set when the key is revoked; every signature by it is refused */
  revokedAt: string | null;
  /** enrolled keys (approvers, sign-offs): the principal who holds the private half */
  owner?: string | null;
}

export interface SignatureRecord {
  manifestSignatureId: string;
  signerId: string;
  alg: SignatureAlg;
  /** base64 */
  signature: string;
  ts: string;
}

/**
 * The small statement that is actually signed: it binds the manifest by its sha256, so the
 * message stays far below KMS's 4096-byte RAW limit however large the manifest grows.
 */
export function manifestStatement(manifest: TrainingManifest, sig: Pick<SignatureRecord, 'manifestSignatureId' | 'signerId' | 'ts'>) {
  return {
    type: 'aegis.manifest-signature/v1',
    manifestSignatureId: sig.manifestSignatureId,
    artifactId: manifest.artifactId,
    modelName: manifest.modelName,
    artifactSha256: manifest.artifactSha256,
    manifestSha256: manifestSha256(manifest),
    signerId: sig.signerId,
    ts: sig.ts,
  };
}

export const statementBytes = (statement: object): Buffer => canonicalBytes(statement);

const keyCache = new Map<string, KeyObject>();
function publicKeyObject(publicKeyB64: string): KeyObject {
  let key = keyCache.get(publicKeyB64);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(publicKeyB64, 'base64'), format: 'der', type: 'spki' });
    if (keyCache.size > 1000) keyCache.clear();
    keyCache.set(publicKeyB64, key);
  }
  return key;
}

/** Verifies a raw signature; malformed keys or signatures verify as false rather than throw. */
export function verifyRaw(alg: SignatureAlg, publicKeyB64: string, message: Uint8Array, signatureB64: string): boolean {
  try {
    const key = publicKeyObject(publicKeyB64);
    const sig = Buffer.from(signatureB64, 'base64');
    if (alg === 'ed25519') return key.asymmetricKeyType === 'ed25519' && cryptoVerify(null, message, key, sig);
    return key.asymmetricKeyType === 'ec' && cryptoVerify('sha256', message, key, sig);
  } catch {
    return false;
  }
}

/** One signature for {@link verifyRawMany}. */
export interface RawSignature {
  alg: SignatureAlg;
  /** base64 of the DER SubjectPublicKeyInfo */
  publicKey: string;
  message: Uint8Array;
  /** base64 */
  signature: string;
}

const cryptoKeyCache = new Map<string, Promise<webcrypto.CryptoKey>>();
function ed25519CryptoKey(publicKeyB64: string): Promise<webcrypto.CryptoKey> {
  let key = cryptoKeyCache.get(publicKeyB64);
  if (!key) {
    key = webcrypto.subtle.importKey('spki', Buffer.from(publicKeyB64, 'base64'), { name: 'Ed25519' }, false, ['verify']);
    if (cryptoKeyCache.size > 1000) cryptoKeyCache.clear();
    cryptoKeyCache.set(publicKeyB64, key);
  }
  return key;
}

/**
 * {@link verifyRaw} of many signatures at once, each answer at its index. Ed25519 signatures are
 * verified by WebCrypto on libuv's thread pool, in parallel on every core, while this thread
 * goes on (e.g. hashing the events they sign); other algorithms here, one after the other.
 */
export async function verifyRawMany(items: readonly RawSignature[]): Promise<boolean[]> {
  return Promise.all(
    items.map(async (x) => {
      if (x.alg !== 'ed25519') return verifyRaw(x.alg, x.publicKey, x.message, x.signature);
      try {
        const key = await ed25519CryptoKey(x.publicKey);
        return await webcrypto.subtle.verify({ name: 'Ed25519' }, key, Buffer.from(x.signature, 'base64'), x.message);
      } catch {
        return false; // a malformed key or signature, as verifyRaw answers
      }
    }),
  );
}

export type KeyCheck = { ok: true } | { ok: false; reason: string };

/** Is `key` allowed to have made a signature at `signedAt`? Revocation voids every signature. */
export function checkSignerValidity(key: KeyRecord | undefined, signedAt: string, purpose: KeyPurpose): KeyCheck {
  if (!key) return { ok: false, reason: 'signer is not in the key ring' };
  if (key.purpose !== purpose) return { ok: false, reason: `signer is for ${key.purpose} signatures, not ${purpose}` };
  if (key.revokedAt) return { ok: false, reason: `signer was revoked at ${key.revokedAt}` };
  const t = Date.parse(signedAt);
  if (Number.isNaN(t)) return { ok: false, reason: 'signature timestamp is not a date' };
  if (t < Date.parse(key.notBefore)) return { ok: false, reason: `signature predates the key's validity (${key.notBefore})` };
  if (key.notAfter && t > Date.parse(key.notAfter))
    return { ok: false, reason: `signature made after the key was rotated out (${key.notAfter})` };
  return { ok: true };
}

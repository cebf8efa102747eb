/** The signing port: Ed25519 signers and the key ring. Adapters: `adapters/signing/{file,kms}.ts`; contract suite: `test/contracts/signer.contract.ts`. */
import type { KeyPurpose, KeyRecord, SignatureAlg } from '../../kernel/signatures.js';

/**
 * Signs small messages with one key. Ed25519 (file key or KMS `ED25519_SHA_512`, RAW) or
 * ECDSA P-256 (KMS `ECDSA_SHA_256`, RAW, DER signature). Private keys never leave it.
 */
export interface Signer {
  readonly kid: string;
  readonly alg: SignatureAlg;
  sign(message: Uint8Array): Promise<Buffer>;
}

/**
 * Where signing keys live (key files in the data folder, or KMS). The key ring itself —
 * public keys and validity windows — is kept in the database by the key service.
 */
export interface KeyProvider {
  readonly backend: 'file' | 'kms';
  /**
   * Makes a new key (file backend) or adopts an existing one (`kmsKeyId`, KMS backend) and
   * returns its public description; `keyRef` is what {@link signer} needs to find it again.
   */
  create(
    purpose: KeyPurpose,
    kid: string,
    opts?: { kmsKeyId?: string },
  ): Promise<{ record: Omit<KeyRecord, 'notBefore' | 'notAfter' | 'revokedAt'>; keyRef: string }>;
  signer(kid: string, alg: SignatureAlg, keyRef: string): Signer;
  /** A KMS key's spec, usage and state, for the production startup checks (KMS only). */
  describeKey?(kmsKeyId: string): Promise<{ keySpec: string | undefined; keyUsage: string | undefined; keyState: string | undefined }>;
}

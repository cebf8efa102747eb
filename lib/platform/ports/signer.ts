/** The signing port: Ed25519 signers and the key ring. Adapters: `adapters/signing/{file,kms}.ts`; contract suite: `test/contracts/signer.contract.ts`. */
import { AegisError } from '../../kernel/errors.js';
import type { KeyPurpose, KeyRecord, SignatureAlg } from '../../kernel/signatures.js';

/**
 * The design's signed-message limit, which is KMS's RAW limit: every signer refuses longer
 * messages the same way, so a caller that passes locally does not start failing on AWS
 * (moto_server does not enforce it either).
 */
export const MAX_SIGNED_MESSAGE_BYTES = 4096;

/** Refuses a message no signer may sign: callers sign a statement that binds the payload by its sha256. */
export function assertSignable(message: Uint8Array): void {
  if (message.byteLength > MAX_SIGNED_MESSAGE_BYTES) {
    throw new AegisError(
      'PAYLOAD_TOO_LARGE',
      `message is ${message.byteLength} bytes; at most ${MAX_SIGNED_MESSAGE_BYTES} can be signed (sign a statement that binds the payload by its sha256)`,
      { field: 'message' },
    );
  }
}

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

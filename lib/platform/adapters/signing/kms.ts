import { DescribeKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand, type SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { AegisError } from '../../../kernel/errors.js';
import type { KeyPurpose, SignatureAlg } from '../../../kernel/signatures.js';
import { assertSignable, type KeyProvider, type Signer } from '../../ports/signer.js';

/** Same kid alphabet as file keys, so a key ring can move between backends. */
const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The KMS key specs Aegis signs with, and how each maps onto our algorithms. */
const SPECS = {
  ECC_NIST_EDWARDS25519: { alg: 'ed25519', signingAlgorithm: 'ED25519_SHA_512' },
  ECC_NIST_P256: { alg: 'ecdsa-p256-sha256', signingAlgorithm: 'ECDSA_SHA_256' },
} as const satisfies Record<string, { alg: SignatureAlg; signingAlgorithm: SigningAlgorithmSpec }>;

const SIGNING_ALGORITHM: Record<SignatureAlg, SigningAlgorithmSpec> = {
  ed25519: SPECS.ECC_NIST_EDWARDS25519.signingAlgorithm,
  'ecdsa-p256-sha256': SPECS.ECC_NIST_P256.signingAlgorithm,
};

/**
 * KMS errors become domain errors. Messages name the kid only: KMS messages carry key ARNs
 * (and so the account id), which callers must not see; the original stays as `cause` for
 * the server log.
 */
function kmsError(e: unknown, kid: string, field?: string): AegisError {
  const name = (e as { name?: string } | undefined)?.name;
  const opts = { cause: e, details: { kmsError: name }, ...(field ? { field } : {}) };
  switch (name) {
    case 'NotFoundException':
      return new AegisError('KEY_UNKNOWN', `the KMS key of kid ${kid} does not exist`, opts);
    case 'DisabledException':
    case 'KMSInvalidStateException':
      return new AegisError('KEY_UNKNOWN', `the KMS key of kid ${kid} is disabled or pending deletion`, opts);
    case 'AccessDeniedException':
      return new AegisError('INTERNAL', `access to the KMS key of kid ${kid} was denied`, opts);
    default:
      return new AegisError('INTERNAL', `KMS failed for kid ${kid}`, opts);
  }
}

/**
 * Signing keys in AWS KMS. Keys are created outside Aegis (CDK) and adopted by id, alias or
 * ARN; Aegis never sees private key material. Ed25519 (`ECC_NIST_EDWARDS25519`) in
 * production, ECDSA P-256 where Ed25519 is unavailable (moto_server in tests).
 *
 * @example
 * const keys = new KmsKeyProvider({ client: new KMSClient({}) });
 * const { record, keyRef } = await keys.create('manifest', 'manifest-signer-v2', { kmsKeyId: 'alias/aegis-manifest' });
 * const signature = await keys.signer(record.kid, record.alg, keyRef).sign(statement);
 */
export class KmsKeyProvider implements KeyProvider {
  readonly backend = 'kms' as const;
  readonly #client: KMSClient;

  readonly #ed25519Only: boolean;

  /**
   * @param opts.ed25519Only refuse to adopt anything but `ECC_NIST_EDWARDS25519` (production,
   *   unless the test-only P-256 allowance is in effect). @default false
   * @param opts.endpoint a KMS endpoint to use whatever the environment says (the P-256 test
   *   allowance pins the loopback emulator it was checked against)
   */
  constructor(opts: { client?: KMSClient; ed25519Only?: boolean; endpoint?: string } = {}) {
    this.#client = opts.client ?? new KMSClient(opts.endpoint ? { endpoint: opts.endpoint } : {});
    this.#ed25519Only = opts.ed25519Only ?? false;
  }

  /** DescribeKey (`kms:DescribeKey`): errors are thrown as the SDK gives them. */
  async describeKey(kmsKeyId: string) {
    const meta = (await this.#client.send(new DescribeKeyCommand({ KeyId: kmsKeyId }))).KeyMetadata;
    return { keySpec: meta?.KeySpec, keyUsage: meta?.KeyUsage, keyState: meta?.KeyState };
  }

  async create(purpose: KeyPurpose, kid: string, opts: { kmsKeyId?: string } = {}) {
    if (!KID_PATTERN.test(kid)) {
      throw new AegisError('VALIDATION_FAILED', 'kid must be 1-64 letters, digits, ".", "_" or "-"', { field: 'kid' });
    }
    const { kmsKeyId } = opts;
    if (!kmsKeyId) throw new AegisError('VALIDATION_FAILED', 'a KMS key id, alias or ARN is required', { field: 'kmsKeyId' });

    const refuse = (why: string) => new AegisError('VALIDATION_FAILED', `the KMS key for kid ${kid} ${why}`, { field: 'kmsKeyId' });
    const { meta, publicKey } = await this.#read(kmsKeyId).catch((e: unknown) => {
      throw kmsError(e, kid, 'kmsKeyId');
    });
    if (!meta?.Arn) throw refuse('has no metadata');
    if (meta.KeyUsage !== 'SIGN_VERIFY') throw refuse(`is not a signing key (KeyUsage ${meta.KeyUsage ?? 'not set'})`);
    if (meta.KeyState !== 'Enabled') throw refuse(`is not enabled (KeyState ${meta.KeyState})`);
    const spec = SPECS[meta.KeySpec as keyof typeof SPECS];
    if (!spec) throw refuse(`has key spec ${meta.KeySpec}; only ${Object.keys(SPECS).join(' and ')} can sign`);
    if (this.#ed25519Only && meta.KeySpec !== 'ECC_NIST_EDWARDS25519')
      throw refuse(`has key spec ${meta.KeySpec}; production signs with ECC_NIST_EDWARDS25519 only`);
    if (!meta.SigningAlgorithms?.includes(spec.signingAlgorithm)) throw refuse(`does not offer ${spec.signingAlgorithm}`);
    if (!publicKey?.length) throw refuse('returned no public key');

    return {
      record: { kid, purpose, alg: spec.alg, publicKey: Buffer.from(publicKey).toString('base64'), backend: 'kms' as const },
      // The ARN, never an alias: re-pointing an alias must not silently change which key signs as this kid.
      keyRef: meta.Arn,
    };
  }

  /**
   * DescribeKey, then GetPublicKey by the resolved ARN so both answers describe the same key.
   * Keys that cannot sign get no GetPublicKey: real KMS refuses it for symmetric or disabled
   * keys (moto answers), and `create` explains the refusal better from the metadata.
   */
  async #read(kmsKeyId: string) {
    const meta = (await this.#client.send(new DescribeKeyCommand({ KeyId: kmsKeyId }))).KeyMetadata;
    if (!meta?.Arn || meta.KeyUsage !== 'SIGN_VERIFY' || meta.KeyState !== 'Enabled') return { meta, publicKey: undefined };
    const { PublicKey: publicKey } = await this.#client.send(new GetPublicKeyCommand({ KeyId: meta.Arn }));
    return { meta, publicKey };
  }

  signer(kid: string, alg: SignatureAlg, keyRef: string): Signer {
    return new KmsSigner(this.#client, kid, alg, keyRef);
  }
}

/**
 * Signs with one KMS key (`Sign`, MessageType RAW). Returns what KMS returns: 64 raw bytes
 * for Ed25519, a DER signature for ECDSA (node's `crypto.verify('sha256', …)` takes DER).
 */
export class KmsSigner implements Signer {
  readonly #client: KMSClient;
  readonly #keyRef: string;

  constructor(
    client: KMSClient,
    readonly kid: string,
    readonly alg: SignatureAlg,
    keyRef: string,
  ) {
    this.#client = client;
    this.#keyRef = keyRef;
  }

  async sign(message: Uint8Array): Promise<Buffer> {
    assertSignable(message);
    const command = new SignCommand({
      KeyId: this.#keyRef,
      Message: message,
      MessageType: 'RAW',
      SigningAlgorithm: SIGNING_ALGORITHM[this.alg],
    });
    const { Signature: signature } = await this.#client.send(command).catch((e: unknown) => {
      throw kmsError(e, this.kid);
    });
    if (!signature?.length) throw new AegisError('INTERNAL', `KMS returned no signature for kid ${this.kid}`);
    return Buffer.from(signature);
  }

  toJSON() {
    return { kid: this.kid, alg: this.alg, backend: 'kms' };
  }
}

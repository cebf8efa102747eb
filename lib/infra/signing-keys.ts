import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { pin } from './pin.js';

export interface AegisKeysProps {
  /**
   * Alias prefix, so operators can find the keys: `alias/<prefix>/manifest-signing` and so on.
   * Must be unique per account and region (one stack per environment).
   *
   * @default - no aliases
   */
  readonly aliasPrefix?: string;
}

/**
 * The KMS keys of one environment: two Ed25519 signing keys (manifests, audit events) and a
 * symmetric key for buckets, the database and its secret. All are retained on stack deletion:
 * losing a signing key means old signatures can no longer be checked against KMS, losing the
 * data key means the data it encrypted is gone.
 *
 * @example
 * const keys = new AegisKeys(this, 'Keys', { aliasPrefix: 'aegis/dev' });
 * keys.manifestSigningKey.grant(registerFn, 'kms:Sign');
 */
export class AegisKeys extends Construct {
  /** Ed25519 key that signs manifest statements (`ED25519_SHA_512`, message type RAW). */
  public readonly manifestSigningKey: kms.Key;
  /** Ed25519 key that signs audit events. */
  public readonly auditSigningKey: kms.Key;
  /** Symmetric key, rotated yearly, for data at rest. */
  public readonly dataKey: kms.Key;

  constructor(scope: Construct, id: string, props: AegisKeysProps = {}) {
    super(scope, id);
    if (props.aliasPrefix !== undefined && !/^[A-Za-z0-9/_-]{1,200}$/.test(props.aliasPrefix)) {
      throw new Error('aliasPrefix must be 1-200 of A-Z a-z 0-9 / _ -');
    }

    this.manifestSigningKey = this.#signingKey('ManifestSigningKey', 'Aegis manifest signing (Ed25519)');
    this.auditSigningKey = this.#signingKey('AuditSigningKey', 'Aegis audit event signing (Ed25519)');
    this.dataKey = new kms.Key(this, 'DataKey', {
      description: 'Aegis data at rest: artifact and audit buckets, registry database and its secret',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(this.dataKey, 'DataKey');

    if (props.aliasPrefix) {
      new kms.Alias(this, 'ManifestSigningAlias', {
        aliasName: `alias/${props.aliasPrefix}/manifest-signing`,
        targetKey: this.manifestSigningKey,
      });
      new kms.Alias(this, 'AuditSigningAlias', { aliasName: `alias/${props.aliasPrefix}/audit-signing`, targetKey: this.auditSigningKey });
      new kms.Alias(this, 'DataAlias', { aliasName: `alias/${props.aliasPrefix}/data`, targetKey: this.dataKey });
    }
  }

  #signingKey(id: string, description: string): kms.Key {
    // Asymmetric keys cannot rotate in place; rotation is a new key plus `POST /v1/keys/rotate`.
    const key = new kms.Key(this, id, {
      description,
      keySpec: kms.KeySpec.ECC_NIST_EDWARDS25519,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(key, id);
    return key;
  }
}

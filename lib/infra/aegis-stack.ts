import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { Role } from '../config.js';
import { ROLES } from '../http/routes.js';
import { API_ROUTE_IDS, ApiFunctions, type ApiRouteId } from './api-functions.js';
import { RegistryDatabase } from './registry-database.js';
import { AegisRestApi } from './rest-api.js';
import { SchemaMigrations } from './schema-migrations.js';
import { AegisKeys } from './signing-keys.js';
import { AegisStorage } from './storage.js';

/** The repository root: `lambdas/` and `package-lock.json` live there. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface AegisStackProps extends StackProps {
  /** Environment name (`-c env=…`): lower-case letters, digits and dashes. */
  readonly envName: string;
  /**
   * IAM principal ARN → Aegis role, for callers of the IAM-authorized API
   * (`AEGIS_IAM_ROLE_MAP`).
   *
   * @default {}
   */
  readonly iamRoleMap?: Readonly<Record<string, Role>>;
  /**
   * Where `lambdas/` and `package-lock.json` are.
   *
   * @default REPO_ROOT
   */
  readonly projectRoot?: string;
  /**
   * Default COMPLIANCE retention of the audit archive.
   *
   * @default Duration.days(2557) (7 years)
   */
  readonly auditRetention?: Duration;
  /**
   * Changes on every deploy so migrations run every time; fix it in tests.
   *
   * @default the synth time
   */
  readonly deployNonce?: string;
}

/**
 * Aegis on AWS, one stack per environment and environment-agnostic (no lookups, so synth
 * needs no credentials): KMS keys, Object Lock buckets, Aurora Serverless v2 behind the Data
 * API, one Lambda per API route behind an IAM-authorized REST API, and migrations that run
 * on every deploy before new code takes traffic.
 *
 * @example
 * new AegisStack(app, 'aegis-dev', { envName: 'dev', iamRoleMap: { 'arn:aws:iam::123456789012:role/ci': 'publisher' } });
 */
export class AegisStack extends Stack {
  public readonly keys: AegisKeys;
  public readonly storage: AegisStorage;
  public readonly database: RegistryDatabase;
  public readonly migrations: SchemaMigrations;
  public readonly apiFunctions: ApiFunctions;
  public readonly restApi: AegisRestApi;

  constructor(scope: Construct, id: string, props: AegisStackProps) {
    super(scope, id, props);
    if (!/^[a-z][a-z0-9-]{0,19}$/.test(props.envName)) {
      throw new Error('envName must be 1-20 of a-z 0-9 - starting with a letter');
    }
    const iamRoleMap = props.iamRoleMap ?? {};
    for (const [principal, role] of Object.entries(iamRoleMap)) {
      if (!principal.startsWith('arn:')) throw new Error(`iamRoleMap key ${principal} is not an IAM principal ARN`);
      if (!(ROLES as readonly string[]).includes(role)) throw new Error(`iamRoleMap maps ${principal} to ${String(role)}; roles are ${ROLES.join(', ')}`);
    }
    const projectRoot = props.projectRoot ?? REPO_ROOT;

    this.keys = new AegisKeys(this, 'Keys', { aliasPrefix: `aegis/${props.envName}` });
    this.storage = new AegisStorage(this, 'Storage', {
      encryptionKey: this.keys.dataKey,
      ...(props.auditRetention && { auditRetention: props.auditRetention }),
    });
    this.database = new RegistryDatabase(this, 'Database', { encryptionKey: this.keys.dataKey });

    const environment: Record<string, string> = {
      NODE_ENV: 'production',
      REQUIRE_KMS: 'true',
      MODEL_REGISTRY_DATABASE_URL: this.database.databaseUrl,
      MODEL_REGISTRY_S3_BUCKET: this.storage.artifactBucket.bucketName,
      MANIFEST_SIGNING_KMS_KEY_ID: this.keys.manifestSigningKey.keyArn,
      AUDIT_SIGNING_KMS_KEY_ID: this.keys.auditSigningKey.keyArn,
      AEGIS_AUDIT_ARCHIVE_BUCKET: this.storage.auditArchiveBucket.bucketName,
      MANIFEST_SIGNER_KID: 'manifest-signer-v1',
      AEGIS_IAM_ROLE_MAP: JSON.stringify(iamRoleMap),
      POWERTOOLS_SERVICE_NAME: 'aegis',
    };

    this.migrations = new SchemaMigrations(this, 'Migrations', {
      projectRoot,
      environment,
      database: this.database,
      signingKeys: [this.keys.manifestSigningKey, this.keys.auditSigningKey],
      ...(props.deployNonce !== undefined && { deployNonce: props.deployNonce }),
    });

    this.apiFunctions = new ApiFunctions(this, 'Functions', {
      projectRoot,
      environment,
      database: this.database,
      artifactBucket: this.storage.artifactBucket,
      dataKey: this.keys.dataKey,
      manifestSigningKey: this.keys.manifestSigningKey,
      auditSigningKey: this.keys.auditSigningKey,
    });
    // New handler code goes live only once the schema it expects is in place.
    for (const fn of Object.values(this.apiFunctions.functions)) fn.function.node.addDependency(this.migrations.resource);

    const handlers = {} as Record<ApiRouteId, lambda.IFunction>;
    for (const routeId of API_ROUTE_IDS) handlers[routeId] = this.apiFunctions.functions[routeId].function;
    this.restApi = new AegisRestApi(this, 'Api', { handlers });

    new CfnOutput(this, 'ApiUrl', { value: this.restApi.api.url, description: 'Base URL of the REST API stage' });
    new CfnOutput(this, 'ArtifactBucketName', { value: this.storage.artifactBucket.bucketName });
    new CfnOutput(this, 'AuditArchiveBucketName', { value: this.storage.auditArchiveBucket.bucketName });
    new CfnOutput(this, 'ManifestSigningKeyId', { value: this.keys.manifestSigningKey.keyId });
    new CfnOutput(this, 'AuditSigningKeyId', { value: this.keys.auditSigningKey.keyId });
    new CfnOutput(this, 'DataKeyId', { value: this.keys.dataKey.keyId });
    new CfnOutput(this, 'ClusterArn', { value: this.database.cluster.clusterArn });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.database.secret.secretArn });
  }
}

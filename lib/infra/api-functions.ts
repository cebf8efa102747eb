import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ROUTES, type RouteId } from '../http/routes.js';
import { acknowledge } from './acknowledge.js';
import { AegisFunction } from './aegis-function.js';
import { logicalIdOf } from './pin.js';
import type { RegistryDatabase } from './registry-database.js';

/** Routes deployed to AWS: every route except the local server's own. */
export type ApiRouteId = { [K in RouteId]: (typeof ROUTES)[K] extends { localOnly: true } ? never : K }[RouteId];

export const API_ROUTE_IDS = (Object.keys(ROUTES) as RouteId[]).filter((id): id is ApiRouteId => !('localOnly' in ROUTES[id] && ROUTES[id].localOnly));

/** What one route's function may touch beyond the database (which every function reads and writes). */
export interface RouteAccess {
  /** `read`: get/head/tag reads; `write`: also put, tag and set retention (never delete). */
  readonly artifacts: 'read' | 'write';
  /** kms:Sign on the manifest signing key. */
  readonly signManifests?: boolean;
  /** kms:DescribeKey and kms:GetPublicKey on both signing keys (adopting a key into the ring). */
  readonly describeSigningKeys?: boolean;
}

/**
 * Least privilege per route. Public keys are served from the database, so listing keys and
 * verifying signatures need no KMS access at all; only registering signs.
 */
export const ROUTE_ACCESS = {
  health: { artifacts: 'read' },
  openapi: { artifacts: 'read' },
  keysList: { artifacts: 'read' },
  keysRotate: { artifacts: 'read', describeSigningKeys: true },
  uploadsCreate: { artifacts: 'write' },
  register: { artifacts: 'write', signManifests: true },
  modelsList: { artifacts: 'read' },
  versionsList: { artifacts: 'read' },
  versionGet: { artifacts: 'read' },
  artifactGet: { artifacts: 'read' },
  artifactValidate: { artifacts: 'read' },
  verifyManifest: { artifacts: 'read' },
  datasetsCreate: { artifacts: 'read' },
  datasetGet: { artifacts: 'read' },
  lineageGet: { artifacts: 'read' },
  // the bundle index is signed with the manifest key
  lineageBundle: { artifacts: 'read', signManifests: true },
  auditList: { artifacts: 'read' },
  auditVerify: { artifacts: 'read' },
  auditArchive: { artifacts: 'read' },
} as const satisfies Record<ApiRouteId, RouteAccess>;

export interface ApiFunctionsProps {
  /** Absolute path of the repository root (holds `lambdas/` and `package-lock.json`). */
  readonly projectRoot: string;
  /** Environment shared by every function (configuration read by `lib/config.ts`). */
  readonly environment: Readonly<Record<string, string>>;
  readonly database: RegistryDatabase;
  readonly artifactBucket: s3.IBucket;
  /** The key the artifact bucket is encrypted with. */
  readonly dataKey: kms.IKey;
  readonly manifestSigningKey: kms.IKey;
  readonly auditSigningKey: kms.IKey;
  /** @default ROUTE_ACCESS */
  readonly access?: Readonly<Record<ApiRouteId, RouteAccess>>;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * One Lambda function per API route (see `lib/http/routes.ts`), each with exactly the grants
 * its route needs.
 *
 * @example
 * const fns = new ApiFunctions(this, 'Functions', { projectRoot, environment, database, artifactBucket, dataKey, manifestSigningKey, auditSigningKey });
 * fns.functions.register.function.functionArn;
 */
export class ApiFunctions extends Construct {
  public readonly functions: Readonly<Record<ApiRouteId, AegisFunction>>;

  constructor(scope: Construct, id: string, props: ApiFunctionsProps) {
    super(scope, id);
    const access: Readonly<Record<ApiRouteId, RouteAccess>> = props.access ?? ROUTE_ACCESS;
    const functions = {} as Record<ApiRouteId, AegisFunction>;
    for (const routeId of API_ROUTE_IDS) {
      const route = ROUTES[routeId];
      const fn = new AegisFunction(this, route.id, {
        entry: route.entry,
        projectRoot: props.projectRoot,
        description: `${route.method} ${route.path}: ${route.summary}`,
        environment: props.environment,
        ...(props.logRetention !== undefined && { logRetention: props.logRetention }),
      });
      functions[routeId] = fn;

      props.database.grantDataApiAccess(fn.role);
      grantArtifactAccess(fn, props.artifactBucket, props.dataKey, access[routeId].artifacts);
      if (access[routeId].signManifests) props.manifestSigningKey.grant(fn.role, 'kms:Sign');
      if (access[routeId].describeSigningKeys) {
        for (const key of [props.manifestSigningKey, props.auditSigningKey]) key.grant(fn.role, 'kms:DescribeKey', 'kms:GetPublicKey');
      }
    }
    this.functions = functions;
  }
}

/** Object reads the S3 object store makes; retention and legal hold show in HeadObject only with their read permissions. */
const ARTIFACT_OBJECT_READ = [
  's3:GetObject',
  's3:GetObjectVersion',
  's3:GetObjectTagging',
  's3:GetObjectVersionTagging',
  's3:GetObjectRetention',
  's3:GetObjectLegalHold',
];
/** Writes: (multipart) puts, the sha256 tag, retention. No delete, no governance bypass. */
const ARTIFACT_OBJECT_WRITE = [
  's3:PutObject',
  's3:PutObjectTagging',
  's3:PutObjectVersionTagging',
  's3:PutObjectRetention',
  's3:AbortMultipartUpload',
];

function grantArtifactAccess(fn: AegisFunction, bucket: s3.IBucket, dataKey: kms.IKey, level: 'read' | 'write'): void {
  const objects = bucket.arnForObjects('*');
  // ListBucket also makes S3 answer 404 rather than 403 for a key that does not exist.
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
  fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ARTIFACT_OBJECT_READ, resources: [objects] }));
  dataKey.grant(fn.role, 'kms:Decrypt');
  if (level === 'write') {
    fn.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ARTIFACT_OBJECT_WRITE, resources: [objects] }));
    dataKey.grant(fn.role, 'kms:GenerateDataKey');
  }
  acknowledge(fn.role, {
    id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(bucket)}.Arn>/*]`,
    reason: 'Artifacts are stored under keys chosen at run time (model/version/sha256), so object permissions cover every key of this one bucket.',
  });
}


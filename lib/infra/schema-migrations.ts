import { CustomResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { grantStartupChecks } from './access.js';
import { acknowledge } from './acknowledge.js';
import { AegisFunction } from './aegis-function.js';
import { logicalIdOf } from './pin.js';
import type { RegistryDatabase } from './registry-database.js';

export interface SchemaMigrationsProps {
  /** Absolute path of the repository root. */
  readonly projectRoot: string;
  /**
   * The migrate handler, relative to `projectRoot`.
   *
   * @default 'lambdas/migrate.ts'
   */
  readonly entry?: string;
  /** Same configuration as the API functions (the handler loads the full config). */
  readonly environment: Readonly<Record<string, string>>;
  readonly database: RegistryDatabase;
  /**
   * Keys the migration adopts into the key ring after migrating (kms:DescribeKey and
   * kms:GetPublicKey only).
   *
   * @default - none
   */
  readonly signingKeys?: readonly kms.IKey[];
  /**
   * The audit key, which the migrate function signs with (kms:Sign): bootstrapping records
   * each key it creates or adopts as a `key.created` audit event.
   *
   * @default - no signing
   */
  readonly auditSigningKey?: kms.IKey;
  /**
   * The buckets and keys the production startup checks read (Object Lock configuration,
   * DescribeKey): the migrate function runs them too, all but the schema.
   *
   * @default - no grants (the function then fails its checks in production)
   */
  readonly startupChecks?: Parameters<typeof grantStartupChecks>[1];
  /**
   * A value that, when it changes, makes the migrations run again on the next deploy even if
   * nothing else changed (`-c deployNonce=…`).
   *
   * @default - none: they run when the migrate function's code or the configuration it
   * checks changes (its code asset and environment are the custom resource's properties), so
   * two synths of one tree give the same template
   */
  readonly deployNonce?: string;
  /** @default Duration.minutes(5) */
  readonly timeout?: Duration;
}

/**
 * Runs schema migrations on every deploy: the migrate function behind a custom resource, as
 * the database's master user; it then sets the application user's password and grants.
 * Make whatever serves traffic depend on {@link SchemaMigrations.resource}, so new code
 * only goes live on a migrated schema.
 *
 * @example
 * const migrations = new SchemaMigrations(this, 'Migrations', { projectRoot, environment, database });
 * apiFunction.node.addDependency(migrations.resource);
 */
export class SchemaMigrations extends Construct {
  public readonly migrateFunction: AegisFunction;
  public readonly provider: cr.Provider;
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: SchemaMigrationsProps) {
    super(scope, id);
    // The master user (the only function that has its secret), and the application user's secret to grant.
    const environment = {
      ...props.environment,
      MODEL_REGISTRY_DATABASE_URL: props.database.adminDatabaseUrl,
      AEGIS_APP_DATABASE_SECRET_ARN: props.database.appSecret.secretArn,
    };
    this.migrateFunction = new AegisFunction(this, 'migrate', {
      entry: props.entry ?? 'lambdas/migrate.ts',
      projectRoot: props.projectRoot,
      description: 'Schema migrations, key adoption and the application database user, run by CloudFormation on every deploy',
      environment,
      timeout: props.timeout ?? Duration.minutes(5),
    });
    props.database.grantMigratorAccess(this.migrateFunction.role);
    for (const key of props.signingKeys ?? []) key.grant(this.migrateFunction.role, 'kms:DescribeKey', 'kms:GetPublicKey');
    props.auditSigningKey?.grant(this.migrateFunction.role, 'kms:Sign');
    if (props.startupChecks) grantStartupChecks(this.migrateFunction.role, props.startupChecks);

    const frameworkLogs = new logs.LogGroup(this, 'ProviderLogs', {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const frameworkRole = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Aegis migrations: CloudFormation custom resource framework',
    });
    frameworkRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [frameworkLogs.logGroupArn] }),
    );
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.migrateFunction.function,
      frameworkOnEventRole: frameworkRole,
      logGroup: frameworkLogs,
    });
    acknowledge(frameworkRole, {
      id: `AwsSolutions-IAM5[Resource::<${logicalIdOf(this.migrateFunction.function)}.Arn>:*]`,
      reason:
        'The custom resource framework invokes any published version of the migrate function (lambda:InvokeFunction on its ARN with :*).',
    });

    this.resource = new CustomResource(this, 'Run', {
      serviceToken: this.provider.serviceToken,
      resourceType: 'Custom::AegisMigrations',
      properties: {
        // New code (new migrations) or new configuration (keys, buckets) runs the migrations
        // and the startup checks again; an unchanged tree synthesizes an unchanged template.
        MigrateCode: ((this.migrateFunction.function.node.defaultChild as lambda.CfnFunction).code as lambda.CfnFunction.CodeProperty)
          .s3Key,
        Environment: environment,
        ...(props.deployNonce !== undefined && { DeployNonce: props.deployNonce }),
      },
    });
  }
}

import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';
import { pin } from './pin.js';

export interface RegistryDatabaseProps {
  /** Customer managed key for storage, backups, the master user secret and the application user secret. */
  readonly encryptionKey: kms.IKey;
  /**
   * Database created in the cluster; the host part of `rdsdata://DATABASE?…`.
   *
   * @default 'aegis'
   */
  readonly databaseName?: string;
  /**
   * Serverless v2 capacity range in ACUs.
   *
   * @default { min: 0.5, max: 4 }
   */
  readonly capacity?: { readonly min: number; readonly max: number };
  /**
   * How long automated backups are kept (point-in-time recovery window).
   *
   * @default Duration.days(14)
   */
  readonly backupRetention?: Duration;
  /**
   * Daily window (UTC, `hh24:mi-hh24:mi`, at least 30 minutes) for the automated backup.
   * Point-in-time recovery needs nothing more: Aurora keeps the continuous backup for the
   * whole retention period.
   *
   * @default '03:00-04:00'
   */
  readonly preferredBackupWindow?: string;
  /**
   * Weekly maintenance window (UTC, `ddd:hh24:mi-ddd:hh24:mi`); must not overlap the backup window.
   *
   * @default 'sun:04:30-sun:05:30'
   */
  readonly preferredMaintenanceWindow?: string;
  /**
   * How long VPC flow logs are kept.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly flowLogRetention?: logs.RetentionDays;
  /**
   * The login role the functions connect as (the migrate step creates it and grants it what
   * the application needs; see `lib/platform/sql/app-user.ts`).
   *
   * @default 'aegis_app'
   */
  readonly appUsername?: string;
}

/** The RDS Data API calls a function makes (what `grantDataApiAccess` of the CDK grants, without the secret). */
const DATA_API_ACTIONS = [
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:ExecuteStatement',
  'rds-data:RollbackTransaction',
];

/**
 * The registry database: Aurora PostgreSQL Serverless v2 reached only through the RDS Data
 * API, so it lives in isolated subnets with no NAT and no inbound rules. The master password
 * is generated, stored and rotated by RDS in Secrets Manager; only the migrate step uses it.
 * Every other function connects as the application user, whose password the stack generates
 * into a secret of its own (encrypted with the data key) and the migrate step sets.
 *
 * @example
 * const db = new RegistryDatabase(this, 'Database', { encryptionKey: keys.dataKey });
 * db.grantDataApiAccess(fn);
 * fn.addEnvironment('MODEL_REGISTRY_DATABASE_URL', db.databaseUrl);
 * db.grantMigratorAccess(migrateFn);
 * migrateFn.addEnvironment('MODEL_REGISTRY_DATABASE_URL', db.adminDatabaseUrl);
 */
export class RegistryDatabase extends Construct {
  public readonly vpc: ec2.Vpc;
  public readonly cluster: rds.DatabaseCluster;
  /** The RDS-managed master user secret: the migrate step's only. */
  public readonly secret: secretsmanager.ISecret;
  /** The application user's secret (`{ username, password }`): what every other function's Data API calls authenticate with. */
  public readonly appSecret: secretsmanager.Secret;
  public readonly databaseName: string;
  /** `rdsdata://<database>?resourceArn=<cluster arn>&secretArn=<app secret arn>`, as `lib/platform/config.ts` reads it. */
  public readonly databaseUrl: string;
  /** The same with the master secret, for the migrate step. */
  public readonly adminDatabaseUrl: string;
  /** How long automated backups (and so point-in-time recovery) reach back. */
  public readonly backupRetention: Duration;
  /** Serverless v2 capacity bounds (ACUs). */
  public readonly capacity: { readonly min: number; readonly max: number };

  constructor(scope: Construct, id: string, props: RegistryDatabaseProps) {
    super(scope, id);
    this.databaseName = props.databaseName ?? 'aegis';
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(this.databaseName)) throw new Error('databaseName must be 1-63 of a-z 0-9 _ starting with a letter');
    const capacity = props.capacity ?? { min: 0.5, max: 4 };
    this.capacity = capacity;
    if (!(capacity.min >= 0 && capacity.max >= capacity.min && capacity.max <= 256)) {
      throw new Error('capacity must satisfy 0 <= min <= max <= 256');
    }
    this.backupRetention = props.backupRetention ?? Duration.days(14);
    const backupRetention = this.backupRetention;
    if (backupRetention.toDays() < 7 || backupRetention.toDays() > 35) throw new Error('backupRetention must be 7-35 days');
    const backupWindow = props.preferredBackupWindow ?? '03:00-04:00';
    const backupMinutes = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(backupWindow);
    if (!backupMinutes) throw new Error('preferredBackupWindow must be hh24:mi-hh24:mi (UTC)');
    const [, h1, m1, h2, m2] = backupMinutes.map(Number) as [number, number, number, number, number];
    if ((h2 * 60 + m2 - (h1 * 60 + m1) + 1440) % 1440 < 30) throw new Error('preferredBackupWindow must be at least 30 minutes');
    const maintenanceWindow = props.preferredMaintenanceWindow ?? 'sun:04:30-sun:05:30';
    if (
      !/^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$/.test(
        maintenanceWindow,
      )
    ) {
      throw new Error('preferredMaintenanceWindow must be ddd:hh24:mi-ddd:hh24:mi (UTC)');
    }

    // Two AZs from Fn::GetAZs: an environment-agnostic stack needs no lookup for them.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', {
              retention: props.flowLogRetention ?? logs.RetentionDays.THREE_MONTHS,
              removalPolicy: RemovalPolicy.DESTROY,
            }),
          ),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });

    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_8 }),
      writer: rds.ClusterInstance.serverlessV2('Writer', { publiclyAccessible: false, autoMinorVersionUpgrade: true }),
      serverlessV2MinCapacity: capacity.min,
      serverlessV2MaxCapacity: capacity.max,
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      defaultDatabaseName: this.databaseName,
      // RDS generates, stores and rotates the password; no rotation Lambda in the VPC needed.
      manageMasterUserPassword: true,
      credentials: rds.Credentials.fromUsername('aegis_admin', { encryptionKey: props.encryptionKey }),
      enableDataApi: true,
      iamAuthentication: true,
      storageEncrypted: true,
      storageEncryptionKey: props.encryptionKey,
      // Automated backups with point-in-time recovery to any second of the retention period.
      backup: { retention: backupRetention, preferredWindow: backupWindow },
      preferredMaintenanceWindow: maintenanceWindow,
      deletionProtection: true,
      copyTagsToSnapshot: true,
      // Nothing connects on the wire (the Data API is the only client), so a non-default port costs nothing.
      port: 5433,
      cloudwatchLogsExports: ['postgresql'],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(this.cluster, 'RegistryCluster');
    const writer = this.cluster.node.findChild('Writer');
    pin(writer, 'RegistryClusterWriter');

    if (!this.cluster.secret) throw new Error('the cluster has no master user secret');
    this.secret = this.cluster.secret;
    const appUsername = props.appUsername ?? 'aegis_app';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(appUsername) || appUsername === 'aegis_admin')
      throw new Error('appUsername must be 1-63 of a-z 0-9 _ starting with a letter or _, and not the master user aegis_admin');
    this.appSecret = new secretsmanager.Secret(this, 'AppUserSecret', {
      description: `Aegis registry database: the application user ${appUsername} (the migrate step sets its password and grants)`,
      encryptionKey: props.encryptionKey,
      // letters and digits only: nothing to escape anywhere it travels
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: appUsername }),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 40,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    pin(this.appSecret, 'RegistryAppUserSecret');
    acknowledge(this.appSecret, {
      id: 'AwsSolutions-SMG4',
      reason:
        'The application user secret is set on the database by the migrate step (as the master user) on every deploy; rotation would need a rotation function with network access to the cluster, which has none (Data API only, isolated subnets). A new password: put a new secret value, then redeploy with -c deployNonce=… .',
    });
    const url = (secret: secretsmanager.ISecret) =>
      Fn.join('', [`rdsdata://${this.databaseName}?resourceArn=`, this.cluster.clusterArn, '&secretArn=', secret.secretArn]);
    this.databaseUrl = url(this.appSecret);
    this.adminDatabaseUrl = url(this.secret);
  }

  /** Data API statements on this cluster as the application user: reading (decrypting) its secret, no other. */
  grantDataApiAccess(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: DATA_API_ACTIONS, resourceArns: [this.cluster.clusterArn] });
    this.appSecret.grantRead(grantee);
  }

  /**
   * The migrate step: Data API statements as the master user (its secret), and reading the
   * application user's secret to set that user's password.
   */
  grantMigratorAccess(grantee: iam.IGrantable): void {
    this.cluster.grantDataApiAccess(grantee);
    this.appSecret.grantRead(grantee);
  }
}

import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, Lazy, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { AccessResources } from './access.js';
import { API_ROUTE_IDS, ApiFunctions, type ApiRouteId } from './api-functions.js';
import type { AuditArchiveSchedule, ScheduledJob } from './audit-archive-schedule.js';
import { AuditMonitoring } from './audit-monitoring.js';
import { DriftMonitoring } from './drift-monitoring.js';
import { DriftWorkflow } from './drift-workflow.js';
import { RegisterWorkflow, workflowOutputs } from './register-workflow.js';
import { EVENT_BUS_VARIABLE, EventDelivery } from './event-delivery.js';
import { RegistryDatabase } from './registry-database.js';
import { CrossRegionReplication } from './replication.js';
import { AegisMonitoring } from './monitoring.js';
import { AegisRestApi } from './rest-api.js';
import { RolloutWorkflows } from './rollout-workflows.js';
import { SchemaMigrations } from './schema-migrations.js';
import { ServingIngest } from './serving-ingest.js';
import { ServingMonitoring } from './serving-monitoring.js';
import { configureServingStorage } from './serving-storage.js';
import { grantServingWarmUp } from './serving-warm-up.js';
import { buildScheduledJobs } from './scheduled-jobs.js';
import { AegisKeys } from './signing-keys.js';
import { AegisStorage } from './storage.js';
import { checkIamRoleMap, consoleEnabled, tunedSettings, type AegisStackProps } from './aegis-stack-props.js';
import type { ConsoleHosting } from './console-hosting.js';
import { addConsole } from './console-wiring.js';

/** The repository root: `lambdas/`, `package-lock.json`, `policies/` and `statemachines/` live there. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Aegis on AWS, one stack per environment and environment-agnostic (no lookups, so synth
 * needs no credentials): KMS keys, Object Lock buckets, Aurora Serverless v2 behind the Data
 * API, one Lambda per API route behind an IAM-authorized REST API, migrations that run on
 * every deploy before new code takes traffic, audit archiving on a schedule, promotion
 * rollouts as Step Functions state machines, and (optionally) cross-region replication of the
 * buckets and a custom domain with mutual TLS in front of the API.
 *
 * @example
 * new AegisStack(app, 'aegis-dev', { envName: 'dev', iamRoleMap: { 'arn:aws:iam::123456789012:role/ci': 'publisher' } });
 */
export class AegisStack extends Stack {
  public readonly keys: AegisKeys;
  public readonly storage: AegisStorage;
  public readonly database: RegistryDatabase;
  public readonly migrations: SchemaMigrations;
  public readonly rollouts: RolloutWorkflows;
  /** The drift state machine and its drift-step function. */
  public readonly drift: DriftWorkflow;
  /** The drift machine's alarms and dashboard row. */
  public readonly driftMonitoring: DriftMonitoring;
  /** The register state machine (asynchronous registration of large artifacts) and its register-step function. */
  public readonly registration: RegisterWorkflow;
  public readonly apiFunctions: ApiFunctions;
  public readonly auditArchiveSchedule: AuditArchiveSchedule;
  /** The `audit-checkpoint` job: signs the audit chain's head into the archive bucket when it moved. */
  public readonly auditCheckpoint: ScheduledJob;
  /** The `pending-upload-expiry` job: expires uploads never registered (rows; the lifecycle rule removes their bytes). */
  public readonly pendingUploadExpiry: ScheduledJob;
  /** The `pending-promotion-expiry` job: marks multisig promotions that waited past their expiry `expired`, audited. */
  public readonly pendingPromotionExpiry: ScheduledJob;
  /** The `drift-schedule` job: starts a drift run for each serving deployment's latest window. */
  public readonly driftSchedule: ScheduledJob;
  /** The `serving-retention` job: deletes serving events and labels past the horizon (a lifecycle rule expires input segments). */
  public readonly servingRetention: ScheduledJob;
  public readonly restApi: AegisRestApi;
  /** The alarm topic, every alarm of the stack, and the dashboard. */
  public readonly monitoring: AegisMonitoring;
  /** Serving events from the serving function's log lines into the database (a subscription filter). */
  public readonly servingIngest: ServingIngest;
  /** The event bus, the `event-dispatch` job (the only function that may PutEvents on it) and the example rules (disabled). */
  public readonly eventDelivery: EventDelivery;
  /** Present only when {@link AegisStackProps.replication} is given. */
  public readonly replication: CrossRegionReplication | undefined;
  /** The web console's nested stack; absent with `console: false` (and by default with mutual TLS). */
  public readonly console: ConsoleHosting | undefined;

  constructor(scope: Construct, id: string, props: AegisStackProps) {
    super(scope, id, props);
    if (!/^[a-z][a-z0-9-]{0,19}$/.test(props.envName)) throw new Error('envName must be 1-20 of a-z 0-9 - starting with a letter');
    const iamRoleMap = checkIamRoleMap(props.iamRoleMap ?? {});
    const projectRoot = props.projectRoot ?? REPO_ROOT;
    const consoleOn = consoleEnabled(props);
    if (props.sentinelnetUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(props.sentinelnetUrl)) {
      throw new Error(`sentinelnetUrl ${props.sentinelnetUrl} is not an http(s) URL`);
    }

    this.keys = new AegisKeys(this, 'Keys', { aliasPrefix: `aegis/${props.envName}` });
    const pendingUploadExpiry = props.pendingUploadExpiry ?? Duration.days(1);
    this.storage = new AegisStorage(this, 'Storage', {
      encryptionKey: this.keys.dataKey,
      pendingUploadExpiry,
      ...(props.servingRetention && { servingRetention: props.servingRetention }),
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
      // with the console, its group roles too (ARNs known at deploy time) and its origin (CORS)
      AEGIS_IAM_ROLE_MAP: consoleOn
        ? Lazy.string({ produce: () => this.toJsonString({ ...iamRoleMap, ...this.console!.roleMapEntries() }) })
        : JSON.stringify(iamRoleMap),
      ...(consoleOn && { AEGIS_CONSOLE_ORIGIN: Lazy.string({ produce: () => this.console!.origin }) }),
      // the same deadline as the bucket's lifecycle rule for tagged pending uploads
      AEGIS_PENDING_UPLOAD_TTL_SECONDS: String(pendingUploadExpiry.toSeconds()),
      ...tunedSettings(props),
      AEGIS_SERVING_RETENTION_DAYS: String(this.storage.servingRetentionDays),
      POWERTOOLS_SERVICE_NAME: 'aegis',
      // API Gateway enforces it on the custom domain; the functions only record the intent.
      ...(props.mutualTls && { REQUIRE_MTLS: 'true' }),
    };

    const storedResources: AccessResources = {
      database: this.database,
      artifactBucket: this.storage.artifactBucket,
      auditArchiveBucket: this.storage.auditArchiveBucket,
      dataKey: this.keys.dataKey,
      manifestSigningKey: this.keys.manifestSigningKey,
      auditSigningKey: this.keys.auditSigningKey,
      driftBucket: this.storage.driftBucket,
    };
    this.eventDelivery = new EventDelivery(this, 'Events', {
      envName: props.envName,
      projectRoot,
      environment,
      resources: storedResources,
    });
    const dispatcher = this.eventDelivery.dispatcher;
    // every function that appends audit events wakes the dispatcher after its commits
    const baseResources: AccessResources = { ...storedResources, eventDispatch: dispatcher.jobFunction.function };
    this.migrations = new SchemaMigrations(this, 'Migrations', {
      projectRoot,
      environment: { ...environment, [EVENT_BUS_VARIABLE]: this.eventDelivery.bus.eventBusName },
      database: this.database,
      signingKeys: [this.keys.manifestSigningKey, this.keys.auditSigningKey],
      auditSigningKey: this.keys.auditSigningKey,
      startupChecks: baseResources,
      ...(props.deployNonce !== undefined && { deployNonce: props.deployNonce }),
    });

    // The state machines depend on the rollout-step function only; the functions that start
    // them depend on them (ARNs in their environment, StartExecution on them), never the reverse.
    this.rollouts = new RolloutWorkflows(this, 'Rollouts', { projectRoot, environment, resources: baseResources });
    // Likewise the drift machine depends on the drift step only; the schedule and the runs route start it.
    this.drift = new DriftWorkflow(this, 'Drift', { projectRoot, environment, resources: baseResources });
    this.registration = new RegisterWorkflow(this, 'Register', { projectRoot, environment, resources: baseResources });
    const machines = { driftStateMachine: this.drift.stateMachine, registerStateMachine: this.registration.stateMachine };
    const resources: AccessResources = { ...baseResources, ...machines };
    this.apiFunctions = new ApiFunctions(this, 'Functions', {
      projectRoot,
      environment,
      ...resources,
      rolloutStateMachines: this.rollouts.stateMachines,
      ...(props.sentinelnetUrl !== undefined && { sentinelnetUrl: props.sentinelnetUrl }),
      ...(props.serving && { serving: props.serving }),
    });
    const servingFunction = this.apiFunctions.functions.servingPredict;
    configureServingStorage(servingFunction, this.storage.driftBucket, this.storage.servingRetentionDays);
    grantServingWarmUp(servingFunction, this.rollouts.rolloutStep);
    this.servingIngest = new ServingIngest(this, 'ServingIngest', { projectRoot, environment, resources, servingFunction });
    const scheduledJobs = buildScheduledJobs(this, { projectRoot, environment, resources, rates: props });
    this.auditArchiveSchedule = scheduledJobs.auditArchive;
    this.auditCheckpoint = scheduledJobs.auditCheckpoint;
    this.pendingUploadExpiry = scheduledJobs.pendingUploadExpiry;
    this.pendingPromotionExpiry = scheduledJobs.pendingPromotionExpiry;
    this.servingRetention = scheduledJobs.servingRetention;
    this.driftSchedule = scheduledJobs.driftSchedule;
    // New handler code goes live only once the schema it expects is in place.
    for (const fn of [
      ...Object.values(this.apiFunctions.byName),
      ...Object.values(scheduledJobs).map((job) => job.jobFunction),
      this.rollouts.rolloutStep,
      this.drift.driftStep,
      this.registration.registerStep,
      this.servingIngest.ingestFunction,
      dispatcher.jobFunction,
    ]) {
      fn.function.node.addDependency(this.migrations.resource);
    }

    const handlers = {} as Record<ApiRouteId, lambda.IFunction>;
    for (const routeId of API_ROUTE_IDS) handlers[routeId] = this.apiFunctions.functions[routeId].invokeTarget;
    this.restApi = new AegisRestApi(this, 'Api', {
      handlers,
      ...(props.throttling && { throttling: props.throttling }),
      ...(props.mutualTls && { mutualTls: props.mutualTls }),
    });
    this.console = consoleOn ? addConsole(this, { envName: props.envName, projectRoot, restApi: this.restApi }) : undefined;

    this.monitoring = new AegisMonitoring(this, 'Monitoring', {
      envName: props.envName,
      encryptionKey: this.keys.dataKey,
      functions: [
        ...Object.entries(this.apiFunctions.byName).map(([name, fn]) => ({ name, function: fn.function })),
        ...Object.entries(scheduledJobs).map(([name, job]) => ({ name: `${name}Job`, function: job.jobFunction.function })),
        { name: 'rolloutStep', function: this.rollouts.rolloutStep.function },
        { name: 'driftStep', function: this.drift.driftStep.function },
        { name: 'registerStep', function: this.registration.registerStep.function },
        { name: 'servingIngest', function: this.servingIngest.ingestFunction.function },
        { name: 'migrate', function: this.migrations.migrateFunction.function },
        { name: 'eventDispatchJob', function: dispatcher.jobFunction.function, throttles: 'expected' },
      ],
      api: this.restApi.api,
      stateMachines: { promotion: this.rollouts.stateMachines.promotion, rollback: this.rollouts.stateMachines.rollback },
      alarms: [...Object.values(scheduledJobs).map((job) => job.failureAlarm), this.servingIngest.failureAlarm, dispatcher.failureAlarm],
      cluster: this.database.cluster,
      maxCapacity: this.database.capacity.max,
      ...(props.alarmEmail !== undefined && { alarmEmail: props.alarmEmail }),
    });
    new ServingMonitoring(this, 'ServingMonitoring', { monitoring: this.monitoring, thresholds: props.serving });
    this.driftMonitoring = new DriftMonitoring(this, 'DriftMonitoring', {
      monitoring: this.monitoring,
      stateMachine: this.drift.stateMachine,
    });
    new AuditMonitoring(this, 'AuditMonitoring', { monitoring: this.monitoring });
    this.registration.monitor(this.monitoring);
    this.eventDelivery.monitor(this.monitoring);

    this.replication = props.replication
      ? new CrossRegionReplication(this, 'Replication', {
          target: props.replication,
          artifactBucket: this.storage.artifactBucket,
          auditArchiveBucket: this.storage.auditArchiveBucket,
          sourceKey: this.keys.dataKey,
        })
      : undefined;

    const mtls = props.mutualTls;
    new CfnOutput(this, 'ApiUrl', {
      value: this.restApi.url,
      description: mtls
        ? 'Base URL of the REST API: its custom domain, which requires mutual TLS (the execute-api endpoint is disabled)'
        : 'Base URL of the REST API stage',
    });
    if (mtls && this.restApi.domainName) {
      new CfnOutput(this, 'ApiRegionalDomainName', {
        value: this.restApi.domainName.domainNameAliasDomainName,
        description: `Point ${mtls.domainName} here: a CNAME, or a Route 53 alias record with hosted zone ApiRegionalHostedZoneId`,
      });
      new CfnOutput(this, 'ApiRegionalHostedZoneId', {
        value: this.restApi.domainName.domainNameAliasHostedZoneId,
        description: 'Hosted zone of ApiRegionalDomainName, for a Route 53 alias record',
      });
    }
    new CfnOutput(this, 'MutualTls', {
      value: mtls ? 'on' : 'off',
      // CloudFormation caps output descriptions at 1024 characters; an S3 key alone may reach that.
      description: (mtls
        ? `${mtls.domainName} requires client certificates signed by a CA in ${mtls.truststoreUri}${mtls.truststoreVersion ? ` (version ${mtls.truststoreVersion})` : ''}; the execute-api endpoint is disabled`
        : 'Mutual TLS is off: deploy with -c domainName, -c certificateArn and -c mtlsTruststoreUri to turn it on'
      ).slice(0, 1024),
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.monitoring.topic.topicArn,
      description: 'Every alarm of the stack notifies this SNS topic: subscribe your on-call to it',
    });
    new CfnOutput(this, 'DashboardName', {
      value: this.monitoring.dashboard.dashboardName,
      description: 'The CloudWatch dashboard of this environment',
    });
    new CfnOutput(this, 'ArtifactBucketName', { value: this.storage.artifactBucket.bucketName });
    new CfnOutput(this, 'AuditArchiveBucketName', { value: this.storage.auditArchiveBucket.bucketName });
    new CfnOutput(this, 'ManifestSigningKeyId', { value: this.keys.manifestSigningKey.keyId });
    new CfnOutput(this, 'AuditSigningKeyId', { value: this.keys.auditSigningKey.keyId });
    new CfnOutput(this, 'DataKeyId', { value: this.keys.dataKey.keyId });
    workflowOutputs(this, { rollouts: this.rollouts, drift: this.drift, registration: this.registration });
    new CfnOutput(this, 'ClusterArn', { value: this.database.cluster.clusterArn });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.database.secret.secretArn });
    new CfnOutput(this, 'DatabaseBackupRetentionDays', {
      value: String(this.database.backupRetention.toDays()),
      description: 'Aurora automated backups, and so point-in-time recovery, reach back this many days',
    });
    new CfnOutput(this, 'AuditArchiveDeadLetterQueueUrl', {
      value: this.auditArchiveSchedule.deadLetterQueue.queueUrl,
      description: 'Scheduled audit archive runs that failed after retries',
    });
    new CfnOutput(this, 'CrossRegionReplication', {
      value: props.replication
        ? `on: artifacts to ${props.replication.artifactBucketArn}, audit archive to ${props.replication.auditArchiveBucketArn} (${props.replication.region})`
        : 'off',
      description: props.replication
        ? 'Cross-region replication of the artifact and audit-archive buckets (new object versions; delete markers are not replicated)'
        : 'Cross-region replication of the buckets is off: deploy with -c replicaRegion, -c replicaArtifactBucketArn, -c replicaAuditBucketArn and -c replicaKmsKeyArn to turn it on',
    });
  }
}

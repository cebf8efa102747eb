/**
 * The composition root of a Lambda function: Aurora through the Data API, Object-Lock S3,
 * KMS keys, Step Functions, CloudWatch EMF metrics. Adapters are imported statically: esbuild
 * inlines even a lazy `import()`, so this file must name nothing a Lambda does not carry
 * (no PGlite, `pg`, in-process state-machine runner, Prometheus client or Cedar). The
 * promotion routes add SentinelNet through {@link BuildLambdaOptions.policy}.
 */
import { RDSData } from '@aws-sdk/client-rds-data';
import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DataApiDatabase } from '../adapters/sql/data-api.js';
import { EmfMetricsSink } from '../adapters/metrics/emf.js';
import { EventBridgeScheduler } from '../adapters/scheduler/eventbridge.js';
import { KmsKeyProvider } from '../adapters/signing/kms.js';
import { S3ObjectStore, s3Client } from '../adapters/object-store/s3.js';
import { S3ObjectWriter } from '../adapters/object-store/s3-writer.js';
import { S3ObjectReader } from '../adapters/object-store/s3-reader.js';
import { DiskArtifactCache } from '../adapters/artifact-cache/disk.js';
import { SfnWorkflows } from '../adapters/workflows/sfn.js';
import { SecretsManagerSecrets } from '../adapters/secrets/secrets-manager.js';
import { RecordedMetricsSource } from '../adapters/canary-metrics/recorded.js';
import { LambdaWarmer } from '../adapters/serving/lambda-warmer.js';
import { LambdaInvoker } from '../adapters/shared/lambda-invoke.js';
import { buildContainer, unconfiguredWorkflows, type AdapterFactories, type BuildOptions } from './services.js';
import type { EventAdapters } from './events.js';
import { ConfigError, kmsProviderOptions, type Config } from '../config.js';
import type { Container } from './container.js';
import type { Clock } from '../ports/clock.js';
import type { PromotionGate } from '../ports/policy.js';
import type { AppUser } from '../sql/app-user.js';
import type { ModelRuntime } from '../ports/model-runtime.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogLineEventRecorder } from '../../modules/serving/event-log.js';
import { builtinModelRuntimes } from './builtin-runtimes.js';
import { unconfiguredDriftWorkflows } from './drift.js';
import { unconfiguredRegisterWorkflows } from './registration.js';
import type { DriftStore } from './serving.js';

/**
 * An AWS SDK v3 client whose calls are X-Ray subsegments. X-Ray only in Lambda, where requests run
 * in their subsegment from the first invocation on (which builds the container): Powertools'
 * Tracer loads the X-Ray SDK, whose async hook tracks every promise's destruction, and the local
 * server, which imports these handlers too, does no X-Ray tracing to pay that for.
 */
export const captureClient: <T>(client: T) => T = process.env.AWS_LAMBDA_FUNCTION_NAME
  ? await import('../tracing/xray.js').then((x) => {
      x.xrayTracer();
      return x.captureClient;
    })
  : (client) => client;

/** The Lambda API endpoint the SDK convention names (`AWS_ENDPOINT_URL_LAMBDA`, else `AWS_ENDPOINT_URL`): emulators. */
function lambdaEndpoint(): string | undefined {
  const e = process.env;
  if (e.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return undefined;
  return e.AWS_ENDPOINT_URL_LAMBDA || e.AWS_ENDPOINT_URL || undefined;
}

function bucketOf(store: Config['objectStore'], variable: string): string {
  if (store.kind !== 's3') throw new ConfigError(`${variable} must name an S3 bucket in Lambda`);
  return store.bucket;
}

/** An artifact or archive bucket (the SDK client's calls are X-Ray subsegments, as every client's here). */
const s3Store = (config: Config, bucket: string) => new S3ObjectStore({ bucket, client: captureClient(s3Client(config.s3)) });
const sfnClient = () => captureClient(new SFNClient({}));

/** The drift bucket: a PutObject-only writer and a List/GetObject-only reader joined. */
function s3DriftStore(config: Config, bucket: string): DriftStore {
  const client = captureClient(s3Client(config.s3));
  const writer = new S3ObjectWriter({ bucket, client });
  const reader = new S3ObjectReader({ bucket, client });
  return {
    segments: writer,
    objects: {
      list: (prefix) => reader.list(prefix),
      get: (key) => reader.get(key),
      put: (key, body, opts) => writer.put(key, body, opts),
    },
  };
}

/** The drift state machine (`AEGIS_DRIFT_STATE_MACHINE_ARN`): the drift-schedule and drift routes' functions start it. */
const lambdaDriftWorkflows = async (config: Config) =>
  config.drift.stateMachineArn ? new SfnWorkflows({ drift: config.drift.stateMachineArn }, sfnClient()) : unconfiguredDriftWorkflows;

/** The register state machine (`AEGIS_REGISTER_STATE_MACHINE_ARN`): the register route's function starts it. */
const lambdaRegisterWorkflows = async (config: Config) =>
  config.registration.stateMachineArn
    ? new SfnWorkflows({ register: config.registration.stateMachineArn }, sfnClient())
    : unconfiguredRegisterWorkflows;

/**
 * The adapters every function uses; `policy` only where the route decides promotions,
 * `runtimes` beyond the built-in formats only in the serving function.
 */
export function lambdaAdapters(
  policy?: (config: Config, clock: Clock) => Promise<PromotionGate>,
  runtimes: () => ModelRuntime[] = builtinModelRuntimes,
  eventBus?: EventAdapters['eventBus'],
): AdapterFactories {
  return {
    ...lambdaEvents(eventBus),
    async database(config) {
      if (config.database.kind !== 'data-api')
        throw new ConfigError('MODEL_REGISTRY_DATABASE_URL must be rdsdata://… (the Data API) in Lambda');
      return new DataApiDatabase({ ...config.database, client: captureClient(new RDSData({})) });
    },
    objectStore: async (config) => ({ store: s3Store(config, bucketOf(config.objectStore, 'MODEL_REGISTRY_S3_BUCKET')) }),
    archiveStore: async (config) => s3Store(config, bucketOf(config.auditArchive, 'AEGIS_AUDIT_ARCHIVE_BUCKET')),
    // DRIFT_S3_BUCKET: input segments put (serving), segments read back and the runs' plans, shard
    // counts and reports written (the drift functions); no purge (the bucket's lifecycle rule
    // expires serving-inputs/ after the retention horizon). Each function's role grants what it uses.
    driftStore: async (config) => (config.driftBucket ? s3DriftStore(config, config.driftBucket) : undefined),
    driftWorkflows: lambdaDriftWorkflows,
    registerWorkflows: lambdaRegisterWorkflows,
    async keyProvider(config) {
      if (config.signing.backend !== 'kms')
        throw new ConfigError(
          'MANIFEST_SIGNING_KMS_KEY_ID and AUDIT_SIGNING_KMS_KEY_ID must be set in Lambda (key files are for local dev only)',
        );
      const kms = kmsProviderOptions(config);
      return new KmsKeyProvider({ ...kms, client: captureClient(new KMSClient(kms.endpoint ? { endpoint: kms.endpoint } : {})) });
    },
    // The serving events the ingest function inserted (a recording file replaces them: tests, drills).
    metricsSource: async (config, serving) =>
      config.canaryMetricsFile ? RecordedMetricsSource.fromFile(config.canaryMetricsFile) : serving,
    workflows: async (config) => (config.stateMachineArns ? new SfnWorkflows(config.stateMachineArns, sfnClient()) : unconfiguredWorkflows),
    ...(policy && { policy }),
    metrics: () => ({ sinks: [new EmfMetricsSink()] }),
    scheduler: () => new EventBridgeScheduler(),
    modelRuntimes: runtimes,
    // one log line per event, no API call on the request path: serving-ingest inserts them, so
    // the judge reads them up to the ingest watermark minus its grace
    servingEvents: (config, database) => new LogLineEventRecorder({ database, graceSeconds: config.serving.ingestGraceSeconds }),
    // verified artifacts stay unpacked in this container's /tmp (its own: no other function or container sees it)
    artifactCache: (config, logger) =>
      config.serving.cacheMb > 0
        ? new DiskArtifactCache({
            dir: join(tmpdir(), 'aegis-artifacts'),
            budgetBytes: config.serving.cacheMb * 2 ** 20,
            onError: (what, e) => logger.warn(what, { error: (e as Error).message }),
          })
        : undefined,
    // DRIFT_S3_BUCKET's lifecycle rule expires input segments: serving-retention deletes rows only
    segmentExpiry: 'lifecycle',
    // the rollout step warms a blue-green candidate on the serving function (its live alias), when it is named
    servingWarmer: (config) =>
      config.serving.functionName
        ? new LambdaWarmer({
            functionName: config.serving.functionName,
            ...(lambdaEndpoint() && { endpoint: lambdaEndpoint() }),
          })
        : undefined,
  };
}

/** The invocation the event-dispatch handler receives from a commit's kick (the schedule's is EventBridge's own). */
export const EVENT_KICK = { aegisEventKick: true } as const;

/**
 * After a commit that enqueued deliveries: an asynchronous invocation of the dispatcher function
 * (`AEGIS_EVENT_DISPATCH_FUNCTION`). A function without one never runs the dispatcher itself
 * (Lambda freezes it after its reply): the schedule delivers within a minute. The stack's bus
 * is the dispatcher's alone (`lambda-dispatch-container.ts`: only its bundle carries the client).
 */
const lambdaEventKick: NonNullable<EventAdapters['eventKick']> = (config) => {
  const functionName = config.events.dispatchFunction;
  if (!functionName) return async () => undefined;
  const dispatcher = new LambdaInvoker({ functionName, ...(lambdaEndpoint() && { endpoint: lambdaEndpoint() }) });
  return () => dispatcher.invokeAsync(EVENT_KICK);
};

/** Every function wakes the dispatcher after its commits; only the dispatcher has the bus. */
const lambdaEvents = (eventBus?: EventAdapters['eventBus']): EventAdapters => ({
  eventKick: lambdaEventKick,
  ...(eventBus && { eventBus }),
});

export interface BuildLambdaOptions extends Omit<BuildOptions, 'mode' | 'publicUrl' | 'judge' | 'waitMs'> {
  /** SentinelNet (`openPolicy` from composition-policy.ts) for the routes that decide promotions */
  policy?: (config: Config, clock: Clock) => Promise<PromotionGate>;
  /** the serving function: every format (`modelRuntimes`); others: the built-in ones */
  runtimes?: () => ModelRuntime[];
  /** the event dispatcher function: the stack's bus (`lambda-dispatch-container.ts`) */
  eventBus?: EventAdapters['eventBus'];
}

/** The container of one Lambda function: AWS adapters, IAM callers. */
export function buildLambdaContainer(config: Config, opts: BuildLambdaOptions = {}): Promise<Container> {
  const { policy, runtimes, eventBus, ...rest } = opts;
  return buildContainer(config, lambdaAdapters(policy, runtimes, eventBus), { ...rest, mode: 'lambda' });
}

/**
 * The application database user from its secret (`AEGIS_APP_DATABASE_SECRET_ARN`), for the
 * migrate step to create and grant; undefined when none is configured.
 */
export async function appDatabaseUser(config: Config): Promise<AppUser | undefined> {
  const secret = config.appDatabaseSecret;
  if (!secret) return undefined;
  // arn:aws:secretsmanager:<region>:<account>:secret:<name>
  const region = secret.arn.split(':')[3];
  if (!region) throw new ConfigError('AEGIS_APP_DATABASE_SECRET_ARN is not a Secrets Manager secret ARN');
  const value = await new SecretsManagerSecrets({ region, ...(secret.endpoint && { endpoint: secret.endpoint }) }).json(secret.arn);
  const { username, password } = value;
  if (typeof username !== 'string' || typeof password !== 'string')
    throw new ConfigError(`secret ${secret.arn} must hold a username and a password (strings)`);
  return { username, password };
}

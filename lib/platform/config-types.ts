/** The parsed configuration (`config.ts` reads it from the environment, `config-env.ts` lists the variables). */
import type { RoleGrant } from '../kernel/identity.js';

export type DatabaseConfig =
  /** `template`: the build's migrated data folder (adapters/sql/pglite-template.ts), copied when `dataDir` is new */
  | { kind: 'pglite'; dataDir: string; template?: string }
  | { kind: 'pg'; url: string }
  | { kind: 'data-api'; resourceArn: string; secretArn: string; database: string };

export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  dataDir: string;
  port: number;
  host: string;
  /** Base URL the local server is reachable at (for local upload URLs). */
  publicUrl: string | undefined;
  /** the built web console the local server serves at `/` (undefined: the package's `dist/console`) */
  consoleDir: string | undefined;
  database: DatabaseConfig;
  objectStore: { kind: 'fs'; root: string } | { kind: 's3'; bucket: string };
  /** Object-Lock bucket for the audit archive on AWS; locally a folder in the data dir. */
  auditArchive: { kind: 'fs'; root: string } | { kind: 's3'; bucket: string };
  signing: {
    manifestKmsKeyId: string | undefined;
    auditKmsKeyId: string | undefined;
    manifestSignerKid: string;
    backend: 'file' | 'kms';
  };
  requireKms: boolean;
  requireMtls: boolean;
  devAllowEphemeral: boolean;
  sentinelnetUrl: string | undefined;
  driftBucket: string | undefined;
  promEndpoint: string | undefined;
  /** the OTLP/HTTP collector the local process sends traces to (`OTEL_EXPORTER_OTLP_ENDPOINT`, alias `OTEL_COLLECTOR_URL`); unset: no tracing */
  otlpEndpoint: string | undefined;
  /** SentinelNet's policy files (sentinelnet.cedar, sentinelnet.json) */
  policiesDir: string;
  /** ASL files for the in-process runner */
  statemachinesDir: string;
  /** Step Functions state machines (AWS mode) */
  stateMachineArns: { promotion: string; rollback: string } | undefined;
  /**
   * drift runs: the configuration file (`AEGIS_DRIFT_POLICY`, default `<policiesDir>/drift.json`), how long after a
   * window's end it is judged (`AEGIS_DRIFT_SETTLE_SECONDS`), the drift state machine (`AEGIS_DRIFT_STATE_MACHINE_ARN`, Lambda)
   */
  drift: { policyFile: string; settleSeconds: number; stateMachineArn: string | undefined };
  /**
   * asynchronous registration: uploads larger than `asyncBytes` (`AEGIS_REGISTER_ASYNC_BYTES`, default 2 GiB) are hashed
   * and committed by the register state machine (`AEGIS_REGISTER_STATE_MACHINE_ARN`, Lambda)
   */
  registration: { asyncBytes: number; stateMachineArn: string | undefined };
  /** local mode: recorded per-variant serving metrics the canary judge reads */
  canaryMetricsFile: string | undefined;
  /** local server TLS (PEM file paths); with clientCa every client must present a certificate it signed */
  tls: { cert: string; key: string; clientCa: string | undefined } | undefined;
  /** IAM principal ARN → role and the scope it applies to, for API Gateway IAM authorization on AWS. */
  iamRoleMap: Record<string, RoleGrant>;
  /** AWS mode: the web console's origin (`AEGIS_CONSOLE_ORIGIN`, `https://<distribution>`), allowed to read the API's answers (CORS) */
  consoleOrigin: string | undefined;
  /** S3 client settings: path-style addressing for S3-compatible endpoints (`AWS_ENDPOINT_URL_S3`) */
  s3: { forcePathStyle: boolean };
  /** seconds a pending multisig promotion waits for approvals before it expires */
  pendingPromotionTtlSeconds: number;
  kms: {
    /** the KMS endpoint the AWS SDK is pointed at (`AWS_ENDPOINT_URL_KMS`, else `AWS_ENDPOINT_URL`); unset = AWS */
    endpoint: string | undefined;
    /**
     * `AEGIS_TEST_ALLOW_P256_KMS_KEYS=true`: accept ECC_NIST_P256 signing keys (emulators lack
     * Ed25519). Test-only: {@link startupRefusal} refuses it unless `endpoint` is loopback.
     */
    allowP256: boolean;
  };
  /** seconds an upload may wait for its registration before its bytes are removed */
  pendingUploadTtlSeconds: number;
  /** the part size of multipart uploads (`AEGIS_MULTIPART_PART_BYTES`, 5 MiB–5 GiB, default 64 MiB) */
  multipartPartBytes: number;
  /** seconds a download URL stays valid (`AEGIS_DOWNLOAD_URL_TTL_SECONDS`, 30–3600, default 300) */
  downloadUrlTtlSeconds: number;
  /** how often the local server signs the audit head into the archive (AEGIS_AUDIT_CHECKPOINT_SECONDS) */
  auditCheckpointSeconds: number;
  /**
   * `AEGIS_ROLLOUT_LEASE_SECONDS`: how long a rollout runner's lease holds beyond the wait it
   * is in (a step's time budget, and how long after a dead runner's next step was due another
   * server takes the rollout over)
   */
  rolloutLeaseSeconds: number;
  /**
   * serving: `AEGIS_SERVING_ROUTE_CACHE_SECONDS`, `_TIMEOUT_MS`, `_RETENTION_DAYS` (telemetry kept), `_SAMPLE_RATE` and
   * `_SEGMENT_SECONDS` (input segments: the share written, the longest a line waits to be written), `_INGEST_GRACE_SECONDS` (the AWS ingest watermark's grace), `_CACHE_MB` (Lambda's /tmp artifact cache),
   * `_SHADOW_BUDGET_MS` (Lambda: the most a response waits for its shadow), `_FUNCTION_NAME` (the serving function the
   * rollout step warms blue-green candidates on)
   */
  serving: {
    routeCacheSeconds: number;
    timeoutMs: number;
    retentionDays: number;
    sampleRate: number;
    segmentSeconds: number;
    ingestGraceSeconds: number;
    cacheMb: number;
    shadowBudgetMs: number;
    functionName?: string;
  };
  /** local bearer tokens: the longest lifetime (`AEGIS_TOKEN_MAX_TTL`), how long a process caches one (`AEGIS_TOKEN_CACHE_SECONDS`) */
  tokens: { maxTtlSeconds: number; cacheSeconds: number };
  /**
   * events out (webhooks and the bus): `AEGIS_WEBHOOK_ALLOWED_CIDRS` (networks exempt from the SSRF rules),
   * `AEGIS_WEBHOOK_ALLOW_HTTP`, `AEGIS_WEBHOOK_TIMEOUT_MS`, `AEGIS_EVENT_MAX_ATTEMPTS`, `AEGIS_EVENT_RETRY_BASE_MS`,
   * `AEGIS_EVENT_BUS_NAME` and `AEGIS_EVENT_DISPATCH_FUNCTION` (Lambda)
   */
  events: {
    allowedCidrs: string[];
    allowHttp: boolean;
    timeoutMs: number;
    maxAttempts: number;
    retryBaseMs: number;
    busName: string | undefined;
    dispatchFunction: string | undefined;
  };
  /**
   * `AEGIS_APP_DATABASE_SECRET_ARN` (the migrate function only): the Secrets Manager secret
   * (`{ username, password }`) of the database user every other function connects as, which
   * the migration creates and grants what the application needs; `endpoint` as for KMS
   * (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`)
   */
  appDatabaseSecret: { arn: string; endpoint: string | undefined } | undefined;
  /** `AEGIS_TEST_KILL_AT`: test-only fault point that kills the process (refused with NODE_ENV=production) */
  testKillAt: { point: string; nth: number } | undefined;
}

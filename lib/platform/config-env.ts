import { isIP } from 'node:net';
import * as z from 'zod';
import { DURATION_PATTERN, parseDuration } from '../kernel/duration.js';

/**
 * The environment variables the server side reads, as a zod schema with their defaults.
 * `loadConfig` (config.ts) parses them once into a `Config`; nothing else reads `process.env`.
 */
const bool = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const httpUrl = optionalString.refine((v) => v === undefined || /^https?:\/\/[^\s/]+/.test(v), 'must be an http:// or https:// URL');

/** `address/prefix` with an IPv4 or IPv6 address and a prefix length that fits it. */
function isCidr(c: string): boolean {
  const [address, bits, ...rest] = c.split('/');
  const family = isIP(address ?? '');
  return rest.length === 0 && family !== 0 && /^\d{1,3}$/.test(bits ?? '') && Number(bits) <= (family === 4 ? 32 : 128);
}

/** Seconds between signed audit head checkpoints, by default (EventBridge's shortest rate, so both modes match). */
export const AUDIT_CHECKPOINT_DEFAULT_SECONDS = 60;

/** Every variable the server side reads, with its default; `loadConfig` (config.ts) turns them into a `Config`. */
export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  MODEL_REGISTRY_DATABASE_URL: optionalString,
  MODEL_REGISTRY_S3_BUCKET: optionalString,
  AUDIT_SIGNING_KMS_KEY_ID: optionalString,
  MANIFEST_SIGNING_KMS_KEY_ID: optionalString,
  MANIFEST_SIGNER_KID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -')
    .default('manifest-signer-v1'),
  REQUIRE_KMS: bool,
  REQUIRE_MTLS: bool,
  DEV_ALLOW_EPHEMERAL: bool,
  SENTINELNET_URL: optionalString,
  DRIFT_S3_BUCKET: optionalString,
  PROM_ENDPOINT: optionalString,
  // an OTLP/HTTP collector's base URL (traces go to <url>/v1/traces); OTEL_COLLECTOR_URL is the seed's name for it
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl,
  OTEL_COLLECTOR_URL: httpUrl,
  AEGIS_DATA_DIR: z.string().default('.aegis'),
  AEGIS_PUBLIC_URL: optionalString,
  // the built web console the local server serves at / (default: the package's dist/console)
  AEGIS_CONSOLE_DIR: optionalString,
  // the migrated PGlite folder a first start copies instead of running initdb (default: the package's dist/pglite-template; off: none)
  AEGIS_PGLITE_TEMPLATE: optionalString,
  AEGIS_AUDIT_ARCHIVE_BUCKET: optionalString,
  AEGIS_POLICIES_DIR: optionalString,
  AEGIS_STATEMACHINES_DIR: optionalString,
  AEGIS_PROMOTION_STATE_MACHINE_ARN: optionalString,
  AEGIS_ROLLBACK_STATE_MACHINE_ARN: optionalString,
  // the drift state machine the drift-schedule and drift routes' functions start (Lambda); unset there: starting a run fails
  AEGIS_DRIFT_STATE_MACHINE_ARN: optionalString,
  // the drift configuration file (default: <AEGIS_POLICIES_DIR>/drift.json)
  AEGIS_DRIFT_POLICY: optionalString,
  AEGIS_CANARY_METRICS_FILE: optionalString,
  AEGIS_APP_DATABASE_SECRET_ARN: optionalString,
  AEGIS_TLS_CERT: optionalString,
  AEGIS_TLS_KEY: optionalString,
  AEGIS_TLS_CLIENT_CA: optionalString,
  AEGIS_IAM_ROLE_MAP: optionalString,
  // the web console's origin on AWS (https://<host>, no path): the handlers allow it to read their answers (CORS)
  AEGIS_CONSOLE_ORIGIN: optionalString.refine(
    (v) => v === undefined || /^https:\/\/[a-z0-9.-]+(:\d+)?$/.test(v),
    'must be https://<host> with no path',
  ),
  AEGIS_S3_FORCE_PATH_STYLE: bool,
  AEGIS_TEST_ALLOW_P256_KMS_KEYS: bool,
  AWS_ENDPOINT_URL_KMS: optionalString,
  AWS_ENDPOINT_URL_SECRETS_MANAGER: optionalString,
  AWS_ENDPOINT_URL: optionalString,
  AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: bool,
  AEGIS_PENDING_PROMOTION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(365 * 86_400)
    .default(7 * 86_400),
  // at least the upload URL's hour: bytes must not arrive after their upload expired
  AEGIS_PENDING_UPLOAD_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(3600)
    .max(30 * 86_400)
    .default(86_400),
  // the part size of multipart uploads: S3's minimum part to its maximum (an upload needing more than 10,000 parts gets larger ones)
  AEGIS_MULTIPART_PART_BYTES: z.coerce
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .max(5 * 1024 ** 3)
    .default(64 * 1024 * 1024),
  // a register request whose upload is larger is answered 202 and hashed and committed by the register state machine
  AEGIS_REGISTER_ASYNC_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(Number.MAX_SAFE_INTEGER)
    .default(2 * 1024 ** 3),
  // the register state machine the register route's function starts (Lambda); unset there: a large registration fails
  AEGIS_REGISTER_STATE_MACHINE_ARN: optionalString,
  // how long a download URL (GET …/download) stays valid: long enough to start a large pull, short enough that a leaked URL dies soon
  AEGIS_DOWNLOAD_URL_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
  // events newer than the last head checkpoint can still be deleted unnoticed: keep it short
  AEGIS_AUDIT_CHECKPOINT_SECONDS: z.coerce.number().int().min(1).max(3600).default(AUDIT_CHECKPOINT_DEFAULT_SECONDS),
  AEGIS_ROLLOUT_LEASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  // how long a serving process routes by what it read: canary traffic may continue this long after a rollback
  AEGIS_SERVING_ROUTE_CACHE_SECONDS: z.coerce.number().int().min(0).max(300).default(5),
  // a prediction slower than this fails (504) and counts as an error of its variant
  AEGIS_SERVING_TIMEOUT_MS: z.coerce.number().int().min(1).max(900_000).default(10_000),
  // serving events, labels and input segments older than this are purged (the serving-retention job)
  AEGIS_SERVING_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(14),
  // how late (seconds) a serving event may reach the database behind a later one of its deployment
  // through the AWS ingest: the canary judge ends each window at the ingest watermark minus this
  AEGIS_SERVING_INGEST_GRACE_SECONDS: z.coerce.number().int().min(0).max(600).default(10),
  // the share of served requests whose inputs and predictions are written as segments for drift (0-1)
  AEGIS_SERVING_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(1),
  // a segment is written at the latest this long after its first line (Lambda: what a reclaimed container may lose)
  AEGIS_SERVING_SEGMENT_SECONDS: z.coerce.number().int().min(1).max(600).default(10),
  // the serving Lambda's /tmp cache of verified, unpacked artifacts (MB; 0: none); Lambda only, locally the store is the disk
  AEGIS_SERVING_CACHE_MB: z.coerce.number().int().min(0).max(10240).default(512),
  // Lambda: how long a response waits at most for its shadow prediction (ms); a shadow still running then is a shadow error
  AEGIS_SERVING_SHADOW_BUDGET_MS: z.coerce.number().int().min(1).max(60_000).default(100),
  // the serving function (its `live` alias with provisioned concurrency) the rollout step invokes to warm a blue-green candidate
  AEGIS_SERVING_FUNCTION_NAME: z.string().min(1).optional(),
  // the longest lifetime a local bearer token may be given (POST /v1/tokens expiresIn)
  AEGIS_TOKEN_MAX_TTL: z
    .string()
    .regex(DURATION_PATTERN, 'must be a duration like 365d, 720h or 90m')
    .default('365d')
    .transform((v) => parseDuration(v)!),
  // how long a process trusts what it read about a token: another process's revocation takes at most this long here
  AEGIS_TOKEN_CACHE_SECONDS: z.coerce.number().int().min(0).max(60).default(5),
  // test-only fault point: `<point>` or `<point>#<n>` (the n-th time it is reached) kills the process with SIGKILL
  AEGIS_TEST_KILL_AT: z
    .string()
    .regex(/^[a-z][a-zA-Z.-]{0,80}(#[1-9][0-9]{0,3})?$/, 'must be <fault point>[#n], e.g. rollout.evaluate.before-commit#1')
    .optional(),
  // how long after a drift window's end its input segments are all written: at least AEGIS_SERVING_SEGMENT_SECONDS
  AEGIS_DRIFT_SETTLE_SECONDS: z.coerce.number().int().min(1).max(3600).default(120),
  // webhooks: the private, loopback or link-local networks (CIDRs, comma-separated) deliveries may reach despite the
  // SSRF rules; default none in production, the loopback networks otherwise (a receiver on this machine)
  AEGIS_WEBHOOK_ALLOWED_CIDRS: optionalString.refine(
    (v) => v === undefined || v.split(',').every((c) => c.trim() === '' || isCidr(c.trim())),
    'must be comma-separated CIDRs like 10.0.0.0/8,fd00::/8',
  ),
  // webhooks to http:// URLs (never in production: refused at startup)
  AEGIS_WEBHOOK_ALLOW_HTTP: z.enum(['true', 'false', '1', '0']).optional(),
  // how long one webhook delivery may take (connect to the last byte of the answer's head)
  AEGIS_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  // attempts of one delivery before it goes to the dead letters (replayable)
  AEGIS_EVENT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
  // the first retry's delay (ms); each next one doubles, up to 15 minutes, with jitter
  AEGIS_EVENT_RETRY_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(2000),
  // Lambda: the stack's EventBridge bus every event is published to (unset: none)
  AEGIS_EVENT_BUS_NAME: optionalString,
  // Lambda: the event dispatcher function a commit that enqueued deliveries invokes (asynchronously) to deliver them now
  AEGIS_EVENT_DISPATCH_FUNCTION: optionalString,
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
});

export type Env = z.infer<typeof EnvSchema>;

/** Loopback: where a developer's receiver listens. */
const LOOPBACK_CIDRS = ['127.0.0.0/8', '::1/128'];

/** The event delivery settings of the validated environment (`Config.events`). */
export const eventsConfig = (e: Env) => {
  const production = e.NODE_ENV === 'production';
  const cidrs = e.AEGIS_WEBHOOK_ALLOWED_CIDRS;
  return {
    allowedCidrs:
      cidrs === undefined
        ? production
          ? []
          : LOOPBACK_CIDRS
        : cidrs
            .split(',')
            .map((c) => c.trim())
            .filter(Boolean),
    allowHttp:
      e.AEGIS_WEBHOOK_ALLOW_HTTP === undefined ? !production : e.AEGIS_WEBHOOK_ALLOW_HTTP === 'true' || e.AEGIS_WEBHOOK_ALLOW_HTTP === '1',
    timeoutMs: e.AEGIS_WEBHOOK_TIMEOUT_MS,
    maxAttempts: e.AEGIS_EVENT_MAX_ATTEMPTS,
    retryBaseMs: e.AEGIS_EVENT_RETRY_BASE_MS,
    busName: e.AEGIS_EVENT_BUS_NAME,
    dispatchFunction: e.AEGIS_EVENT_DISPATCH_FUNCTION,
  };
};

/** The serving settings of the validated environment (`Config.serving`). */
export const servingConfig = (e: Env) => ({
  routeCacheSeconds: e.AEGIS_SERVING_ROUTE_CACHE_SECONDS,
  timeoutMs: e.AEGIS_SERVING_TIMEOUT_MS,
  retentionDays: e.AEGIS_SERVING_RETENTION_DAYS,
  sampleRate: e.AEGIS_SERVING_SAMPLE_RATE,
  segmentSeconds: e.AEGIS_SERVING_SEGMENT_SECONDS,
  cacheMb: e.AEGIS_SERVING_CACHE_MB,
  ingestGraceSeconds: e.AEGIS_SERVING_INGEST_GRACE_SECONDS,
  shadowBudgetMs: e.AEGIS_SERVING_SHADOW_BUDGET_MS,
  ...(e.AEGIS_SERVING_FUNCTION_NAME && { functionName: e.AEGIS_SERVING_FUNCTION_NAME }),
});

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRoleMapEntry, type RoleGrant } from '../kernel/identity.js';
import { EnvSchema, eventsConfig, servingConfig, type Env } from './config-env.js';
import type { Config, DatabaseConfig } from './config-types.js';
import { isLoopbackUrl } from '../kernel/urls.js';
import { packageDir } from '../kernel/package-dir.js';

/**
 * The one place that reads the environment (its variables: `config-env.ts`). Parsed once,
 * checked for unsafe combinations (see {@link startupRefusal}), then passed down; nothing
 * else touches `process.env`. The CLI's own settings are `client-config.ts`.
 */

export type { Config, DatabaseConfig } from './config-types.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * `rdsdata://DATABASE?resourceArn=…&secretArn=…` selects Aurora through the Data API;
 * `postgres://…` a PostgreSQL server; unset, PGlite in the data folder.
 */
function parseDatabase(url: string | undefined, dataDir: string, template: string | undefined): DatabaseConfig {
  if (!url) return { kind: 'pglite', dataDir: resolve(dataDir, 'pg'), ...(template !== undefined && { template }) };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError('MODEL_REGISTRY_DATABASE_URL is not a URL');
  }
  if (u.protocol === 'postgres:' || u.protocol === 'postgresql:') return { kind: 'pg', url };
  if (u.protocol === 'rdsdata:') {
    const resourceArn = u.searchParams.get('resourceArn');
    const secretArn = u.searchParams.get('secretArn');
    const database = u.hostname || u.pathname.replace(/^\/+/, '');
    if (!resourceArn || !secretArn || !database) {
      throw new ConfigError('MODEL_REGISTRY_DATABASE_URL rdsdata:// needs a database name, resourceArn and secretArn');
    }
    return { kind: 'data-api', resourceArn, secretArn, database };
  }
  throw new ConfigError(`MODEL_REGISTRY_DATABASE_URL scheme ${u.protocol} is not supported (postgres://, rdsdata://)`);
}

/**
 * `AEGIS_IAM_ROLE_MAP`: principal ARN → a role name (every model) or `{ role, prefixes?, teams? }`
 * (the models of those prefixes and teams); a refusal names the entry and the field at fault.
 */
function parseRoleMap(raw: string | undefined): Record<string, RoleGrant> {
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('AEGIS_IAM_ROLE_MAP is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError('AEGIS_IAM_ROLE_MAP must be a JSON object of principal ARN → role or { role, prefixes?, teams? }');
  const out: Record<string, RoleGrant> = {};
  for (const [arn, value] of Object.entries(parsed)) {
    const r = parseRoleMapEntry(value);
    if ('problem' in r) throw new ConfigError(`AEGIS_IAM_ROLE_MAP[${JSON.stringify(arn)}]: ${r.problem}`);
    out[arn] = r.grant;
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${issue.path.join('.')} ${issue.message}`);
  }
  const e = parsed.data;
  if (e.AEGIS_DRIFT_SETTLE_SECONDS < e.AEGIS_SERVING_SEGMENT_SECONDS)
    throw new ConfigError(
      `AEGIS_DRIFT_SETTLE_SECONDS (${e.AEGIS_DRIFT_SETTLE_SECONDS}) must be at least AEGIS_SERVING_SEGMENT_SECONDS (${e.AEGIS_SERVING_SEGMENT_SECONDS}): a window would be judged before its input segments are written`,
    );
  const dataDir = resolve(e.AEGIS_DATA_DIR);
  return {
    nodeEnv: e.NODE_ENV,
    dataDir,
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.AEGIS_PUBLIC_URL,
    consoleDir: e.AEGIS_CONSOLE_DIR === undefined ? undefined : resolve(e.AEGIS_CONSOLE_DIR),
    ...storageConfig(e, dataDir),
    requireKms: e.REQUIRE_KMS,
    requireMtls: e.REQUIRE_MTLS,
    devAllowEphemeral: e.DEV_ALLOW_EPHEMERAL,
    sentinelnetUrl: e.SENTINELNET_URL,
    driftBucket: e.DRIFT_S3_BUCKET,
    promEndpoint: e.PROM_ENDPOINT,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT ?? e.OTEL_COLLECTOR_URL,
    iamRoleMap: parseRoleMap(e.AEGIS_IAM_ROLE_MAP),
    consoleOrigin: e.AEGIS_CONSOLE_ORIGIN,
    s3: { forcePathStyle: e.AEGIS_S3_FORCE_PATH_STYLE },
    pendingPromotionTtlSeconds: e.AEGIS_PENDING_PROMOTION_TTL_SECONDS,
    kms: {
      endpoint: e.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ? undefined : (e.AWS_ENDPOINT_URL_KMS ?? e.AWS_ENDPOINT_URL),
      allowP256: e.AEGIS_TEST_ALLOW_P256_KMS_KEYS,
    },
    pendingUploadTtlSeconds: e.AEGIS_PENDING_UPLOAD_TTL_SECONDS,
    multipartPartBytes: e.AEGIS_MULTIPART_PART_BYTES,
    registration: { asyncBytes: e.AEGIS_REGISTER_ASYNC_BYTES, stateMachineArn: e.AEGIS_REGISTER_STATE_MACHINE_ARN },
    downloadUrlTtlSeconds: e.AEGIS_DOWNLOAD_URL_TTL_SECONDS,
    auditCheckpointSeconds: e.AEGIS_AUDIT_CHECKPOINT_SECONDS,
    rolloutLeaseSeconds: e.AEGIS_ROLLOUT_LEASE_SECONDS,
    serving: servingConfig(e),
    tokens: { maxTtlSeconds: e.AEGIS_TOKEN_MAX_TTL, cacheSeconds: e.AEGIS_TOKEN_CACHE_SECONDS },
    events: eventsConfig(e),
    appDatabaseSecret: e.AEGIS_APP_DATABASE_SECRET_ARN
      ? {
          arn: e.AEGIS_APP_DATABASE_SECRET_ARN,
          endpoint: e.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ? undefined : (e.AWS_ENDPOINT_URL_SECRETS_MANAGER ?? e.AWS_ENDPOINT_URL),
        }
      : undefined,
    testKillAt: e.AEGIS_TEST_KILL_AT
      ? { point: e.AEGIS_TEST_KILL_AT.split('#')[0]!, nth: Number(e.AEGIS_TEST_KILL_AT.split('#')[1] ?? 1) }
      : undefined,
    ...filesConfig(e),
  };
}

/** The drift runs' settings (`Config.drift`): the configuration file, the settle time, the state machine. */
function driftConfig(e: Env, policiesDir: string): Config['drift'] {
  return {
    policyFile: e.AEGIS_DRIFT_POLICY ? resolve(e.AEGIS_DRIFT_POLICY) : join(policiesDir, 'drift.json'),
    settleSeconds: e.AEGIS_DRIFT_SETTLE_SECONDS,
    stateMachineArn: e.AEGIS_DRIFT_STATE_MACHINE_ARN,
  };
}

/** Where things are kept: the database, the artifact store, the audit archive, the signing keys. */
function storageConfig(e: Env, dataDir: string): Pick<Config, 'database' | 'objectStore' | 'auditArchive' | 'signing'> {
  const kms = Boolean(e.MANIFEST_SIGNING_KMS_KEY_ID || e.AUDIT_SIGNING_KMS_KEY_ID);
  return {
    database: parseDatabase(e.MODEL_REGISTRY_DATABASE_URL, dataDir, pgliteTemplate(e.AEGIS_PGLITE_TEMPLATE)),
    objectStore: e.MODEL_REGISTRY_S3_BUCKET
      ? { kind: 's3', bucket: e.MODEL_REGISTRY_S3_BUCKET }
      : { kind: 'fs', root: resolve(dataDir, 'objects') },
    auditArchive: e.AEGIS_AUDIT_ARCHIVE_BUCKET
      ? { kind: 's3', bucket: e.AEGIS_AUDIT_ARCHIVE_BUCKET }
      : { kind: 'fs', root: resolve(dataDir, 'audit-archive') },
    signing: {
      manifestKmsKeyId: e.MANIFEST_SIGNING_KMS_KEY_ID,
      auditKmsKeyId: e.AUDIT_SIGNING_KMS_KEY_ID,
      manifestSignerKid: e.MANIFEST_SIGNER_KID,
      backend: kms ? 'kms' : 'file',
    },
  };
}

/** The files and state machines the server runs with: policies, ASL, recorded canary metrics, TLS. */
function filesConfig(
  e: Env,
): Pick<Config, 'policiesDir' | 'drift' | 'statemachinesDir' | 'stateMachineArns' | 'canaryMetricsFile' | 'tls'> {
  const policiesDir = e.AEGIS_POLICIES_DIR ? resolve(e.AEGIS_POLICIES_DIR) : REPO_DIR('policies');
  return {
    policiesDir,
    drift: driftConfig(e, policiesDir),
    statemachinesDir: e.AEGIS_STATEMACHINES_DIR ? resolve(e.AEGIS_STATEMACHINES_DIR) : REPO_DIR('statemachines'),
    stateMachineArns:
      e.AEGIS_PROMOTION_STATE_MACHINE_ARN && e.AEGIS_ROLLBACK_STATE_MACHINE_ARN
        ? { promotion: e.AEGIS_PROMOTION_STATE_MACHINE_ARN, rollback: e.AEGIS_ROLLBACK_STATE_MACHINE_ARN }
        : undefined,
    canaryMetricsFile: e.AEGIS_CANARY_METRICS_FILE ? resolve(e.AEGIS_CANARY_METRICS_FILE) : undefined,
    tls:
      e.AEGIS_TLS_CERT && e.AEGIS_TLS_KEY
        ? {
            cert: resolve(e.AEGIS_TLS_CERT),
            key: resolve(e.AEGIS_TLS_KEY),
            clientCa: e.AEGIS_TLS_CLIENT_CA ? resolve(e.AEGIS_TLS_CLIENT_CA) : undefined,
          }
        : undefined,
  };
}

/**
 * Folders shipped with the package, found from this module wherever it runs: the nearest
 * ancestor folder holding a package.json (the repo from the sources; the package when the
 * code runs bundled from dist/). Lambda bundles set both folders in their environment.
 */
function REPO_DIR(name: string): string {
  return join(packageDir(dirname(fileURLToPath(import.meta.url))), name);
}

/**
 * The migrated PGlite data folder a first start copies (`AEGIS_PGLITE_TEMPLATE`; `off`: none,
 * every first start runs initdb): by default the one the build made in the package's `dist/`.
 */
function pgliteTemplate(value: string | undefined): string | undefined {
  if (value === 'off') return undefined;
  return value === undefined ? REPO_DIR('dist/pglite-template') : resolve(value);
}

/**
 * How the KMS key provider is built: Ed25519 only in production unless the test allowance
 * is on, and then pinned to the loopback endpoint {@link startupRefusal} checked.
 */
export function kmsProviderOptions(c: Config): { ed25519Only: boolean; endpoint?: string } {
  return {
    ed25519Only: c.nodeEnv === 'production' && !c.kms.allowP256,
    ...(c.kms.allowP256 && c.kms.endpoint ? { endpoint: c.kms.endpoint } : {}),
  };
}

/** The reason this configuration must not start, or undefined when it may. */
export function startupRefusal(c: Config): string | undefined {
  if (c.nodeEnv === 'production' && c.devAllowEphemeral) {
    return 'NODE_ENV=production with DEV_ALLOW_EPHEMERAL=true: ephemeral dev keys are never allowed in production';
  }
  if (c.requireKms && !(c.signing.manifestKmsKeyId && c.signing.auditKmsKeyId)) {
    return 'REQUIRE_KMS=true but MANIFEST_SIGNING_KMS_KEY_ID and AUDIT_SIGNING_KMS_KEY_ID are not both set';
  }
  if (c.signing.backend === 'file' && !c.devAllowEphemeral) {
    return 'no KMS key ids are set, and local key files need DEV_ALLOW_EPHEMERAL=true (dev mode only)';
  }
  if (c.signing.backend === 'kms' && !(c.signing.manifestKmsKeyId && c.signing.auditKmsKeyId)) {
    return 'set both MANIFEST_SIGNING_KMS_KEY_ID and AUDIT_SIGNING_KMS_KEY_ID (mixing KMS and local keys is refused)';
  }
  // Test-only, and checkable as such: P-256 keys are accepted only from a KMS emulator on this machine.
  if (c.kms.allowP256 && !isLoopbackUrl(c.kms.endpoint)) {
    return 'AEGIS_TEST_ALLOW_P256_KMS_KEYS=true is for tests against a KMS emulator: it needs AWS_ENDPOINT_URL_KMS (or AWS_ENDPOINT_URL) on 127.0.0.1/localhost, and is refused against AWS KMS';
  }
  if (c.nodeEnv === 'production' && c.testKillAt) {
    return 'AEGIS_TEST_KILL_AT is a test-only fault point (it kills the process): refused with NODE_ENV=production';
  }
  if (c.nodeEnv === 'production' && c.events.allowHttp) {
    return 'AEGIS_WEBHOOK_ALLOW_HTTP=true is refused with NODE_ENV=production: webhooks carry signed events and their HMAC over https only';
  }
  if (c.nodeEnv === 'production' && (c.objectStore.kind !== 's3' || c.auditArchive.kind !== 's3')) {
    return 'NODE_ENV=production needs MODEL_REGISTRY_S3_BUCKET and AEGIS_AUDIT_ARCHIVE_BUCKET (S3 with Object Lock): a filesystem store keeps retention only as long as nobody edits the folder';
  }
  return undefined;
}

/**
 * What the local server additionally refuses: REQUIRE_MTLS=true needs TLS with client
 * certificate verification (on AWS, mTLS is API Gateway's custom domain, not this server).
 */
export function localServerRefusal(c: Config): string | undefined {
  if (c.requireMtls && !(c.tls && c.tls.clientCa)) {
    return 'REQUIRE_MTLS=true but AEGIS_TLS_CERT, AEGIS_TLS_KEY and AEGIS_TLS_CLIENT_CA are not all set';
  }
  return undefined;
}

/** Loads and checks the configuration; throws ConfigError with a one-line reason. */
export function loadCheckedConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const c = loadConfig(env);
  const refusal = startupRefusal(c);
  if (refusal) throw new ConfigError(refusal);
  return c;
}

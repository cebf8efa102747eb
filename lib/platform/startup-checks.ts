import { sql } from 'kysely';
import { ConfigError, type Config } from './config.js';
import { pendingMigrations } from './sql/migrations.js';
import type { Database } from './ports/database.js';
import type { KeyProvider } from './ports/signer.js';
import type { ObjectLockStatus, ObjectStore } from './ports/object-store.js';

/**
 * What production (`NODE_ENV=production`) checks before it serves: the things Aegis's
 * guarantees rest on and that a careless deployment can get wrong without any request
 * failing. Each check has a name; a refusal says which one failed, in one line.
 */
export type StartupCheck =
  | 'database-reachable'
  | 'database-migrated'
  | 'artifact-bucket-object-lock'
  | 'audit-archive-object-lock'
  | 'manifest-kms-key'
  | 'audit-kms-key';

/**
 * A production startup check refused this configuration: a definitive answer (Object Lock
 * off, a wrong key spec, access denied, a schema behind the code), cached by the Lambda
 * container for its lifetime. A fault while checking (timeout, throttling, an unreachable
 * database) is thrown as {@link StartupCheckFault} instead and retried on the next request.
 */
export class StartupCheckError extends ConfigError {
  override name = 'StartupCheckError';
  constructor(
    readonly check: StartupCheck,
    reason: string,
    opts?: { cause?: unknown },
  ) {
    super(`startup check ${check} failed: ${reason}`, opts);
  }
}

/** A transient fault while checking (not cached: the next cold start or request checks again). */
export class StartupCheckFault extends ConfigError {
  override name = 'StartupCheckFault';
  constructor(
    readonly check: StartupCheck,
    reason: string,
    opts?: { cause?: unknown },
  ) {
    super(`startup check ${check} could not run: ${reason}`, opts);
  }
}

export interface StartupCheckTargets {
  database: Database;
  store: ObjectStore;
  archive: ObjectStore;
  keyProvider: KeyProvider;
}

export interface StartupCheckOptions {
  /** the migrate function: the database may be behind (it is about to migrate it) */
  migrating?: boolean;
}

const errorName = (e: unknown): string => (e as { name?: string })?.name ?? 'Error';
const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim().slice(0, 300);

/** S3 and KMS errors that are answers (refuse) rather than faults (retry). */
const DEFINITIVE = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'NoSuchBucket',
  'NotFoundException',
  'InvalidArnException',
  'KMSInvalidStateException',
  'DisabledException',
]);

function fromError(check: StartupCheck, what: string, e: unknown, grant: string): never {
  const name = errorName(e);
  if (name === 'AccessDenied' || name === 'AccessDeniedException')
    throw new StartupCheckError(check, `${what}: access denied (the function needs ${grant})`, { cause: e });
  if (DEFINITIVE.has(name)) throw new StartupCheckError(check, `${what}: ${name}`, { cause: e });
  throw new StartupCheckFault(check, `${what}: ${name}: ${oneLine((e as Error)?.message ?? String(e))}`, { cause: e });
}

/** The Object Lock rule each bucket must have: enabled on both; a COMPLIANCE default retention on the archive. */
export function objectLockRefusal(which: 'artifacts' | 'audit-archive', s: ObjectLockStatus): string | undefined {
  if (!s.enabled) return 'Object Lock is not enabled on the bucket';
  if (s.defaultRetention && s.defaultRetention.mode !== 'COMPLIANCE')
    return `the bucket's default retention is ${s.defaultRetention.mode}, not COMPLIANCE`;
  if (which === 'audit-archive' && !s.defaultRetention)
    return 'the audit archive bucket has no default retention (it needs Object Lock COMPLIANCE default retention)';
  return undefined;
}

/** The key rule: an enabled `SIGN_VERIFY` key of spec `ECC_NIST_EDWARDS25519` (P-256 only under the test allowance). */
export function keyRefusal(
  k: { keySpec: string | undefined; keyUsage: string | undefined; keyState: string | undefined },
  allowP256: boolean,
): string | undefined {
  if (k.keyUsage !== 'SIGN_VERIFY') return `key usage is ${k.keyUsage ?? 'not set'}, not SIGN_VERIFY`;
  if (k.keySpec !== 'ECC_NIST_EDWARDS25519' && !(allowP256 && k.keySpec === 'ECC_NIST_P256')) {
    return `key spec is ${k.keySpec ?? 'not set'}, not ECC_NIST_EDWARDS25519${k.keySpec === 'ECC_NIST_P256' ? ' (P-256 is accepted only with AEGIS_TEST_ALLOW_P256_KMS_KEYS=true against a loopback KMS emulator)' : ''}`;
  }
  if (k.keyState !== 'Enabled') return `key state is ${k.keyState ?? 'not set'}, not Enabled`;
  return undefined;
}

/**
 * Runs the production checks against the adapters a container was built with. Throws
 * {@link StartupCheckError} (refused) or {@link StartupCheckFault} (could not check);
 * returns when everything Aegis relies on is in place.
 */
export async function runStartupChecks(config: Config, t: StartupCheckTargets, opts: StartupCheckOptions = {}): Promise<void> {
  try {
    await sql`select 1`.execute(t.database.db);
  } catch (e) {
    throw new StartupCheckFault(
      'database-reachable',
      `${t.database.kind}: ${errorName(e)}: ${oneLine((e as Error)?.message ?? String(e))}`,
      { cause: e },
    );
  }
  const buckets = [
    ['artifact-bucket-object-lock', 'artifacts', t.store, config.objectStore] as const,
    ['audit-archive-object-lock', 'audit-archive', t.archive, config.auditArchive] as const,
  ];
  const keys = [['manifest-kms-key', config.signing.manifestKmsKeyId] as const, ['audit-kms-key', config.signing.auditKmsKeyId] as const];
  const settled = await Promise.allSettled([
    ...buckets.map(async ([check, which, store, where]) => {
      const name = where.kind === 's3' ? `bucket ${where.bucket}` : `store ${where.root}`;
      if (!store.describeObjectLock) throw new StartupCheckError(check, `${name} is not an S3 bucket with Object Lock`);
      const status = await store
        .describeObjectLock()
        .catch((e: unknown) => fromError(check, name, e, 's3:GetBucketObjectLockConfiguration'));
      const refusal = objectLockRefusal(which, status);
      if (refusal) throw new StartupCheckError(check, `${name}: ${refusal}`);
    }),
    ...keys.map(async ([check, keyId]) => {
      if (!keyId || !t.keyProvider.describeKey)
        throw new StartupCheckError(check, 'no KMS key is configured (production signs with KMS keys only)');
      const described = await t.keyProvider
        .describeKey(keyId)
        .catch((e: unknown) => fromError(check, `KMS key ${keyId}`, e, 'kms:DescribeKey'));
      const refusal = keyRefusal(described, config.kms.allowP256);
      if (refusal) throw new StartupCheckError(check, `KMS key ${keyId}: ${refusal}`);
    }),
  ]);
  // a refusal is the more useful answer than a fault in another check
  const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  const first = failures.find((e) => e instanceof StartupCheckError) ?? failures[0];
  if (first) throw first;
  if (opts.migrating) return;
  let pending: string[];
  try {
    pending = await pendingMigrations(t.database.db);
  } catch (e) {
    throw new StartupCheckFault('database-migrated', `${errorName(e)}: ${oneLine((e as Error)?.message ?? String(e))}`, { cause: e });
  }
  if (pending.length)
    throw new StartupCheckError(
      'database-migrated',
      `the database is not migrated: ${pending.length} pending (${pending.join(', ')}); run the migrate function (aws) or start the local server once`,
    );
}

import { sql } from 'kysely';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { KeyService } from '../modules/keys/service.js';
import type { Database } from './ports/database.js';
import type { ObjectStore } from './ports/object-store.js';

/** What readiness reports for one dependency: nothing more, so the reply leaks no internals. */
export type DependencyStatus = 'ok' | 'unreachable';

export interface ReadinessTargets {
  database: Database;
  store: ObjectStore;
  keys: Pick<KeyService, 'assertActiveUsable'>;
  logger: Pick<Logger, 'warn'>;
}

export interface Readiness {
  ok: boolean;
  checks: { database: DependencyStatus; objectStore: DependencyStatus; signer: DependencyStatus };
}

/** Each dependency's time bound by default: well inside API Gateway's 29 s and a function's timeout. */
export const READINESS_TIMEOUT_MS = 2_000;

/** A key no store holds: reading its metadata is the cheapest call a store without a configuration read answers. */
const PROBE_KEY = 'readiness/probe';

class TimedOut extends Error {
  override name = 'TimedOut';
}

async function bounded(name: string, work: () => Promise<unknown>, timeoutMs: number, t: ReadinessTargets): Promise<DependencyStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([work(), timeout]);
    return 'ok';
  } catch (e) {
    // the cause goes to the log only: callers learn which dependency, never why
    t.logger.warn('readiness check failed', { dependency: name, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    return 'unreachable';
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Readiness: one cheap call to each dependency a request needs, in parallel, each bounded by
 * `timeoutMs`. The database answers `select 1`; the object store its Object Lock configuration
 * (S3: `GetObjectLockConfiguration`, which every function may read for its startup checks) or,
 * for a store without one (the local filesystem), the metadata of a key; the key ring resolves
 * the active manifest and audit keys to signers and, on KMS, each key is enabled.
 *
 * @example
 * const { ok, checks } = await checkReadiness(container);
 * // { ok: false, checks: { database: 'ok', objectStore: 'unreachable', signer: 'ok' } }
 */
export async function checkReadiness(t: ReadinessTargets, timeoutMs = READINESS_TIMEOUT_MS): Promise<Readiness> {
  const [database, objectStore, signer] = await Promise.all([
    bounded('database', () => sql`select 1`.execute(t.database.db), timeoutMs, t),
    bounded('objectStore', () => (t.store.describeObjectLock ? t.store.describeObjectLock() : t.store.head(PROBE_KEY)), timeoutMs, t),
    bounded('signer', () => Promise.all([t.keys.assertActiveUsable('manifest'), t.keys.assertActiveUsable('audit')]), timeoutMs, t),
  ]);
  const checks = { database, objectStore, signer };
  return { ok: Object.values(checks).every((s) => s === 'ok'), checks };
}

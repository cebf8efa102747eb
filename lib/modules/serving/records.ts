/** What serving audits: the first load of an artifact per environment, and a refusal to serve one. */
import type { RecordedVariant } from '../../kernel/canary-metrics.js';
import type { Clock } from '../../platform/ports/clock.js';
import type { Database } from '../../platform/ports/database.js';
import type { AuditLog } from '../../platform/audit/log.js';
import type { Refusal } from './domain.js';
import type { ServedModel } from './loader.js';
import { deploymentRow, hasDeployment, insertDeploymentOnce } from './store.js';

/** The actor of serving's own audit events. */
export const SERVING_ACTOR = 'aegis-serving';

interface Deps {
  database: Database;
  audit: AuditLog;
  clock: Clock;
  logger: { error(message: string, ...extra: Record<string, unknown>[]): void };
}

/** A `serving_deployments` row and `serving.verified`, in one transaction, unless the artifact already served in `env`. */
export async function recordVerified(d: Deps, served: ServedModel, env: string): Promise<void> {
  if (await hasDeployment(d.database.db, served.artifactId, env)) return;
  const deployment = {
    artifactId: served.artifactId,
    modelName: served.modelName,
    env,
    manifestSignatureId: served.manifestSignatureId,
    format: served.model.format,
    verifiedAt: d.clock.now().toISOString(),
  };
  await d.database.db.transaction().execute(async (tx) => {
    // another process may have recorded it meanwhile: only the one that inserts audits
    if (!(await insertDeploymentOnce(tx, deploymentRow(deployment)))) return;
    await d.audit.append(tx, {
      type: 'serving.verified',
      actor: SERVING_ACTOR,
      subject: `artifact:${served.artifactId}`,
      payload: deployment,
    });
  });
}

/** `serving.refused`; a failure to audit it is logged, never turned into the caller's error (the refusal stands). */
export async function recordRefusal(
  d: Deps,
  r: { artifactId: string; modelName: string; env: string; variant: RecordedVariant | 'warm-up'; refusal: Refusal },
): Promise<void> {
  const payload = {
    artifactId: r.artifactId,
    modelName: r.modelName,
    env: r.env,
    variant: r.variant,
    code: r.refusal.code,
    reason: r.refusal.reason.slice(0, 2000),
    at: d.clock.now().toISOString(),
  };
  try {
    await d.database.db
      .transaction()
      .execute((tx) => d.audit.append(tx, { type: 'serving.refused', actor: SERVING_ACTOR, subject: `artifact:${r.artifactId}`, payload }));
  } catch (e) {
    d.logger.error('serving.refused not audited', { artifactId: r.artifactId, error: (e as Error).message });
  }
}

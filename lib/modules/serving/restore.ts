/**
 * Restoring the serving module from the chain: a `serving_deployments` row per
 * `serving.verified`, so a rebuilt registry still knows where each artifact served. Serving
 * events (per request, not audited) are not restored. Pure: the rebuild writes the rows.
 */
import type { AuditEvent } from '../../kernel/audit-chain.js';
import type { Executor } from '../../platform/ports/database.js';
import { handlerFor, inChunks, parsePayload, type RestoreLog } from '../restore.js';
import { ServingVerifiedPayload } from './events.js';
import { deploymentRow, insertDeployments, type DeploymentRow } from './store.js';

export interface ServingRows {
  servingDeployments: DeploymentRow[];
}

/** The deployments replayed from the chain; the first `serving.verified` per artifact and environment counts. */
export class ServingRestore {
  readonly deployments = new Map<string, DeploymentRow>();

  apply(e: AuditEvent, log: RestoreLog): void {
    handlerFor(HANDLERS, e.type)?.(this, e, log);
  }

  /** The rows of `restored` artifacts (the others are not in the rebuilt registry). */
  take(restored: ReadonlySet<string>): ServingRows {
    return { servingDeployments: [...this.deployments.values()].filter((r) => restored.has(r.artifact_id)) };
  }
}

const HANDLERS: Readonly<Record<string, (r: ServingRestore, e: AuditEvent, log: RestoreLog) => void>> = {
  'serving.verified': (r, e, log) => {
    const v = parsePayload(ServingVerifiedPayload, e, 'event', log);
    if (!v) return;
    const key = `${v.artifactId}\u0000${v.env}`;
    if (!r.deployments.has(key)) r.deployments.set(key, deploymentRow(v));
  },
};

/** The event types the serving restore reads. */
export const RESTORES: readonly string[] = Object.keys(HANDLERS);

/** Writes the rows in the caller's transaction. */
export async function writeServing(x: Executor, rows: ServingRows): Promise<void> {
  await inChunks(rows.servingDeployments, (part) => insertDeployments(x, part));
}

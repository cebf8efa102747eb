/** The serving module's tables as parity compares them (serving events are not restored, so not compared). */
import type { Executor } from '../../platform/ports/database.js';
import { toIso } from '../../platform/sql/schema.js';
import { deploymentsOf } from './store.js';

export interface ServingDeploymentSnapshot {
  id: string;
  modelName: string;
  manifestSignatureId: string;
  format: string;
  verifiedAt: string;
}

/** Every serving deployment, by `<artifactId>@<env>`. */
export async function servingSnapshot(x: Executor): Promise<ServingDeploymentSnapshot[]> {
  return (await deploymentsOf(x)).map((r) => ({
    id: `${r.artifact_id}@${r.env}`,
    modelName: r.model_name,
    manifestSignatureId: r.manifest_signature_id,
    format: r.format,
    verifiedAt: toIso(r.verified_at),
  }));
}

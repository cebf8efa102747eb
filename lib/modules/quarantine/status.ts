/** Whether an artifact is quarantined: the last applied request about it says so (read by promotions, rollouts, verification, downloads). */
import type { Database, Executor } from '../../platform/ports/database.js';
import { quarantinedError, type QuarantineState } from './domain.js';
import { appliedOf } from './store.js';

/**
 * The quarantine state as the rest of Aegis reads it (the composition hands it to the
 * promotion module, the rollout's ledger and verification, built before them).
 *
 * @example
 * await reader.assertNotQuarantined(artifactId); // throws 409 ARTIFACT_QUARANTINED, field artifactId
 */
export class QuarantineReader {
  constructor(private readonly database: Database) {}

  /** The artifact's quarantine, or null when it is not quarantined (never was, or was released). */
  async stateOf(artifactId: string, x: Executor = this.database.db): Promise<QuarantineState | null> {
    const last = (await appliedOf(x, artifactId)).at(-1);
    if (last?.action !== 'quarantine') return null;
    return {
      requestId: last.requestId,
      artifactId,
      reason: last.reason,
      quarantinedBy: last.requestedBy,
      quarantinedAt: (last.appliedAt ?? last.createdAt).toISOString(),
    };
  }

  /**
   * Refuses a quarantined artifact: 409 `ARTIFACT_QUARANTINED` naming the quarantine, field
   * `artifactId`. What a download route calls before it serves bytes.
   */
  async assertNotQuarantined(artifactId: string, what?: string): Promise<void> {
    const q = await this.stateOf(artifactId);
    if (q) throw quarantinedError(q, what);
  }
}

import type { Clock } from '../ports/clock.js';
import type { DatasetService } from '../../modules/datasets/service.js';
import type { KeyService } from '../../modules/keys/service.js';
import { LineageService } from '../../modules/lineage/service.js';
import type { PromotionService } from '../../modules/promotion/service.js';
import type { QuarantineReader } from '../../modules/quarantine/service.js';
import type { RegistryService } from '../../modules/registry/service.js';
import type { RolloutService } from '../../modules/rollout/service.js';
import type { ServingService } from '../../modules/serving/service.js';
import type { DriftRecords } from '../../modules/drift/records-service.js';

/** Lineage reads where an artifact went through the promotion and rollout services, its quarantine, and the drift suggestions about it. */
export function lineageService(
  c: {
    registry: RegistryService;
    datasets: DatasetService;
    keys: KeyService;
    quarantineReader: Pick<QuarantineReader, 'stateOf'>;
  },
  clock: Clock,
  promotions: PromotionService,
  rollout: RolloutService,
  serving: Pick<ServingService, 'deployments'>,
  drift?: Pick<DriftRecords, 'suggestionsOf'>,
): LineageService {
  return new LineageService({
    registry: c.registry,
    history: {
      summaries: (id) => promotions.summaries(id),
      deployments: (id) => rollout.deployments(id),
      served: (id) => serving.deployments(id),
      suggestions: async (id) =>
        (await drift?.suggestionsOf(id))?.map((s) => ({
          suggestionId: s.suggestionId,
          env: s.env,
          status: s.status,
          servingArtifactId: s.servingArtifactId,
          createdAt: s.createdAt,
          resolvedBy: s.resolvedBy,
        })) ?? [],
      quarantine: async (id) => {
        const q = await c.quarantineReader.stateOf(id);
        return q && { requestId: q.requestId, reason: q.reason, quarantinedBy: q.quarantinedBy, quarantinedAt: q.quarantinedAt };
      },
    },
    datasets: c.datasets,
    keys: c.keys,
    clock,
  });
}

/** The audit payloads serving writes (ServingService): where an artifact first served, and what it refused to serve. */
import * as z from 'zod';
import { Iso, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';

/** The first successful load of an artifact in an environment (subject `artifact:<id>`): it verified and serves there. */
export const ServingVerifiedPayload = z.object({
  artifactId: Text,
  modelName: Text,
  env: Text,
  manifestSignatureId: Text,
  format: Text,
  verifiedAt: Iso,
});
export type ServingVerified = z.infer<typeof ServingVerifiedPayload>;

/** An artifact serving refused to load (once per artifact per process): it never answers a request. */
export const ServingRefusedPayload = z.object({
  artifactId: Text,
  modelName: Text,
  env: Text,
  // `shadow`: the route's mirrored candidate; `warm-up`: a blue-green candidate warmed before the switch
  variant: z.enum(['stable', 'canary', 'shadow', 'warm-up']),
  code: z.enum(['ARTIFACT_UNVERIFIED', 'UNSUPPORTED_FORMAT', 'ARTIFACT_UNLOADABLE']),
  reason: Text,
  at: Iso,
});

export const SERVING_EVENTS: EventCatalogue = {
  'serving.verified': {
    schema: ServingVerifiedPayload,
    restore: { restoredBy: 'the serving restore: a serving_deployments row (lib/modules/serving/restore.ts)' },
  },
  'serving.refused': {
    schema: ServingRefusedPayload,
    restore: { notRestored: 'a refusal changes no state: the next load checks the artifact again' },
  },
};

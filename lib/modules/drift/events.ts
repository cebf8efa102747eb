/**
 * The audit payloads the drift module writes. Subjects: `drift-report:<reportId>` for
 * `drift.report`, `drift-suggestion:<suggestionId>` for the suggestion's events. Runs are not
 * audited (operational state); a report and every suggestion transition are, and rebuild-index
 * restores the report index and the suggestions from them (lib/modules/drift/restore.ts).
 */
import * as z from 'zod';
import { SIGNATURE_ALGS } from '../../kernel/signatures.js';
import { Int, Iso, Sha, Text, type EventCatalogue } from '../../platform/audit/catalogue.js';
import { REASON_DETECTORS, REPORT_VERDICTS } from './records.js';

/** A SuggestionReason (records.ts): the audited payloads and the API replies carry it alike. */
export const Reason = z.object({
  detector: z.enum(REASON_DETECTORS),
  feature: Text.optional(),
  metric: Text,
  value: z.number(),
  threshold: z.number(),
});

/** A DriftReportSummary (records.ts), as audited and as the report index replies. */
export const Summary = z.object({
  rows: Int.nonnegative(),
  requests: Int.nonnegative(),
  labelled: Int.nonnegative(),
  features: Int.nonnegative(),
  driftedFeatures: z.array(Text),
  driftedShare: z.number(),
  datasetDrift: z.boolean(),
  labelDrift: z.boolean().nullable(),
  predictionDrift: z.boolean().nullable(),
  performanceRegression: z.boolean(),
  reasons: z.array(Reason),
});

/** A report stored and indexed: its object's sha256 chains the report's bytes. */
export const DriftReportPayload = z.object({
  reportId: Text,
  runId: Text,
  model: Text,
  env: Text,
  artifactId: Text,
  from: Iso,
  to: Iso,
  verdict: z.enum(REPORT_VERDICTS),
  objectKey: Text,
  sha256: Sha,
  summary: Summary,
  /** the suggestion it raised or attached to */
  suggestionId: Text.nullable(),
  createdAt: Iso,
});

const SuggestionSignature = z.object({ signerId: Text, alg: z.enum(SIGNATURE_ALGS), ts: Iso, signature: Text });

/** A suggestion raised: the signed statement and its signature. */
export const DriftSuggestionPayload = z.object({
  suggestionId: Text,
  model: Text,
  env: Text,
  servingArtifactId: Text,
  reportId: Text,
  reasons: z.array(Reason).min(1),
  createdAt: Iso,
  status: z.literal('open'),
  signature: SuggestionSignature,
});

/** A later drifted report of the same deployment and artifact, attached to its suggestion. */
export const DriftSuggestionAttachedPayload = z.object({ suggestionId: Text, reportId: Text, reasons: z.array(Reason) });

/** accept / dismiss: who, why, when. */
export const DriftSuggestionDecidedPayload = z.object({
  suggestionId: Text,
  status: z.enum(['accepted', 'dismissed']),
  reason: Text,
  by: Text,
  at: Iso,
});

/** Resolved: an artifact retrained from it (manifest `parent.suggestionId`) was applied to its environment. */
export const DriftSuggestionResolvedPayload = z.object({
  suggestionId: Text,
  artifactId: Text,
  promotionId: Text,
  at: Iso,
});

const RESTORE = { restoredBy: 'the drift restore (lib/modules/drift/restore.ts)' } as const;

export const DRIFT_EVENTS: EventCatalogue = {
  'drift.report': { schema: DriftReportPayload, restore: RESTORE },
  'drift.suggestion': { schema: DriftSuggestionPayload, restore: RESTORE },
  'drift.suggestion_attached': { schema: DriftSuggestionAttachedPayload, restore: RESTORE },
  'drift.suggestion_accepted': { schema: DriftSuggestionDecidedPayload, restore: RESTORE },
  'drift.suggestion_dismissed': { schema: DriftSuggestionDecidedPayload, restore: RESTORE },
  'drift.suggestion_resolved': { schema: DriftSuggestionResolvedPayload, restore: RESTORE },
};

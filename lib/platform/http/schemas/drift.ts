import * as z from 'zod';
import { ModelName, Uuid } from '../../../kernel/names.js';
import { TARGET_ENVS } from '../../../kernel/policy.js';
import { MAX_WINDOW_HOURS } from '../../../modules/drift/domain.js';
import { Reason, Summary } from '../../../modules/drift/events.js';
import { REPORT_VERDICTS, RUN_STATUSES, RUN_TRIGGERS, SUGGESTION_STATUSES } from '../../../modules/drift/records.js';

/** Drift: runs of the drift state machine, the report index, retrain suggestions (issue 21). */

const Time = z.iso.datetime({ offset: true });
const Env = z.enum(TARGET_ENVS);
const Limit = z.coerce.number().int().min(1).max(500).default(50);
const Cursor = z.string().min(1).max(500).optional();

/**
 * A window asked for: both ends or neither (then the schedule's latest complete window), `from`
 * before `to`, at most MAX_WINDOW_HOURS long — the rules of the drift module's checkQuery, so a
 * bad window is refused before a run is recorded.
 */
export const DriftRunBody = z
  .object({
    modelName: ModelName,
    env: Env,
    from: Time.optional().describe('the window start (with `to`); both absent: the latest complete scheduled window'),
    to: Time.optional().describe('the window end, exclusive'),
  })
  .strict()
  .superRefine((b, ctx) => {
    if ((b.from === undefined) !== (b.to === undefined)) {
      const missing = b.from === undefined ? 'from' : 'to';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'give both from and to, or neither' });
      return;
    }
    if (b.from === undefined || b.to === undefined) return;
    const span = Date.parse(b.to) - Date.parse(b.from);
    if (span <= 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'to must be after from' });
    else if (span > MAX_WINDOW_HOURS * 3_600_000)
      ctx.addIssue({ code: 'custom', path: ['to'], message: `a window is at most ${MAX_WINDOW_HOURS} hours` });
  });

/** A report's or suggestion's id (`rep-…`, `sug-…`): a storage-safe token, as manifest.parent.suggestionId carries it. */
const DriftObjectId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit');
export const DriftRunParams = z.object({ runId: Uuid }).strict();
export const DriftReportParams = z.object({ reportId: DriftObjectId }).strict();
export const DriftSuggestionParams = z.object({ suggestionId: DriftObjectId }).strict();

export const DriftReportsQuery = z
  .object({
    model: ModelName.optional(),
    env: Env.optional(),
    since: Time.optional().describe('only reports of windows ending at or after this time'),
    limit: Limit,
    cursor: Cursor,
  })
  .strict();

export const DriftSuggestionsQuery = z
  .object({
    model: ModelName.optional(),
    env: Env.optional(),
    status: z.enum(SUGGESTION_STATUSES).optional(),
    limit: Limit,
    cursor: Cursor,
  })
  .strict();

export const DriftDecisionBody = z
  .object({ reason: z.string().trim().min(1, 'must not be empty').max(2000).describe('why (recorded on the suggestion and audited)') })
  .strict();

const DriftRunSchema = z.object({
  runId: z.string(),
  model: z.string(),
  env: z.string(),
  artifactId: z.string().nullable().describe('the serving artifact; null until the run is planned'),
  from: z.string(),
  to: z.string(),
  trigger: z.enum(RUN_TRIGGERS),
  requestedBy: z.string(),
  status: z.enum(RUN_STATUSES).describe('skipped: nothing to judge (no route, or no baseline): no report'),
  shards: z.number().int().nullable(),
  reportId: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

const DriftReportRecordSchema = z.object({
  reportId: z.string(),
  runId: z.string(),
  model: z.string(),
  env: z.string(),
  artifactId: z.string(),
  from: z.string(),
  to: z.string(),
  verdict: z.enum(REPORT_VERDICTS),
  objectKey: z.string(),
  sha256: z.string(),
  summary: Summary,
  suggestionId: z.string().nullable(),
  createdAt: z.string(),
});

const RetrainSuggestionSchema = z.object({
  suggestionId: z.string(),
  model: z.string(),
  env: z.string(),
  servingArtifactId: z.string(),
  reportId: z.string().describe('the report that raised it'),
  reasons: z.array(Reason),
  createdAt: z.string(),
  status: z.enum(SUGGESTION_STATUSES),
  statusReason: z.string().nullable(),
  statusBy: z.string().nullable(),
  statusAt: z.string().nullable(),
  resolvedBy: z.object({ artifactId: z.string(), promotionId: z.string() }).nullable(),
  reportIds: z.array(z.string()).describe('every report attached to it, the raising one first'),
  signature: z.object({ signerId: z.string(), alg: z.string(), ts: z.string(), signature: z.string() }),
});

export const DriftRunReply = z.object({ run: DriftRunSchema });
export type DriftRunReply = z.output<typeof DriftRunReply>;
export const DriftReportsReply = z.object({ reports: z.array(DriftReportRecordSchema), nextCursor: z.string().nullable() });
export type DriftReportsReply = z.output<typeof DriftReportsReply>;
export const DriftReportReply = z.object({
  record: DriftReportRecordSchema,
  report: z
    .record(z.string(), z.unknown())
    .describe('the stored window report (aegis.drift-window-report/v1), its bytes checked against record.sha256'),
});
export type DriftReportReply = z.output<typeof DriftReportReply>;
export const DriftSuggestionsReply = z.object({ suggestions: z.array(RetrainSuggestionSchema), nextCursor: z.string().nullable() });
export type DriftSuggestionsReply = z.output<typeof DriftSuggestionsReply>;
export const DriftSuggestionReply = z.object({ suggestion: RetrainSuggestionSchema });
export type DriftSuggestionReply = z.output<typeof DriftSuggestionReply>;

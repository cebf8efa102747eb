import * as z from 'zod';

/** The audit log's routes: list, verify, archive. */

export const AuditEventSchema = z.object({
  seq: z.number().int(),
  eventId: z.string(),
  type: z.string(),
  actor: z.string(),
  subject: z.string(),
  payload: z.record(z.string(), z.unknown()),
  ts: z.string(),
  prevHash: z.string(),
  hash: z.string(),
  signature: z.string(),
  signerId: z.string(),
});
export const AuditListQuery = z
  .object({
    subject: z.string().min(1).max(300).optional(),
    type: z
      .string()
      .regex(/^[a-z]+(\.[a-z_]+)+$/, 'must look like artifact.registered')
      .optional(),
    since: z.iso.datetime({ offset: true }).optional().describe('only events at or after this time'),
    until: z.iso.datetime({ offset: true }).optional().describe('only events before this time'),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, 'must be a seq from nextCursor')
      .optional(),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.since !== undefined && q.until !== undefined && Date.parse(q.until) <= Date.parse(q.since))
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'until must be after since' });
  });
export const AuditListReply = z.object({ items: z.array(AuditEventSchema), nextCursor: z.string().nullable() });
export type AuditListReply = z.output<typeof AuditListReply>;
export const AuditVerifyQuery = z
  .object({
    fromArchive: z.enum(['true', 'false']).default('false'),
    since: z.coerce.number().int().min(1).optional(),
  })
  .strict();
export const AuditVerifyReply = z.object({
  ok: z.boolean(),
  source: z.enum(['database', 'archive']),
  checked: z.number().int(),
  fromSeq: z.number().int().nullable(),
  headSeq: z.number().int().nullable(),
  headHash: z.string().nullable(),
  archivedThrough: z.number().int().nullable(),
  parity: z.enum(['ok', 'mismatch', 'not-checked']),
  checkpoint: z
    .object({ seq: z.number().int(), hash: z.string(), ts: z.string(), key: z.string() })
    .nullable()
    .describe('the newest signed head checkpoint (aegis.audit-head/v1) the database was checked against; null when none was written yet'),
  firstBreak: z.object({ seq: z.number().int(), problem: z.string(), detail: z.string() }).nullable(),
});
export type AuditVerifyReply = z.output<typeof AuditVerifyReply>;
export const AuditArchiveReply = z.object({ segments: z.number().int(), events: z.number().int(), archivedThrough: z.number().int() });
export type AuditArchiveReply = z.output<typeof AuditArchiveReply>;

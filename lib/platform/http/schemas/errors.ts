import * as z from 'zod';

/** Every error answer: `{ error: { code, message, field?, requestId, … } }`. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    requestId: z.string(),
    retryable: z.literal(true).optional().describe('a server-side fault (503): the same request may succeed after a pause'),
    details: z.record(z.string(), z.unknown()).optional().describe('machine-readable specifics, e.g. the rules that refused a promotion'),
  }),
});
export type ErrorBody = z.output<typeof ErrorBody>;

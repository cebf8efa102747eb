import type { Attributes } from '@opentelemetry/api';
import { annotate, idAttributes, withRequestSpan } from './spans.js';

/** A state-machine Task: the step it runs (`action` of a rollout, `task` of a drift run) and its promotion or run. */
export const stepAttributes = (input: object): Attributes => {
  const i = input as Record<string, unknown>;
  return {
    'aegis.step': String(i.action ?? i.task ?? 'unknown'),
    ...(typeof i.runId === 'string' && { 'aegis.drift_run_id': i.runId }),
    ...idAttributes(input),
  };
};

/**
 * A step function as Step Functions invokes it (Lambda): each invocation its own X-Ray
 * subsegment `## workflow.step`, annotated with the promotion it advances, so a promotion's
 * steps are found by `annotation.promotionId`.
 */
export const traceStep =
  <E extends object, R>(step: (event: E) => Promise<R>) =>
  (event: E): Promise<R> =>
    withRequestSpan('workflow.step', stepAttributes(event), async () => {
      annotate(idAttributes(event));
      return step(event);
    });

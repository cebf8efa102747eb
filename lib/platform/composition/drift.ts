/** The drift pipeline's composition (issue 21). PLACEHOLDER of the contract commit: replaced by the drift runs work. */
import type { DriftApi } from '../../modules/drift/records.js';

const notYet = (): Promise<never> => Promise.reject(new Error('the drift pipeline is not wired yet'));

export const unbuiltDrift: DriftApi = {
  requestRun: notYet,
  run: notYet,
  reports: notYet,
  report: notYet,
  suggestions: notYet,
  suggestion: notYet,
  decide: notYet,
  modelOf: notYet,
};

/** The `servingTelemetry` API function (lib/platform/http/route-functions.ts): servingFeedback, servingStatus. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as servingFeedback } from '../serving-feedback.js';
import { handler as servingStatus } from '../serving-status.js';

export const handler = apiFunction('servingTelemetry', { servingFeedback, servingStatus });

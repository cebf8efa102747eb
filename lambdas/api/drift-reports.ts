/** The `driftReports` API function (lib/platform/http/route-functions.ts): driftReportGet — the one route that reads the drift store (`drift-reports/`). */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as driftReportGet } from '../drift-report-get.js';

export const handler = apiFunction('driftReports', { driftReportGet });

/** The `driftReads` API function (lib/platform/http/route-functions.ts): driftRunGet, driftReportsList, driftSuggestionsList, driftSuggestionGet — the database only. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as driftRunGet } from '../drift-run-get.js';
import { handler as driftReportsList } from '../drift-reports-list.js';
import { handler as driftSuggestionsList } from '../drift-suggestions-list.js';
import { handler as driftSuggestionGet } from '../drift-suggestion-get.js';

export const handler = apiFunction('driftReads', { driftRunGet, driftReportsList, driftSuggestionsList, driftSuggestionGet });

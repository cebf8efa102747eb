import {
  DriftDecisionBody,
  DriftReportParams,
  DriftReportReply,
  DriftReportsQuery,
  DriftReportsReply,
  DriftRunBody,
  DriftRunParams,
  DriftRunReply,
  DriftSuggestionParams,
  DriftSuggestionReply,
  DriftSuggestionsQuery,
  DriftSuggestionsReply,
} from '../schemas.js';
import { ANY_ROLE, type RouteSpec } from './spec.js';

/** Who decides a retrain suggestion: those who promote (DESIGN.md, Roles). */
const DECIDERS = ['promoter', 'admin'] as const;

const decided = (what: string) =>
  ({
    schema: DriftSuggestionReply,
    status: { 200: `the suggestion, ${what}` },
  }) as const;

export const DRIFT_ROUTES = {
  driftRunRequest: {
    id: 'driftRunRequest',
    method: 'POST',
    path: '/v1/drift/runs',
    entry: 'lambdas/drift-run-request.ts',
    roles: ['operator', 'promoter', 'admin'],
    scope: { by: 'body.modelName' },
    summary:
      "Judge a window of a deployment's traffic now: records a run and starts the drift state machine; without from/to the deployment's latest complete scheduled window; 409 naming env when nothing serves the model there",
    request: { body: DriftRunBody },
    reply: { schema: DriftRunReply, status: { 202: 'the run, recorded and started (poll GET /v1/drift/runs/{runId})' } },
  },
  driftRunGet: {
    id: 'driftRunGet',
    method: 'GET',
    path: '/v1/drift/runs/{runId}',
    entry: 'lambdas/drift-run-get.ts',
    roles: ANY_ROLE,
    scope: { by: 'runId' },
    summary: 'A drift run: its window, status (running, succeeded, skipped, failed), shards, report and error',
    request: { params: DriftRunParams },
    reply: { schema: DriftRunReply, status: { 200: 'the run' } },
  },
  driftReportsList: {
    id: 'driftReportsList',
    method: 'GET',
    path: '/v1/drift/reports',
    entry: 'lambdas/drift-reports-list.ts',
    roles: ANY_ROLE,
    scope: 'filtered',
    summary: "Drift reports, newest first, by model, environment and window end (`since`); a scoped caller sees its models' only",
    request: { query: DriftReportsQuery },
    reply: { schema: DriftReportsReply, status: { 200: 'one page of report records' } },
  },
  driftReportGet: {
    id: 'driftReportGet',
    method: 'GET',
    path: '/v1/drift/reports/{reportId}',
    entry: 'lambdas/drift-report-get.ts',
    roles: ANY_ROLE,
    scope: { by: 'reportId' },
    summary:
      'A drift report: its index record and the stored window report (per feature statistics and histograms), checked against its sha256',
    request: { params: DriftReportParams },
    reply: { schema: DriftReportReply, status: { 200: 'the record and the report' } },
  },
  driftSuggestionsList: {
    id: 'driftSuggestionsList',
    method: 'GET',
    path: '/v1/drift/suggestions',
    entry: 'lambdas/drift-suggestions-list.ts',
    roles: ANY_ROLE,
    scope: 'filtered',
    summary: "Retrain suggestions, newest first, by model, environment and status; a scoped caller sees its models' only",
    request: { query: DriftSuggestionsQuery },
    reply: { schema: DriftSuggestionsReply, status: { 200: 'one page of suggestions' } },
  },
  driftSuggestionGet: {
    id: 'driftSuggestionGet',
    method: 'GET',
    path: '/v1/drift/suggestions/{suggestionId}',
    entry: 'lambdas/drift-suggestion-get.ts',
    roles: ANY_ROLE,
    scope: { by: 'suggestionId' },
    summary: 'A retrain suggestion: the serving artifact, the reasons, its reports, its status and signature',
    request: { params: DriftSuggestionParams },
    reply: { schema: DriftSuggestionReply, status: { 200: 'the suggestion' } },
  },
  driftSuggestionAccept: {
    id: 'driftSuggestionAccept',
    method: 'POST',
    path: '/v1/drift/suggestions/{suggestionId}/accept',
    entry: 'lambdas/drift-suggestion-accept.ts',
    roles: DECIDERS,
    scope: { by: 'suggestionId' },
    summary: 'Accept an open retrain suggestion (audited as drift.suggestion_accepted); 409 naming status when it is not open',
    request: { params: DriftSuggestionParams, body: DriftDecisionBody },
    reply: decided('accepted'),
  },
  driftSuggestionDismiss: {
    id: 'driftSuggestionDismiss',
    method: 'POST',
    path: '/v1/drift/suggestions/{suggestionId}/dismiss',
    entry: 'lambdas/drift-suggestion-dismiss.ts',
    roles: DECIDERS,
    scope: { by: 'suggestionId' },
    summary:
      'Dismiss an open or accepted retrain suggestion (audited as drift.suggestion_dismissed); 409 naming status when it is dismissed or resolved',
    request: { params: DriftSuggestionParams, body: DriftDecisionBody },
    reply: decided('dismissed'),
  },
} as const satisfies Record<string, RouteSpec>;

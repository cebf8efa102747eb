import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { SpanStatusCode } from '@opentelemetry/api';
import { withRequestSpan } from '../tracing/spans.js';
import type { RouteSpec } from './routes.js';

/**
 * One span per request (`GET /v1/...`, the route's path template): the route id, the method
 * and the status; the handler adds the caller's role and the ids it reads (`annotate`). Never
 * a header, a token or a body. A 5xx marks the span failed; a 4xx is the caller's error.
 */
export function traceRequest(
  route: RouteSpec,
  event: APIGatewayProxyEvent,
  handle: () => Promise<APIGatewayProxyResult>,
): Promise<APIGatewayProxyResult> {
  const attributes = { 'aegis.route': route.id, 'http.request.method': event.httpMethod ?? route.method, 'http.route': route.path };
  return withRequestSpan(`${route.method} ${route.path}`, attributes, async (span) => {
    const result = await handle();
    span.setAttribute('http.response.status_code', result.statusCode);
    if (result.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${result.statusCode}` });
    return result;
  });
}

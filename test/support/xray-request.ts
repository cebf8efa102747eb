/**
 * One request through the Lambda path's X-Ray tracing with the real Powertools Tracer, run
 * as its own process (the X-Ray SDK reads the Lambda environment when it loads): the test
 * sets that environment and the daemon address, and reads the subsegment the SDK sends.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { installXrayTracing } from '../../lib/platform/tracing/xray.js';
import { annotate, idAttributes } from '../../lib/platform/tracing/spans.js';
import { traceRequest } from '../../lib/platform/http/request-span.js';
import { ROUTES } from '../../lib/platform/http/routes.js';

installXrayTracing(new Tracer({ serviceName: 'aegis' }));
const r = await traceRequest(ROUTES.promote, { httpMethod: 'POST' } as never, async () => {
  annotate(idAttributes({ artifactId: 'artifact-1', promotionId: 'promotion-1', modelName: 'ranker' }));
  return { statusCode: 201, body: '{}' };
});
console.log(JSON.stringify({ statusCode: r.statusCode }));

/**
 * The `servingPredict` API function (lib/platform/http/route-functions.ts): servingPredict, and
 * the rollout step's internal warm-up event (LambdaWarmer), which is no API Gateway event: it
 * goes to the serving handler directly, never through the route table.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { WarmUpResult } from '../../lib/platform/ports/serving-warmer.js';
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as servingPredict } from '../serving-predict.js';
import { isWarmUpEvent, type WarmUpEvent } from '../serving-predict.js';

const api = apiFunction('servingPredict', { servingPredict });

export async function handler(event: APIGatewayProxyEvent | WarmUpEvent, context: Context): Promise<APIGatewayProxyResult | WarmUpResult> {
  return isWarmUpEvent(event) ? servingPredict(event, context) : api(event, context);
}

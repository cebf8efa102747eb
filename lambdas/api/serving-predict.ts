/** The `servingPredict` API function (lib/platform/http/route-functions.ts): servingPredict. */
import { apiFunction } from '../../lib/platform/http/route-functions.js';
import { handler as servingPredict } from '../serving-predict.js';

export const handler = apiFunction('servingPredict', { servingPredict });

import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { API_ROUTE_IDS, type ApiRouteId } from '../../lib/infra/api-functions.js';
import { AegisRestApi, type ApiThrottling } from '../../lib/infra/rest-api.js';

/** The REST API alone over stand-in functions: no bundling, no synth of the whole stack. */
function restApi(throttling?: ApiThrottling) {
  const stack = new Stack(new App(), 'api');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  const handlers = Object.fromEntries(API_ROUTE_IDS.map((id) => [id, fn])) as unknown as Record<ApiRouteId, lambda.IFunction>;
  new AegisRestApi(stack, 'Api', { handlers, ...(throttling && { throttling }) });
  return Template.fromStack(stack);
}

const methodSettings = (t: Template) =>
  Object.values(t.findResources('AWS::ApiGateway::Stage'))[0]!.Properties.MethodSettings as Record<string, unknown>[];

describe('AegisRestApi throttling', () => {
  it('takes the stage and public throttles from its props', () => {
    const settings = methodSettings(restApi({ stage: { rateLimit: 200, burstLimit: 400 }, public: { rateLimit: 2, burstLimit: 4 } }));
    expect(settings.find((m) => m.ResourcePath === '/*')).toMatchObject({ ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 });
    const health = settings.find((m) => m.ResourcePath === '/~1healthz');
    expect(health).toMatchObject({ HttpMethod: 'GET', ThrottlingRateLimit: 2, ThrottlingBurstLimit: 4 });
  });

  it('refuses a public throttle above the stage, naming both', () => {
    expect(() => restApi({ stage: { rateLimit: 10, burstLimit: 20 }, public: { rateLimit: 11, burstLimit: 5 } })).toThrow(
      "throttling.public (11/s, burst 5) must not exceed the stage's (10/s, burst 20)",
    );
    expect(() => restApi({ public: { rateLimit: 1, burstLimit: 0 } })).toThrow(
      'throttling.public needs rateLimit > 0 and a whole burstLimit >= 1',
    );
  });
});

/** The rollout step may warm blue-green candidates on the serving function: its name in the environment, invoke on it only. */
import type { Template } from 'aws-cdk-lib/assertions';
import { logicalIdOf } from '../../lib/infra/pin.js';
import { stubProjectRoot, synthAegis, type Synthesized } from './support.js';

type Json = Record<string, any>;
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Every Allow statement with lambda:InvokeFunction of the policies attached to the role `roleId`: their resources. */
function invokeResources(template: Template, roleId: string): unknown[] {
  const out: unknown[] = [];
  for (const p of Object.values(template.findResources('AWS::IAM::Policy')) as Json[]) {
    if (!asList(p.Properties.Roles).some((r: Json) => r.Ref === roleId)) continue;
    for (const s of p.Properties.PolicyDocument.Statement as Json[])
      if (s.Effect === 'Allow' && asList(s.Action).includes('lambda:InvokeFunction')) out.push(...asList(s.Resource));
  }
  return out;
}

describe('blue-green warm-up on AWS (template)', () => {
  let stub: ReturnType<typeof stubProjectRoot>;
  beforeAll(() => {
    stub = stubProjectRoot();
  });
  afterAll(() => stub.cleanup());

  const check = (synth: Synthesized, target: Json) => {
    const resources = synth.template.toJSON().Resources as Record<string, Json>;
    const step = synth.stack.rollouts.rolloutStep;
    expect(resources[logicalIdOf(step.function)]!.Properties.Environment.Variables.AEGIS_SERVING_FUNCTION_NAME).toEqual(target);
    // exactly the target: no `<arn>:*` (every version and alias); beside it only the event dispatcher (its commits wake it)
    const dispatcher = { 'Fn::GetAtt': [logicalIdOf(synth.stack.eventDelivery.dispatcher.jobFunction.function), 'Arn'] };
    expect(invokeResources(synth.template, logicalIdOf(step.role))).toEqual(expect.arrayContaining([target, dispatcher]));
    expect(invokeResources(synth.template, logicalIdOf(step.role))).toHaveLength(2);
    // nothing else of serving's gets the variable, and the serving function is the only function it may invoke
    const serving = synth.stack.apiFunctions.functions.servingPredict;
    expect(resources[logicalIdOf(serving.function)]!.Properties.Environment.Variables.AEGIS_SERVING_FUNCTION_NAME).toBeUndefined();
    expect(JSON.stringify(target)).toContain(logicalIdOf(serving.live ?? serving.function));
  };

  it('gives the rollout step the serving function and invoke on it', () => {
    const synth = synthAegis({ projectRoot: stub.root });
    const fn = synth.stack.apiFunctions.functions.servingPredict.function;
    check(synth, { 'Fn::GetAtt': [logicalIdOf(fn), 'Arn'] });
  });

  it('gives it the live alias when concurrency is provisioned', () => {
    const synth = synthAegis({ projectRoot: stub.root, props: { serving: { reservedConcurrency: 20, provisionedConcurrency: 4 } } });
    const live = synth.stack.apiFunctions.functions.servingPredict.live!;
    expect(live).toBeDefined();
    check(synth, { Ref: logicalIdOf(live) });
  });
});

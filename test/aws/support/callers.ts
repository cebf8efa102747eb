/**
 * What the AWS-mode suites call the world with besides the CLI (cli.ts): the HTTP client as a
 * role of the synthesized role map (SigV4, as API Gateway's IAM authorization checks it), and
 * the migrations custom resource's event as CloudFormation's provider framework sends it.
 */
import { randomBytes } from 'node:crypto';
import { AegisClient } from '../../../lib/clients/http/client.js';
import type { World } from './world.js';

/** The API client signing as a role of the world's role map. */
export function roleClient(world: World, role: string): AegisClient {
  const env = world.as(role).env;
  return new AegisClient({
    baseUrl: world.api.url,
    sigv4: {
      region: env.AWS_REGION!,
      credentials: async () => ({
        accessKeyId: env.AWS_ACCESS_KEY_ID!,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
        sessionToken: env.AWS_SESSION_TOKEN!,
      }),
    },
  });
}

/** Invokes the bundled migrate function with a `Create` or `Update` of the template's migrations custom resource. */
export async function runMigrations<T = { PhysicalResourceId: string; Data: { applied: string } }>(
  world: World,
  requestType: 'Create' | 'Update',
  deployNonce: string,
): Promise<T> {
  const migrate = world.functionId((fn) => /^Migrationsmigrate/.test(fn.logicalId));
  const resource = Object.entries(world.assembly.template.Resources).find(([, r]) => r.Type === 'Custom::AegisMigrations')!;
  return world.fleet.invoke<T>(migrate, {
    RequestType: requestType,
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:framework',
    ResponseURL: 'https://cloudformation-custom-resource-response',
    StackId: `arn:aws:cloudformation:eu-west-1:123456789012:stack/${world.assembly.stackName}/x`,
    RequestId: randomBytes(8).toString('hex'),
    LogicalResourceId: resource[0],
    ResourceType: 'Custom::AegisMigrations',
    ResourceProperties: { DeployNonce: deployNonce },
  });
}

/** The event an EventBridge schedule rule hands its target function. */
export const scheduledEvent = () => ({
  version: '0',
  id: randomBytes(8).toString('hex'),
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: new Date().toISOString(),
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/e2e'],
  detail: {},
});

/** A scheduled function of the template, by logical id prefix: its id and its rule's schedule expression. */
export function scheduledJob(world: World, logicalIdPrefix: string): { job: string; schedule: string } {
  const job = world.functionId((fn) => fn.logicalId.startsWith(logicalIdPrefix));
  const rule = Object.values(world.assembly.template.Resources).find(
    (r) => r.Type === 'AWS::Events::Rule' && JSON.stringify(r.Properties.Targets).includes(job),
  );
  if (!rule) throw new Error(`no schedule rule targets ${job}`);
  return { job, schedule: rule.Properties.ScheduleExpression as string };
}

import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { acknowledge } from './acknowledge.js';

/** The example rules on the stack's bus (disabled) and what they target. */
export interface ExampleRules {
  /** `promotion.rolled_back` → {@link rollbackTopic} */
  readonly rollbackRule: events.Rule;
  /** Subscribe a channel (chat, e-mail, a pager) here, then enable {@link rollbackRule}. */
  readonly rollbackTopic: sns.Topic;
  /** `drift.suggestion` → {@link retrainStarter} */
  readonly retrainRule: events.Rule;
  /** A placeholder (one Pass state) a team replaces with its retraining pipeline's start. */
  readonly retrainStarter: sfn.StateMachine;
}

/**
 * The definition of the placeholder retrain starter: it receives the EventBridge event of a
 * `drift.suggestion` (its `detail` is the signed audit event: model, environment, reasons in
 * `detail.payload`) and passes it on. A team replaces the Pass state with the start of its
 * pipeline (a SageMaker pipeline, a CodeBuild project, a Glue job…) and grants the machine's
 * role what that needs.
 */
export const RETRAIN_STARTER_DEFINITION = {
  Comment:
    'Aegis retrain starter (placeholder): replace the Pass state with the start of your retraining pipeline. Input: the EventBridge event of a drift.suggestion, its detail the signed audit event.',
  StartAt: 'StartRetraining',
  States: {
    StartRetraining: {
      Type: 'Pass',
      Comment: 'placeholder: nothing is retrained until this state is replaced',
      Parameters: { 'suggestion.$': '$.detail', 'eventId.$': '$.detail.eventId', 'subject.$': '$.detail.subject' },
      End: true,
    },
  },
};

/**
 * The example rules of the stack's bus, both DISABLED (`State: DISABLED`): a team enables the one
 * it wants once it wired the target. A canary rollback (`promotion.rolled_back`) to an encrypted,
 * TLS-only SNS topic; a drift suggestion (`drift.suggestion`) to a Standard state machine that
 * starts a retraining (a placeholder, logged and traced like the stack's machines).
 */
export function exampleRules(scope: Construct, props: { bus: events.IEventBus; dataKey: kms.IKey }): ExampleRules {
  const stack = Stack.of(scope);
  const rollbackTopic = new sns.Topic(scope, 'RollbackTopic', {
    displayName: 'Aegis canary rollbacks (example rule, disabled)',
    masterKey: props.dataKey,
    enforceSSL: true,
  });
  // EventBridge publishes to an encrypted topic only if it may use the key (the rule's role is the service's).
  props.dataKey.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'EventBridgePublishesToTheEncryptedRollbackTopic',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
  );
  const rollbackRule = new events.Rule(scope, 'RollbackRule', {
    eventBus: props.bus,
    enabled: false,
    description: 'Example (disabled): a canary rollback (promotion.rolled_back) to the rollback topic; subscribe to it, then enable',
    eventPattern: { source: ['aegis'], detailType: ['promotion.rolled_back'] },
    targets: [new targets.SnsTopic(rollbackTopic)],
  });

  const logGroupName = `/aws/vendedlogs/states/${stack.stackName}-retrain-starter`;
  props.dataKey.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'RetrainStarterExecutionLogs',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnEquals: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: logGroupName,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
  const logGroup = new logs.LogGroup(scope, 'RetrainStarterLogs', {
    logGroupName,
    encryptionKey: props.dataKey,
    retention: logs.RetentionDays.ONE_YEAR,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const retrainStarter = new sfn.StateMachine(scope, 'RetrainStarter', {
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(RETRAIN_STARTER_DEFINITION)),
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    tracingEnabled: true,
  });
  acknowledge(retrainStarter, {
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Step Functions needs the CloudWatch Logs delivery actions (logs:CreateLogDelivery and friends) and X-Ray trace writes, none of which support resource-level permissions.',
  });
  const retrainRule = new events.Rule(scope, 'RetrainRule', {
    eventBus: props.bus,
    enabled: false,
    description:
      'Example (disabled): a drift suggestion (drift.suggestion) starts the retrain starter; replace its Pass state, then enable',
    eventPattern: { source: ['aegis'], detailType: ['drift.suggestion'] },
    targets: [new targets.SfnStateMachine(retrainStarter)],
  });
  return { rollbackRule, rollbackTopic, retrainRule, retrainStarter };
}

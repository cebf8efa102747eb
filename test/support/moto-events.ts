/**
 * EventBridge and SQS on moto_server, for the tests: a bus with a rule whose target is an SQS
 * queue, so what reached the bus can be read back (as a consumer's rule would route it). moto
 * takes the service and region from the credential scope of the Authorization header and checks
 * no signature; EventBridge goes through its SDK client, SQS (no SDK client here) as JSON.
 */
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export const motoEventBridge = (endpoint: string, region: string) => new EventBridgeClient({ endpoint, region, credentials });

async function sqs<T>(endpoint: string, region: string, action: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${action}`,
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20240101/${region}/sqs/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`SQS ${action} failed: HTTP ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** An EventBridge event as a rule delivers it to its target. */
export interface DeliveredEvent {
  source: string;
  'detail-type': string;
  time: string;
  detail: Record<string, unknown>;
}

export interface BusTap {
  /** every event delivered so far (each read once from the queue) */
  drain(): Promise<DeliveredEvent[]>;
}

/**
 * Routes what reaches `busName` (created unless `create` is false) with `source: aegis` to a new
 * SQS queue and reads it back.
 */
export async function tapBus(endpoint: string, region: string, busName: string, opts: { create?: boolean } = {}): Promise<BusTap> {
  const eb = motoEventBridge(endpoint, region);
  if (opts.create !== false) await eb.send(new CreateEventBusCommand({ Name: busName }));
  const queueName = `tap-${busName}-${Date.now()}`.slice(0, 80);
  const { QueueUrl } = await sqs<{ QueueUrl: string }>(endpoint, region, 'CreateQueue', { QueueName: queueName });
  const { Attributes } = await sqs<{ Attributes: { QueueArn: string } }>(endpoint, region, 'GetQueueAttributes', {
    QueueUrl,
    AttributeNames: ['QueueArn'],
  });
  await eb.send(
    new PutRuleCommand({ Name: `${queueName}-rule`, EventBusName: busName, EventPattern: JSON.stringify({ source: ['aegis'] }) }),
  );
  await eb.send(
    new PutTargetsCommand({ Rule: `${queueName}-rule`, EventBusName: busName, Targets: [{ Id: 'queue', Arn: Attributes.QueueArn }] }),
  );
  return {
    async drain() {
      const out: DeliveredEvent[] = [];
      for (;;) {
        const { Messages = [] } = await sqs<{ Messages?: { Body: string; ReceiptHandle: string }[] }>(endpoint, region, 'ReceiveMessage', {
          QueueUrl,
          MaxNumberOfMessages: 10,
        });
        if (Messages.length === 0) return out;
        for (const m of Messages) {
          out.push(JSON.parse(m.Body) as DeliveredEvent);
          await sqs(endpoint, region, 'DeleteMessage', { QueueUrl, ReceiptHandle: m.ReceiptHandle });
        }
      }
    },
  };
}

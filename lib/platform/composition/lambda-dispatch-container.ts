import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { EventBridgePublisher } from '../adapters/event-delivery/eventbridge.js';
import { buildLambdaContainer, captureClient } from './lambda.js';
import { loadCheckedConfig } from '../config.js';
import { lazyContainer } from '../http/container-provider.js';

/**
 * {@link lambdaContainer} with the stack's event bus (`AEGIS_EVENT_BUS_NAME`), for the event
 * dispatcher function: a separate module so that only its bundle carries the EventBridge client
 * (IAM lets only its role PutEvents on the bus).
 */
export const dispatchLambdaContainer = lazyContainer(() =>
  buildLambdaContainer(loadCheckedConfig(), {
    eventBus: (config) =>
      config.events.busName
        ? new EventBridgePublisher({ busName: config.events.busName, client: captureClient(new EventBridgeClient({})) })
        : undefined,
  }),
);

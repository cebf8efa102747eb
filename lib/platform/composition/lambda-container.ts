import { buildLambdaContainer } from './lambda.js';
import { loadCheckedConfig } from '../config.js';
import { lazyContainer } from '../http/container-provider.js';

/** The composition root of a Lambda container: config from the environment, AWS adapters, IAM callers. */
export const lambdaContainer = lazyContainer(() => buildLambdaContainer(loadCheckedConfig()));

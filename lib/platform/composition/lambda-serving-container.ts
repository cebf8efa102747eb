import { buildLambdaContainer } from './lambda.js';
import { loadCheckedConfig } from '../config.js';
import { lazyContainer } from '../http/container-provider.js';
import { modelRuntimes } from './runtimes.js';

/**
 * {@link lambdaContainer} with every model runtime, for the serving function: a separate
 * module so that only its bundle imports onnxruntime-node (left external by esbuild and
 * shipped trimmed to linux/x64 in that bundle's `node_modules`, see `ROUTE_PACKAGES`).
 */
export const servingLambdaContainer = lazyContainer(() => buildLambdaContainer(loadCheckedConfig(), { runtimes: modelRuntimes }));

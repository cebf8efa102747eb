import { buildLambdaContainer } from './lambda.js';
import { loadCheckedConfig } from '../config.js';
import { lazyContainer } from '../http/container-provider.js';

/**
 * {@link lambdaContainer} with SentinelNet, for the routes that decide promotions: a
 * separate module so that only their bundles carry the Cedar engine. (esbuild inlines the
 * `import()`; the local server, which imports every route, loads Cedar only when it decides.)
 */
export const policyLambdaContainer = lazyContainer(() =>
  buildLambdaContainer(loadCheckedConfig(), {
    policy: async (config, clock) => (await import('./policy.js')).openPolicy(config, clock),
  }),
);

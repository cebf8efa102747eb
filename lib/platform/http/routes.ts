import type * as z from 'zod';
import { AUDIT_ROUTES } from './routes/audit.js';
import { DATASET_ROUTES } from './routes/datasets.js';
import { DRIFT_ROUTES } from './routes/drift.js';
import { EVENT_ROUTES } from './routes/events.js';
import { KEY_ROUTES } from './routes/keys.js';
import { META_ROUTES } from './routes/meta.js';
import { PROMOTION_ROUTES } from './routes/promotions.js';
import { QUARANTINE_ROUTES } from './routes/quarantine.js';
import { REGISTRY_ROUTES } from './routes/registry.js';
import { SERVING_ROUTES } from './routes/serving.js';
import type { RouteSpec } from './routes/spec.js';

export type { ReplyStatuses, RouteSpec } from './routes/spec.js';
export { bodyLimit } from './routes/spec.js';

/** The paths a route answers on: its own, then its deprecated aliases. */
export const routePaths = (route: RouteSpec): { path: string; deprecated: boolean }[] => [
  { path: route.path, deprecated: false },
  ...(route.deprecatedPaths ?? []).map((path) => ({ path, deprecated: true })),
];

/**
 * Every API route, with the schemas it parses and the one it replies with (and under which
 * statuses): the local server routes by this table, the CDK stack builds API Gateway resources
 * and the Lambda functions serving them (`route-functions.ts`) from it, the handlers parse and answer by it, the tests check every
 * reply against it, and /openapi.json documents it. One file per area under `routes/`.
 */
export const ROUTES = {
  ...META_ROUTES,
  ...KEY_ROUTES,
  ...REGISTRY_ROUTES,
  ...DATASET_ROUTES,
  ...PROMOTION_ROUTES,
  ...QUARANTINE_ROUTES,
  ...AUDIT_ROUTES,
  ...SERVING_ROUTES,
  ...DRIFT_ROUTES,
  ...EVENT_ROUTES,
};

export type RouteId = keyof typeof ROUTES;

/** The body a route's handler answers with (before serialisation), from its reply schema. */
export type ReplyBody<R extends RouteSpec> = z.input<R['reply']['schema']>;

/** The statuses a route's handler may answer its reply with. */
export type ReplyStatus<R extends RouteSpec> = Extract<keyof R['reply']['status'], number>;

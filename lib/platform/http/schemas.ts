/**
 * The wire: request and reply schemas of every route, by area. The handlers parse requests
 * with them, the route table names each route's reply schema, the tests check every reply
 * against it, /openapi.json documents them (each export a named component), and clients take
 * their reply types from them (`import type { ArtifactReply } from '…/schemas.js'`).
 */
export * from './schemas/errors.js';
export * from './schemas/meta.js';
export * from './schemas/registry.js';
export * from './schemas/datasets.js';
export * from './schemas/keys.js';
export * from './schemas/promotions.js';
export * from './schemas/audit.js';
export * from './schemas/quarantine.js';
export * from './schemas/serving.js';
export * from './schemas/drift.js';
export * from './schemas/events.js';

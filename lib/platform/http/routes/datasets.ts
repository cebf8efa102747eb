import {
  ArtifactIdParams,
  BundleReply,
  DatasetCreateBody,
  DatasetCreateReply,
  DatasetParams,
  DatasetReply,
  LineageReply,
} from '../schemas.js';
import { ANY_ROLE, type RouteSpec } from './spec.js';

export const DATASET_ROUTES = {
  datasetsCreate: {
    id: 'datasetsCreate',
    method: 'POST',
    path: '/v1/datasets',
    entry: 'lambdas/datasets-create.ts',
    roles: ['publisher', 'admin'],
    summary: 'Register a dataset version (id, version, checksum, uri, schema); immutable',
    request: { body: DatasetCreateBody },
    reply: { schema: DatasetCreateReply, status: { 201: 'registered', 200: 'a replay of the same dataset version' } },
  },
  datasetGet: {
    id: 'datasetGet',
    method: 'GET',
    path: '/v1/datasets/{id}/versions/{version}',
    entry: 'lambdas/dataset-get.ts',
    roles: ANY_ROLE,
    summary: 'Get a registered dataset version',
    request: { params: DatasetParams },
    reply: { schema: DatasetReply, status: { 200: 'the dataset version' } },
  },
  lineageGet: {
    id: 'lineageGet',
    method: 'GET',
    path: '/v1/lineage/{artifactId}',
    entry: 'lambdas/lineage-get.ts',
    roles: ANY_ROLE,
    summary: 'Lineage of an artifact: manifest, datasets, code, container',
    request: { params: ArtifactIdParams },
    reply: { schema: LineageReply, status: { 200: 'the lineage graph' } },
  },
  lineageBundle: {
    id: 'lineageBundle',
    method: 'GET',
    path: '/v1/lineage/{artifactId}/bundle',
    entry: 'lambdas/lineage-bundle.ts',
    roles: ANY_ROLE,
    summary: 'A signed, self-contained lineage bundle for offline verification',
    request: { params: ArtifactIdParams },
    reply: { schema: BundleReply, status: { 200: 'the bundle files' } },
  },
} as const satisfies Record<string, RouteSpec>;

import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { AegisFunction } from './aegis-function.js';

/** The serving function's cache of verified, unpacked artifacts in `/tmp` (`AEGIS_SERVING_CACHE_MB`). */
export const SERVING_CACHE_MB = 512;
/** The serving function's `/tmp`: the cache, and as much again for anything else that writes there. */
export const SERVING_EPHEMERAL_STORAGE_MB = 2 * SERVING_CACHE_MB;

/**
 * What the serving function keeps beyond the database: its sampled inputs in the drift bucket
 * (`DRIFT_S3_BUCKET`, set with the put-only grant `ROUTE_ACCESS.servingPredict.driftInputs`: only
 * the functions granted part of the drift bucket get the variable), and the artifacts it verified, unpacked in its own `/tmp`
 * within the cache budget (ephemeral storage sized for it). Outputs the bucket's name.
 *
 * @example
 * configureServingStorage(functions.servingPredict, storage.driftBucket, 14);
 */
export function configureServingStorage(serving: AegisFunction, driftBucket: s3.IBucket, retentionDays: number): void {
  serving.function.addEnvironment('AEGIS_SERVING_CACHE_MB', String(SERVING_CACHE_MB));
  (serving.function.node.defaultChild as CfnFunction).ephemeralStorage = { size: SERVING_EPHEMERAL_STORAGE_MB };
  new CfnOutput(Stack.of(serving), 'DriftBucketName', {
    value: driftBucket.bucketName,
    description: `Serving's sampled inputs for drift detection (serving-inputs/), expired after ${retentionDays} days`,
  });
}
